"""Booking throughput and latency through the HTTP API on a real PostgreSQL.

Prints, for 1k, 10k and 100k existing reservations, bookings per second and p50/p99 latency at
1, 8 and 32 concurrent clients; the API process's peak memory; and, on one random request
stream, the GPU-hours the exact sweep accepts versus a plain sum of overlaps.

The client is Python threads with http.client on the same 2-core machine as the server and
the database, so absolute figures understate what the server does alone.

    .venv/bin/python bench/booking.py [--sizes 1000,10000,100000] [--requests 400]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from berth.config import load_pool_file
from berth.domain.capacity import Booking, fits
from berth.store import bootstrap, tokens, users
from berth.store.db import Database
from berth.store.embedded import running

NODES, GPUS_PER_NODE = 100, 8
SPAN_DAYS = 90

POOL_FILE = f"""
pools:
  - name: bench
    nodes:
{
    "".join(
        f'''      - name: node-{i:03d}
        cpu: 256
        memory: 2Ti
        storage_class: local
        gpus: [{", ".join(f"{{index: {g}, model: H100, memory: 80Gi, replicas: 1}}" for g in range(GPUS_PER_NODE))}]
'''
        for i in range(NODES)
    )
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_time() -> datetime:
    return (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )


def seed(db: Database, target: int, owner_id: int) -> None:
    """Top the live reservations up to `target` with random 1-8 h windows over the span."""
    with db.transaction() as tx:
        have = int(tx.execute(text("SELECT count(*) FROM reservations")).scalar() or 0)
        if have >= target:
            return
        tx.execute(
            text(
                """
                INSERT INTO reservations (id, pool, owner_id, start_at, end_at, gpu_kind, gpu_count,
                    mode, cpu_millicores, memory_bytes, status)
                SELECT gen_random_uuid(), 'bench', :owner, s, s + (1 + floor(random() * 8)) * interval '1 hour',
                       'gpu', 1, 'inference', 1000, 1073741824, 'APPROVED'
                FROM (SELECT :base + floor(random() * :slots) * interval '15 minutes' AS s
                      FROM generate_series(1, :n)) q
                """
            ),
            {"owner": owner_id, "base": base_time(), "slots": SPAN_DAYS * 96, "n": target - have},
        )
        tx.execute(text("ANALYZE reservations"))


def request_body(rng: random.Random) -> bytes:
    start = base_time() + timedelta(minutes=15 * rng.randrange(SPAN_DAYS * 96))
    end = start + timedelta(hours=rng.randrange(1, 5))
    body = {
        "pool": "bench",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "gpu": {"kind": "gpu", "count": rng.randrange(1, 3)},
        "cpu": 1,
        "memory": "1Gi",
        "mode": "inference",
    }
    return json.dumps(body).encode()


def run_load(port: int, token: str, clients: int, total: int, seed_: int) -> dict[str, float]:
    rng = random.Random(seed_)
    bodies = [request_body(rng) for _ in range(total)]
    latencies: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    local = threading.local()

    def one(body: bytes) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t0 = time.perf_counter()
        conn.request(
            "POST",
            "/api/v1/reservations",
            body,
            {"content-type": "application/json", "authorization": f"Bearer {token}"},
        )
        resp = conn.getresponse()
        resp.read()
        dt = time.perf_counter() - t0
        with lock:
            latencies.append(dt)
            codes[resp.status] = codes.get(resp.status, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        list(ex.map(one, bodies))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": total / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "accepted": codes.get(201, 0),
        "refused": codes.get(409, 0),
        "other": sum(v for k, v in codes.items() if k not in (201, 409)),
    }


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sweep_vs_plain_sum(n: int = 4000, capacity: int = 8, seed_: int = 1) -> tuple[float, float]:
    """GPU-hours accepted from one random stream by the exact sweep and by a plain sum."""
    rng = random.Random(seed_)
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    stream = []
    for _ in range(n):
        start = t0 + timedelta(hours=rng.randrange(0, 24 * 14))
        stream.append(
            Booking(
                start, start + timedelta(hours=rng.randrange(1, 9)), {"gpu": rng.randrange(1, 3)}
            )
        )
    exact: list[Booking] = []
    plain: list[Booking] = []
    for b in stream:
        if fits({"gpu": capacity}, exact, b) is None:
            exact.append(b)
        overlapping = sum(x.demand["gpu"] for x in plain if x.start < b.end and b.start < x.end)
        if overlapping + b.demand["gpu"] <= capacity:
            plain.append(b)

    def hours(bs: list[Booking]) -> float:
        return sum(x.demand["gpu"] * (x.end - x.start).total_seconds() / 3600 for x in bs)

    return hours(exact), hours(plain)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--requests", type=int, default=400, help="booking requests per measurement")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    clients = [int(c) for c in args.clients.split(",")]

    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        pool_path = Path(tmp) / "pools.yaml"
        pool_path.write_text(POOL_FILE)
        with running(Path(tmp) / "pgdata") as url:
            db = Database(url)
            bootstrap.prepare(db, load_pool_file(pool_path))
            with db.transaction() as tx:
                # a plain user, so every booking also runs the per-user limit query
                bencher = users.create(tx, "bench", "bench-password", "user", actor="bench")
                token, _ = tokens.issue(
                    tx,
                    users.principal(bencher),
                    kind="api",
                    name="bench",
                    lifetime=timedelta(days=1),
                    now=datetime.now(UTC),
                )
            port = free_port()
            env = {
                **os.environ,
                "BERTH_DATABASE_URL": url,
                "BERTH_POOL_FILE": str(pool_path),
                "BERTH_HORIZON_DAYS": str(SPAN_DAYS + 30),
                "BERTH_MAX_CONCURRENT_PER_USER": str(10**9),
                "BERTH_DATA_DIR": tmp,
            }
            server = subprocess.Popen(
                [str(Path(sys.executable).parent / "berth"), "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                deadline = time.time() + 60
                while time.time() < deadline:
                    try:
                        http.client.HTTPConnection("127.0.0.1", port, timeout=1).request(
                            "GET", "/healthz"
                        )
                        break
                    except OSError:
                        time.sleep(0.2)
                print(
                    f"pool: {NODES} nodes x {GPUS_PER_NODE} GPUs; requests of 1-2 GPUs for 1-4 h "
                    f"over {SPAN_DAYS} days; {args.requests} requests per row"
                )
                print(
                    f"{'existing':>9} {'clients':>7} {'book/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
                    f"{'accepted':>8} {'refused':>7} {'other':>5}"
                )
                for size in sizes:
                    seed(db, size, bencher.id)
                    for c in clients:
                        r = run_load(port, token, c, args.requests, seed_=size + c)
                        print(
                            f"{size:>9} {c:>7} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
                            f"{r['accepted']:>8} {r['refused']:>7} {r['other']:>5}",
                            flush=True,
                        )
                print(f"API process peak RSS: {peak_rss_mib(server.pid):.0f} MiB")
            finally:
                server.terminate()
                server.wait(30)
                db.dispose()
    exact, plain = sweep_vs_plain_sum()
    print(
        f"one random stream (4000 requests, capacity 8 GPUs, 14 days): GPU-hours accepted by the "
        f"exact sweep {exact:.0f}, by a plain sum of overlaps {plain:.0f} "
        f"(+{100 * (exact / plain - 1):.1f}% with the sweep)"
    )


if __name__ == "__main__":
    main()
