"""Booking throughput with one and with two `berth serve` replicas on one PostgreSQL.

Two replicas are two portal pods behind one Service: separate processes that share nothing
but the database (its advisory locks keep them from double-booking; tests/api/test_replicas.py
checks that). With 100k existing reservations (as bench/booking.py seeds them), wrk with
bench/wrk/berth.lua sends random valid bookings:

- to one replica with one worker process, from 8 and 32 connections;
- to two replicas with one worker each, half of the connections to each (two wrk processes
  at once, as a Service would spread them): bookings/s summed, p99 the worse of the two.

Server, database and load generator share this machine (2 cores here), so a second replica
adds processes, not cores; the load average is printed with the figures.

    .venv/bin/python bench/replicas.py [--existing 100000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from booking import wrk_counts
from common import BOOKABLE, free_port, harness, load_average, wait_ready


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--existing", type=int, default=100_000, help="reservations seeded first")
    ap.add_argument("--seconds", type=float, default=10, help="each wrk run")
    ap.add_argument("--connections", default="8,32", help="wrk connections in all")
    args = ap.parse_args()
    connections = [int(c) for c in args.connections.split(",")]

    print(f"before: {load_average()}", flush=True)
    with harness(workers=1) as h:
        h.seed(args.existing)
        port = free_port()
        command = [h.server.args[0], "serve", "--port", str(port), "--workers", "1"]
        second = subprocess.Popen(
            command, env=h.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_ready(port, second)
            replicas = [h.url, f"http://127.0.0.1:{port}"]
            print(f"existing reservations: {h.count()}; {args.seconds:g} s per row", flush=True)
            print(f"{'replicas':<9} {'conns':>5} {'bookings/s':>10} {'p50 ms':>7} {'p99 ms':>7}")
            for c in connections:
                h.wrk(c, 2, BOOKABLE, seed=90 + c)  # warm caches and connections
                one = wrk_counts(h.wrk(c, args.seconds, BOOKABLE, seed=c))
                print(
                    f"{1:<9} {c:>5} {one['201'] / one['seconds']:>10.0f} "
                    f"{one['p50_ms']:>7.1f} {one['p99_ms']:>7.1f}",
                    flush=True,
                )

                def run(i: int, c: int = c) -> dict[str, Any]:
                    return wrk_counts(
                        h.wrk(
                            c // 2, args.seconds, BOOKABLE, seed=1000 * (i + 1) + c, url=replicas[i]
                        )
                    )

                with ThreadPoolExecutor(2) as ex:
                    both = list(ex.map(run, range(2)))
                booked = sum(r["201"] / r["seconds"] for r in both)
                print(
                    f"{2:<9} {c:>5} {booked:>10.0f} {max(r['p50_ms'] for r in both):>7.1f} "
                    f"{max(r['p99_ms'] for r in both):>7.1f}",
                    flush=True,
                )
        finally:
            second.terminate()
            second.wait(60)
    print(f"after: {load_average()}", flush=True)


if __name__ == "__main__":
    main()
