"""Cache agent staging figures: throughput against a plain `curl` of the same files from the
same local server, sha256 speed alone, and download → published for a 5 GB artifact.

All on loopback: one `berth.cache.artifact_server` (Python, threaded) serves files derived
from a 1 MiB block (`DerivedBlob`: nothing large in memory, every block different). The agent
path is the real one: `Agent.stage` (Range-capable GET, streaming sha256 and size check,
fsync, publish by rename). `curl` writes the same bytes to a file and checks nothing. The
server is shared, so the ratio compares the clients; absolute figures are bounded by the
Python server and the 2-core machine (shared with other work).

Booking → staged: measured from the moment the plan names the model (what a booking makes the
portal answer; the portal's own request time is not included) to the agent's report `ready`,
through the real loop (poll every `--poll` s, admission, download, verify, publish, report).

    .venv/bin/python bench/cache.py [--files 3] [--file-mib 256] [--big-gib 5] [--no-big]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from berth.cache.agent import Agent, AgentConfig
from berth.cache.artifact_server import ArtifactHttpServer, Blob, DerivedBlob
from berth.cache.fetch import Fetcher
from berth.domain.cache_protocol import NodeReport, Plan, StageItem
from berth.domain.catalog import HttpSource, Model, ModelFile, ModelFormat

MiB = 1 << 20
BLOCK = hashlib.shake_256(b"berth-bench").digest(MiB)


class NoPortal:
    """The portal's side in-process: a plan to hand out, the time the first `ready` came."""

    def __init__(self) -> None:
        self.current = Plan("bench")
        self.ready_at: float | None = None

    def plan(self, node: str) -> Plan:
        return self.current

    def report(self, node: str, report: NodeReport) -> None:
        if self.ready_at is None and any(m.state == "ready" for m in report.models):
            self.ready_at = time.perf_counter()


def booked_to_staged(model: Model, root: Path, poll: float) -> float:
    """Seconds from the plan naming `model` (what a booking makes the portal answer) to the
    agent's report of it `ready`, with the real loop polling every `poll` seconds."""
    portal = NoPortal()
    with httpx.Client(trust_env=False, timeout=60) as client:
        config = AgentConfig(
            "bench", root, 1 << 50, 1 << 50, 1 << 50, concurrency=1, poll=poll, report_every=poll
        )
        agent = Agent(config, portal, Fetcher(client, env={}), log=lambda _l: None)
        loop = threading.Thread(target=agent.run)
        loop.start()
        time.sleep(poll / 2)  # the booking lands at a random point of a poll interval
        began = time.perf_counter()
        portal.current = Plan(
            "bench", (StageItem(model.id, datetime.now(UTC)),), (model.id,), (model,)
        )
        while portal.ready_at is None:
            time.sleep(0.05)
        agent.request_stop()
        loop.join()
    return portal.ready_at - began


def sha256_of(blob: Blob) -> str:
    h = hashlib.sha256()
    offset = 0
    while offset < blob.size:
        piece = blob.read(offset, 8 * MiB)
        h.update(piece)
        offset += len(piece)
    return h.hexdigest()


def serve(blobs: dict[str, Blob]) -> ArtifactHttpServer:
    server = ArtifactHttpServer(("127.0.0.1", 0), blobs.get)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def stage(model: Model, root: Path) -> float:
    """Seconds from the first request to the published tree."""
    with httpx.Client(trust_env=False, timeout=60) as client:
        config = AgentConfig("bench", root, 1 << 50, 1 << 50, 1 << 50, concurrency=1)
        agent = Agent(config, NoPortal(), Fetcher(client, env={}), log=lambda _l: None)
        agent.start()
        began = time.perf_counter()
        agent.stage(model).result()
        elapsed = time.perf_counter() - began
        agent.executor.shutdown()
    tree = root / "cache" / "models" / model.id
    assert all((tree / f.path).stat().st_size == f.size for f in model.files), "not published"
    return elapsed


def curl(urls: list[str], out: Path) -> tuple[float, float]:
    """Seconds for curl to write the files, and then to fsync them too (the agent must)."""
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    for i, url in enumerate(urls):
        subprocess.run(["curl", "-sf", "--noproxy", "*", "-o", str(out / f"f{i}"), url], check=True)
    fetched = time.perf_counter() - began
    for i in range(len(urls)):
        fd = os.open(out / f"f{i}", os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    return fetched, time.perf_counter() - began


def hash_rate(total: int = 1024 * MiB) -> float:
    data = BLOCK * 64
    h = hashlib.sha256()
    began = time.perf_counter()
    for _ in range(total // len(data)):
        h.update(data)
    return total / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--file-mib", type=int, default=256)
    parser.add_argument("--big-gib", type=float, default=5.0)
    parser.add_argument("--no-big", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--poll", type=float, default=5.0)
    args = parser.parse_args()

    rows: list[tuple[str, str]] = []
    sha = hash_rate()
    rows.append(("sha256 alone (1 GiB in memory)", f"{sha / MiB:,.0f} MiB/s"))

    size = args.file_mib * MiB
    blobs: dict[str, Blob] = {
        f"m/f{i}.bin": DerivedBlob(hashlib.sha256(str(i).encode()).digest() + BLOCK[32:], size)
        for i in range(args.files)
    }
    files = tuple(
        ModelFile(f"f{i}.bin", size, sha256_of(blobs[f"m/f{i}.bin"])) for i in range(args.files)
    )
    server = serve(blobs)
    model = Model("m", ModelFormat.HUGGINGFACE, files, (HttpSource(f"{server.url}/m"),))
    total = size * args.files
    agent_times, curl_times, synced_times = [], [], []
    work = Path(tempfile.mkdtemp(prefix="berth-bench-cache-"))
    try:
        for r in range(args.rounds):
            fetched, synced = curl([f"{server.url}/m/{f.path}" for f in files], work / f"curl{r}")
            curl_times.append(fetched)
            synced_times.append(synced)
            shutil.rmtree(work / f"curl{r}")
            agent_times.append(stage(model, work / f"agent{r}"))
            shutil.rmtree(work / f"agent{r}")
        a, c, cs = min(agent_times), min(curl_times), min(synced_times)
        rows.append(
            (
                f"curl, {args.files} x {args.file_mib} MiB (best of {args.rounds})",
                f"{total / c / MiB:,.0f} MiB/s",
            )
        )
        rows.append(
            (
                f"agent stage → published, same files (best of {args.rounds})",
                f"{total / a / MiB:,.0f} MiB/s",
            )
        )
        rows.append(("curl, then fsync of its files", f"{total / cs / MiB:,.0f} MiB/s"))
        rows.append(("agent / curl throughput", f"{c / a:.2f}"))
        rows.append(("agent / (curl + fsync) throughput", f"{cs / a:.2f}"))
        rows.append(("sha256 share of the agent's time (estimate)", f"{total / sha / a:.0%}"))

        if not args.no_big:
            big_size = int(args.big_gib * (1 << 30))
            big = DerivedBlob(BLOCK, big_size)
            began = time.perf_counter()
            digest = sha256_of(big)
            setup = time.perf_counter() - began
            server.lookup = {"big/weights.bin": big}.get  # type: ignore[method-assign]
            big_model = Model(
                "big",
                ModelFormat.HUGGINGFACE,
                (ModelFile("weights.bin", big_size, digest),),
                (HttpSource(f"{server.url}/big"),),
            )
            t = stage(big_model, work / "big")
            shutil.rmtree(work / "big")
            rows.append(
                (
                    f"{args.big_gib:g} GiB artifact: download → published",
                    f"{t:,.1f} s ({big_size / t / MiB:,.0f} MiB/s)",
                )
            )
            t = booked_to_staged(big_model, work / "big", args.poll)
            shutil.rmtree(work / "big")
            rows.append(
                (
                    f"{args.big_gib:g} GiB artifact: plan names it → reported ready "
                    f"(poll {args.poll:g} s)",
                    f"{t:,.1f} s",
                )
            )
            rows.append(("  (its sha256 computed for the catalog, setup)", f"{setup:,.1f} s"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        server.shutdown()
        server.server_close()

    width = max(len(k) for k, _v in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
