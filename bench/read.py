"""The read path with 100k reservations: the calendar, availability and my reservations.

`berth serve` on an embedded PostgreSQL seeded as bench/booking.py seeds it (100k
reservations over 90 days in two pools of 400 GPUs, 32 users). wrk (Debian package `wrk`)
with bench/wrk/berth.lua in mode `read` sends, from 32 connections, a mix in equal parts of

- GET /api/v1/calendar?from=&to= (a week; one pool, the other, or all pools),
- GET /api/v1/pools/{pool}/availability?start=&end= (14 days),
- GET /api/v1/reservations?mine=true (as one of the 32 users),

at a fixed rate (each wrk thread on its own schedule): p50/p99 at 200 requests/s right after
a warm-up, then rising rates (200 again among them) until p99 passes 100 ms or the rate is not
reached; the highest rate that held is the answer. A single Python client first gives each endpoint's own latency and response size.

    .venv/bin/python bench/read.py [--existing 100000] [--seconds 10] [--workers N] [--cache-mb MB]
                                   [--gzip]

Each API process keeps the calendar and availability it built (store/read_cache.py), checked
against the database before every answer; `--cache-mb 0` measures the reads made afresh.
Browsers ask for gzip, and the API compresses what it sends (GZipMiddleware); `--gzip` asks
as they do.
"""

from __future__ import annotations

import argparse
import http.client
import random
import time
from datetime import timedelta
from typing import Any

from common import (
    BOOKABLE,
    SPAN_DAYS,
    Harness,
    base_time,
    harness,
    load_average,
    percentile,
)

TARGET_P99_MS = 100.0
RATES = [25, 50, 75, 100, 150, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000]


def endpoints(rng: random.Random) -> dict[str, str]:
    """One path of each kind, with random windows as the wrk script makes them."""
    pool = rng.choice(sorted(BOOKABLE))
    week = base_time() + timedelta(days=rng.randrange(SPAN_DAYS - 7))
    fortnight = base_time() + timedelta(days=rng.randrange(SPAN_DAYS - 14))

    def iso(t: Any) -> str:
        return str(t.strftime("%Y-%m-%dT%H:%M:%SZ"))

    return {
        "calendar, a week, one pool": (
            f"/api/v1/calendar?from={iso(week)}&to={iso(week + timedelta(days=7))}&pool={pool}"
        ),
        "calendar, a week, all pools": (
            f"/api/v1/calendar?from={iso(week)}&to={iso(week + timedelta(days=7))}"
        ),
        "availability, 14 days": (
            f"/api/v1/pools/{pool}/availability?start={iso(fortnight)}"
            f"&end={iso(fortnight + timedelta(days=14))}"
        ),
        "reservations?mine=true": "/api/v1/reservations?mine=true",
    }


def single_client(h: Harness, rounds: int, gzip: bool = False) -> list[str]:
    """Each endpoint alone, one request at a time: p50/p99, the response's size (as sent), and
    the CPU one request costs the API and PostgreSQL."""
    rng = random.Random(5)
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=60)
    plan = [(rng.choice(h.tokens), endpoints(rng)) for _ in range(rounds)]
    asked = {"accept-encoding": "gzip"} if gzip else {}
    lines = [
        f"{'endpoint (one client)':<30} {'p50 ms':>7} {'p99 ms':>7} {'KiB':>7} "
        f"{'API cpu ms':>10} {'PG cpu ms':>9}"
    ]
    for name in plan[0][1]:
        times: list[float] = []
        size = 0
        api0, db0 = h.cpu_seconds()
        for token, paths in plan:
            t0 = time.perf_counter()
            conn.request("GET", paths[name], headers={**asked, "authorization": f"Bearer {token}"})
            resp = conn.getresponse()
            body = resp.read()
            times.append(time.perf_counter() - t0)
            assert resp.status == 200, (paths[name], resp.status, body[:200])
            size += len(body)
        api, db = h.cpu_seconds()
        times.sort()
        lines.append(
            f"{name:<30} {1000 * percentile(times, 0.5):>7.1f} "
            f"{1000 * percentile(times, 0.99):>7.1f} {size / rounds / 1024:>7.0f} "
            f"{1000 * (api - api0) / rounds:>10.2f} {1000 * (db - db0) / rounds:>9.2f}"
        )
    return lines


def at_rate(
    h: Harness, rate: float, seconds: float, connections: int, gzip: bool
) -> dict[str, Any]:
    r = h.wrk(connections, seconds, BOOKABLE, mode="read", rate=rate, seed=int(rate), gzip=gzip)
    status: dict[str, int] = r["status"]
    r["bad"] = sum(n for k, n in status.items() if k != "200") + r["errors"]
    r["held"] = r["p99_ms"] <= TARGET_P99_MS and r["rps"] >= 0.95 * rate and r["bad"] == 0
    return r


def measure(
    h: Harness, *, seconds: float, connections: int = 32, gzip: bool = False
) -> tuple[list[str], dict[str, Any]]:
    """Table lines, and the figures: p99 at 200/s and the highest rate that held."""
    lines = [
        f"{'read mix, wrk':<30} {'conns':>5} {'asked/s':>7} {'got/s':>7} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'non-200':>7} {'held':>5} {'API cpu ms':>10} {'PG cpu ms':>9}"
    ]
    # warm the workers: long enough that each process's read cache holds most days of both
    # pools (a cold process reads a day's blocks once, then answers from memory)
    h.wrk(connections, 15, BOOKABLE, mode="read", rate=100, seed=7, gzip=gzip)

    def run(rate: float) -> dict[str, Any]:
        time.sleep(1)  # what an overloaded run left in flight drains first
        r = at_rate(h, rate, seconds, connections, gzip)
        lines.append(
            f"{'read mix, wrk':<30} {connections:>5} {rate:>7} {r['rps']:>7.0f} "
            f"{r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['bad']:>7} "
            f"{'yes' if r['held'] else 'no':>5} {r['api_cpu_ms']:>10.2f} {r['db_cpu_ms']:>9.2f}"
        )
        return r

    # 200/s first, right after the warm-up: what the caches still miss shows here; then every
    # rate afresh, 200 again among them (the figure, once the processes hold what is asked)
    first = at_200 = run(200)
    best = 0.0
    for rate in RATES:  # up until p99 passes the target or the rate is not reached
        r = run(rate)
        if rate == 200:
            at_200 = r
        if not r["held"]:
            break
        best = rate
    return lines, {
        "p99_at_200": at_200["p99_ms"],
        "rps_at_200": at_200["rps"],
        "p99_at_200_first": first["p99_ms"],
        "best_rate": best,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--existing", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=10, help="each wrk rate")
    ap.add_argument("--rounds", type=int, default=30, help="single-client requests per endpoint")
    ap.add_argument(
        "--workers", type=int, default=None, help="berth serve --workers (0: pass no flag)"
    )
    ap.add_argument(
        "--cache-mb",
        type=int,
        default=None,
        help="BERTH_READ_CACHE_MB for the server (0: the read cache off; default: serve's)",
    )
    ap.add_argument(
        "--gzip",
        action="store_true",
        help="ask for gzip-compressed answers (Accept-Encoding: gzip), as browsers do",
    )
    args = ap.parse_args()
    print(f"before: {load_average()}", flush=True)
    env = {} if args.cache_mb is None else {"BERTH_READ_CACHE_MB": str(args.cache_mb)}
    with harness(args.workers, env) as h:
        h.seed(args.existing)
        print(
            f"berth serve with {h.workers_running()} worker process(es); {h.count()} reservations\n"
        )
        print("\n".join(single_client(h, args.rounds, args.gzip)), flush=True)
        # the same requests again: what the read cache kept answers them (each process keeps
        # its own, so a window one worker read may still be new to the other)
        print("\nthe same requests again:")
        print("\n".join(single_client(h, args.rounds, args.gzip)), flush=True)
        lines, figures = measure(h, seconds=args.seconds, gzip=args.gzip)
        print()
        print("\n".join(lines))
        memory = h.memory_mib()
    best = figures["best_rate"]
    print(
        f"\np99 at 200 requests/s asked: {figures['p99_at_200']:.0f} ms "
        f"({figures['rps_at_200']:.0f}/s answered; right after the warm-up "
        f"{figures['p99_at_200_first']:.0f} ms); highest rate holding p99 <= "
        f"{TARGET_P99_MS:.0f} ms: "
        + (f"{best:.0f} requests/s" if best else f"none (not even {RATES[0]}/s)")
    )
    print(
        f"API memory at the end: {memory['rss']:.0f} MiB resident in "
        f"{memory['processes']:.0f} processes (largest peak {memory['largest_peak']:.0f} MiB)"
    )
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main()
