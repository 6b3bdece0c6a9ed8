"""The floor under a booking: what the server costs per request before Berth does anything.

A booking's CPU (the API's processes and PostgreSQL's, read from /proc around each run) is set
beside requests that do less and less of what a booking does, all through the same
`berth serve` and wrk, 8 connections:

- `GET /healthz`: uvicorn, the middlewares, FastAPI's routing and a synchronous route (a
  thread hop); no database;
- `GET /api/v1/auth/session` with no credential: the same under /api/v1 (its routers and its
  parameter check); no database;
- the same with an unknown bearer token: one transaction of one statement (the token lookup
  every authenticated request makes);
- `POST /api/v1/reservations`: a booking, with `--existing` reservations in place (bench/wrk
  random valid bookings, as bench/booking.py sends them).

The last line is the arithmetic: at a rate R on this machine's cores, everything a request
costs (API, PostgreSQL, wrk) must fit in cores / R; it prints that budget for the rate asked
with `--rate` (1.5x Slurm's, say) against the measured floors.

    .venv/bin/python bench/floor.py [--existing 100000] [--seconds 8] [--rate 800]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess

from berth.store.tokens import PREFIX
from common import BOOKABLE, WRK_MISSING, Harness, harness, load_average

CONNECTIONS = 8
UNKNOWN = PREFIX + "0" * 43  # looks like a token, so it is looked up; matches none


def wrk_get(h: Harness, path: str, seconds: float, token: str | None = None) -> dict[str, float]:
    """wrk GETs of one path as fast as they go: requests/s, and API/PostgreSQL CPU ms each."""
    exe = shutil.which("wrk")
    if exe is None:
        raise SystemExit(WRK_MISSING)
    headers = ["-H", f"Authorization: Bearer {token}"] if token else []
    api0, db0 = h.cpu_seconds()
    out = subprocess.run(
        [exe, "-t2", f"-c{CONNECTIONS}", f"-d{seconds:g}s", *headers, h.url + path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    api, db = h.cpu_seconds()
    done = re.search(r"(\d+) requests in ([\d.]+)s", out)
    if done is None or "Non-2xx" in out:
        raise SystemExit(f"wrk GET {path} did not get only 2xx answers:\n{out}")
    n, took = int(done.group(1)), float(done.group(2))
    return {
        "rps": n / took,
        "api_cpu_ms": 1000 * (api - api0) / n,
        "db_cpu_ms": 1000 * (db - db0) / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--existing", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=8, help="each wrk run")
    ap.add_argument("--workers", type=int, default=None, help="berth serve --workers")
    ap.add_argument("--rate", type=float, default=800, help="bookings/s to print the budget of")
    args = ap.parse_args()
    print(f"before: {load_average()}", flush=True)
    rows: list[tuple[str, dict[str, float]]] = []
    with harness(args.workers) as h:
        h.seed(args.existing)
        probes = [
            ("GET /healthz", "/healthz", None),
            ("GET /api/v1/auth/session", "/api/v1/auth/session", None),
            ("  + one statement (unknown token)", "/api/v1/auth/session", UNKNOWN),
        ]
        for _label, path, token in probes:  # warm every worker's connections and caches
            wrk_get(h, path, 2, token)
        h.wrk(CONNECTIONS, 2, BOOKABLE, seed=7)
        for label, path, token in probes:
            rows.append((label, wrk_get(h, path, args.seconds, token)))
        one_statement = rows[-1][1]  # the last probe: the unknown token's lookup
        booking = h.wrk(CONNECTIONS, args.seconds, BOOKABLE, seed=args.existing)
        rows.append((f"POST /api/v1/reservations ({args.existing} existing)", booking))
        workers = h.workers_running()
    cores = len(os.sched_getaffinity(0))
    print(f"berth serve with {workers} worker(s), wrk {CONNECTIONS} connections, {cores} cores")
    print(f"{'request':<50} {'req/s':>7} {'API cpu ms':>10} {'PG cpu ms':>9} {'sum':>6}")
    for label, r in rows:
        total = r["api_cpu_ms"] + r["db_cpu_ms"]
        print(
            f"{label:<50} {r['rps']:>7.0f} {r['api_cpu_ms']:>10.2f} {r['db_cpu_ms']:>9.2f} "
            f"{total:>6.2f}"
        )
    budget = 1000 * cores / args.rate
    floor = one_statement["api_cpu_ms"] + one_statement["db_cpu_ms"]
    print(
        f"\n{args.rate:g} bookings/s on {cores} cores leaves {budget:.2f} ms of CPU per booking "
        f"for the API, PostgreSQL and wrk together; one statement through the server costs "
        f"{floor:.2f} ms here, a booking "
        f"{booking['api_cpu_ms'] + booking['db_cpu_ms']:.2f} ms."
    )
    print(f"after: {load_average()}", flush=True)


if __name__ == "__main__":
    main()
