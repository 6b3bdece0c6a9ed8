"""The real `berth cache-agent` process: `kill -9` at random points of a download, restarted,
converges, and no partial tree is ever visible under cache/ (watched the whole time); SIGTERM
stops it cleanly with the partial files kept."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from berth.cache.artifact_server import ArtifactHttpServer

from .conftest import Files, ServerFactory, StandInPortal, check_cache, model_at

MiB = 1 << 20
BERTH = str(Path(sys.executable).parent / "berth")


def start_agent(
    root: Path, portal: StandInPortal, token: Path, nodes: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    """`berth cache-agent` for the portal's node (or `nodes`), staging only."""
    node_args = [arg for node in nodes or (portal.node,) for arg in ("--node", node)]
    return subprocess.Popen(
        [
            BERTH,
            "cache-agent",
            *node_args,
            "--no-provision",
            "--root",
            str(root),
            "--api",
            portal.url,
            "--token-file",
            str(token),
            "--capacity",
            "1Gi",
            "--poll",
            "0.2",
            "--report-every",
            "0.2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"},
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, list[str], Callable[[dict], None]]]:
    """A root whose cache/ is checked continuously; `start(models)` begins the watch."""
    root = tmp_path / "root"
    problems: list[str] = []
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(models: dict) -> None:
        def watch() -> None:
            while not stop.is_set():
                try:
                    check_cache(root, models)
                except FileNotFoundError:
                    continue  # a tree moved to the trash between listing and reading
                except AssertionError as exc:
                    problems.append(str(exc))
                time.sleep(0.002)

        t = threading.Thread(target=watch)
        t.start()
        threads.append(t)

    yield root, problems, start
    stop.set()
    for t in threads:
        t.join()


def _downloading(portal: StandInPortal) -> bool:
    return bool(portal.reports) and any(
        m["state"] == "downloading" and m["downloaded_bytes"] > 0
        for m in portal.reports[-1]["models"]  # type: ignore[union-attr]
    )


def _all_ready(portal: StandInPortal, ids: list[str]) -> bool:
    if not portal.reports:
        return False
    last = portal.last()
    return all(last.get(m, {}).get("state") == "ready" for m in ids)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_at_any_point_then_restart_converges_without_a_visible_partial_tree(
    seed: int,
    files: Files,
    serve: ServerFactory,
    portal: StandInPortal,
    tmp_path: Path,
    watched: tuple[Path, list[str], Callable[[dict], None]],
) -> None:
    rng = random.Random(seed)
    root, problems, watch = watched
    server: ArtifactHttpServer = serve(rate=3 * MiB)
    models = {
        m: model_at(m, files.add_model(m, [rng.randint(1, 3 * MiB) for _ in range(3)], rng), server)
        for m in ("x", "y", "z")
    }
    portal.set_plan(list(models.values()))
    token = tmp_path / "token"
    token.write_text(portal.token)
    watch(models)
    for _kill in range(3):
        agent = start_agent(root, portal, token)
        try:
            portal.reports.clear()
            wait_for(lambda: _downloading(portal) or _all_ready(portal, list(models)), "a download")
            time.sleep(rng.uniform(0.0, 0.6))
        finally:
            agent.send_signal(signal.SIGKILL)
            agent.wait()
    agent = start_agent(root, portal, token)
    try:
        wait_for(lambda: _all_ready(portal, list(models)), "every model ready")
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0
    assert problems == []
    check_cache(root, models)
    assert sorted(os.listdir(root / "cache" / "models")) == ["x", "y", "z"]
    assert os.listdir(root / "staging" / "models") == []
    total = sum(m.size for m in models.values())
    # resumed, not restarted: what was lost is only what was in flight at each kill
    assert any(r is not None for _p, r in server.requests)
    assert sum(server.sent.values()) < total + 3 * 2 * 4 * MiB


def test_sigterm_stops_cleanly_and_keeps_the_partial_files(
    files: Files, serve: ServerFactory, portal: StandInPortal, tmp_path: Path
) -> None:
    server = serve(rate=1 * MiB)
    model = model_at("x", files.add_model("x", [8 * MiB], random.Random(9)), server)
    portal.set_plan([model])
    token = tmp_path / "token"
    token.write_text(portal.token)
    root = tmp_path / "root"
    agent = start_agent(root, portal, token)
    try:
        wait_for(lambda: _downloading(portal), "a download")
    finally:
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(timeout=60)
    assert code == 0
    last = portal.last()["x"]
    assert last["state"] == "queued"
    assert last["detail"] == "stopped"
    partial = next((root / "staging" / "models").iterdir()) / "partial" / "f0.bin"
    assert 0 < partial.stat().st_size < 8 * MiB
    assert not (root / "cache" / "models" / "x").exists()


def test_one_process_serves_several_nodes_each_with_its_root_and_credential(
    files: Files, serve: ServerFactory, portal: StandInPortal, tmp_path: Path
) -> None:
    """As the sim and `make run` run it: `--root` and `--token-file` per node."""
    server = serve()
    model = model_at("x", files.add_model("x", [MiB, 10], random.Random(10)), server)
    portal.add_node("gpu-1", "other-token")
    portal.set_plan([model])
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tokens / "gpu-0").write_text(portal.token)
    (tokens / "gpu-1").write_text("other-token")
    agent = start_agent(tmp_path / "nodes", portal, tokens / "{node}", ("gpu-0", "gpu-1"))

    def both_ready() -> bool:
        nodes = {r["node"] for r in portal.reports}
        return nodes == {"gpu-0", "gpu-1"} and all(
            portal.last(n).get("x", {}).get("state") == "ready" for n in nodes
        )

    try:
        wait_for(both_ready, "both nodes ready")
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0
    for node in ("gpu-0", "gpu-1"):
        check_cache(tmp_path / "nodes" / node, {"x": model})
        assert (tmp_path / "nodes" / node / "cache" / "models" / "x").is_dir()
    assert portal.refused == 0
