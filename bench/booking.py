"""Booking throughput and latency through the HTTP API on a real PostgreSQL, beside Slurm.

With 100k existing reservations (and `--sizes` for more), `berth serve` (its default number of
workers, or `--workers`) is loaded with:

- wrk (the Debian package `wrk`: `apt-get install -y wrk`) and bench/wrk/berth.lua, random
  valid bookings (32 users' bearer tokens, two pools, their kinds, 1-4 h windows on the
  15-minute grid anywhere in 90 days) from 8 and 32 connections: bookings/s, p50/p99;
- the refusal path: wrk, 8 connections, bookings into a pool that is full for its first days,
  each answered 409 with the short resource and a suggested slot;
- the Python client (threads with http.client, 1/8/32 clients, `--requests` each), kept for
  its full latency distribution;
- Slurm 22.05's `scontrol create reservation` in the same run, sequentially and from 8
  threads (bench/slurm.py; `--no-slurm` to skip), and Berth's rate over Slurm's;
- the memory of the API's processes; and, on one random request stream, the GPU-hours the
  exact sweep accepts versus a plain sum of overlaps.

Server, database and load generator share this machine; the load average is printed with the
figures.

    .venv/bin/python bench/booking.py [--sizes 100000] [--seconds 10] [--workers N]
"""

from __future__ import annotations

import argparse
import http.client
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import slurm
from berth.domain.capacity import Booking, fits
from common import (
    BOOKABLE,
    MAX_HOURS,
    TIGHT_FULL_DAYS,
    Harness,
    harness,
    load_average,
    percentile,
    random_booking,
)

HEADER = (
    f"{'load':<26} {'conns':>5} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'201':>6} {'409':>6} {'409+slot':>8} {'other':>5} {'API cpu ms':>10} {'PG cpu ms':>9}"
)


Row = tuple[str, int, dict[str, float]]


def row(label: str, conns: int, r: dict[str, float]) -> str:
    return (
        f"{label:<26} {conns:>5} {r['rps']:>7.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
        f"{r.get('201', 0):>6.0f} {r.get('409', 0):>6.0f} {r.get('409s', 0):>8.0f} "
        f"{r.get('other', 0):>5.0f} {_ms(r, 'api_cpu_ms'):>10} {_ms(r, 'db_cpu_ms'):>9}"
    )


def _ms(r: dict[str, float], key: str) -> str:
    return f"{r[key]:.2f}" if key in r else "-"


def python_load(h: Harness, clients: int, total: int, seed_: int) -> dict[str, float]:
    """`total` random bookings from `clients` threads, one keep-alive connection each."""
    rng = random.Random(seed_)
    bodies = [(random_booking(rng), rng.choice(h.tokens)) for _ in range(total)]
    latencies: list[float] = []
    codes: dict[str, float] = {}
    lock = threading.Lock()
    local = threading.local()

    def one(item: tuple[bytes, str]) -> None:
        body, token = item
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=60)
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
        key = str(resp.status) if resp.status in (201, 409) else "other"
        with lock:
            latencies.append(dt)
            codes[key] = codes.get(key, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        list(ex.map(one, bodies))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": total / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        **codes,
    }


def wrk_counts(r: dict[str, Any]) -> dict[str, float]:
    status: dict[str, float] = r["status"]
    out = {k: v for k, v in r.items() if k != "status"}
    out["201"] = status.get("201", 0)
    out["409s"] = status.get("409s", 0)
    out["409"] = status.get("409", 0) + out["409s"]
    out["other"] = sum(n for k, n in status.items() if k not in ("201", "409", "409s"))
    out["other"] += r["errors"]
    return out


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


def measure(
    h: Harness,
    size: int,
    *,
    connections: list[int],
    seconds: float,
    clients: list[int],
    requests: int,
) -> list[Row]:
    """The rows of one size: wrk, the refusals, the Python client."""
    rows: list[Row] = []
    h.seed(size)
    for c in connections:
        h.wrk(c, 2, BOOKABLE, seed=99 + c)  # warm every worker's caches and connections
        r = wrk_counts(h.wrk(c, seconds, BOOKABLE, seed=size + c))
        rows.append(("wrk, random bookings", c, r))
    # the refusal path: `tight` is full for its first days; each answer names a later slot
    slots = TIGHT_FULL_DAYS * 96 - 4 * MAX_HOURS  # windows that end while it is still full
    r = wrk_counts(h.wrk(8, seconds, {"tight": ["gpu"]}, slots=slots, seed=size))
    rows.append(("wrk, refused (409)", 8, r))
    for c in clients:
        rows.append(("python client", c, python_load(h, c, requests, seed_=size + c)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="100000", help="existing reservations, comma-separated")
    ap.add_argument("--connections", default="8,32", help="wrk connections")
    ap.add_argument("--seconds", type=float, default=10, help="each wrk run")
    ap.add_argument("--clients", default="1,8,32", help="Python client threads")
    ap.add_argument("--requests", type=int, default=400, help="per Python client row")
    ap.add_argument(
        "--workers", type=int, default=None, help="berth serve --workers (0: pass no flag)"
    )
    ap.add_argument("--no-slurm", action="store_true", help="skip the Slurm comparison")
    ap.add_argument("--slurm-reservations", type=int, default=400)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    connections = [int(c) for c in args.connections.split(",")]
    clients = [int(c) for c in args.clients.split(",")] if args.clients else []

    print(f"before: {load_average()}", flush=True)
    with harness(args.workers) as h:
        workers = h.workers_running()
        print(
            f"berth serve with {workers} worker process(es); pools bench-a and bench-b "
            f"(50 x 8 H100 each), requests of 1-2 units for 1-4 h in 90 days; "
            f"{args.seconds:g} s per wrk row, {args.requests} requests per Python row",
            flush=True,
        )
        results = {}
        for size in sizes:
            rows = measure(
                h,
                size,
                connections=connections,
                seconds=args.seconds,
                clients=clients,
                requests=args.requests,
            )
            results[size] = rows
            print(f"\nexisting reservations: {size} (now {h.count()})\n{HEADER}")
            print("\n".join(row(*r) for r in rows), flush=True)
        memory = h.memory_mib()
    print(
        f"\nAPI memory at the end: {memory['rss']:.0f} MiB resident in "
        f"{memory['processes']:.0f} processes (peaks summed {memory['peak']:.0f} MiB, "
        f"largest process {memory['largest_peak']:.0f} MiB)"
    )
    print(f"after: {load_average()}", flush=True)

    if not args.no_slurm:
        try:
            s = slurm.measure(args.slurm_reservations, 8)
        except slurm.Unavailable as exc:
            print(f"\nSlurm cannot run here: {exc}")
        else:
            print(f"\nSlurm 22.05 scontrol create reservation, same machine, same run\n{HEADER}")
            for clients, r in s.items():
                print(row("slurm scontrol", clients, {**r, "201": r["accepted"]}))
            for label, conns, r in results[sizes[-1]]:
                if label.startswith("wrk, random"):
                    print(
                        f"Berth (wrk, {conns} connections) / Slurm (8 threads): "
                        f"{r['rps'] / s[8]['rps']:.1f}x"
                    )
    exact, plain = sweep_vs_plain_sum()
    print(
        f"\none random stream (4000 requests, capacity 8 GPUs, 14 days): GPU-hours accepted by "
        f"the exact sweep {exact:.0f}, by a plain sum of overlaps {plain:.0f} "
        f"(+{100 * (exact / plain - 1):.1f}% with the sweep)"
    )


if __name__ == "__main__":
    main()
