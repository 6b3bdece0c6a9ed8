"""Where the milliseconds of one booking go: cProfile of `POST /api/v1/reservations`
(or, with `--read`, of one of bench/read.py's reads).

With 100k existing reservations (seeded as bench/booking.py seeds them), the whole ASGI app (the
middlewares, FastAPI's validation, the route, the store, serialization) handles `--requests`
bookings one after the other in one thread: FastAPI's thread pool is replaced by an inline
call so the profiler sees everything. Uvicorn's HTTP parsing is not in it. Prints the time per
request by layer, the SQL statements per request (and the transactions), and the top functions.

    .venv/bin/python bench/profile_booking.py [--existing 100000] [--requests 300]

With `--cpu`, no profiler: the process's CPU time per request (what the API itself spends,
PostgreSQL's work and the waits for it not included), the figure to compare two versions by.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
import psycopg

from berth.config import Settings, load_pool_file
from berth.store import bootstrap
from berth.store.db import Database
from berth.store.embedded import running
from common import POOL_FILE, SPAN_DAYS, bench_users, random_booking, seed
from read import endpoints

# (label, predicate on a pstats key (file, line, function)) -> cumulative seconds; the first
# match of each label wins, so name the outermost function of a layer.
LAYERS: list[tuple[str, Callable[[tuple[str, int, str]], bool]]] = [
    ("whole request (ASGI app)", lambda k: k[2] == "__call__" and k[0].endswith("proxy.py")),
    ("authentication (current_user)", lambda k: k[2] == "current_user"),
    ("route body (create)", lambda k: k[2] == "create" and "routes/reservations" in k[0]),
    ("store: book()", lambda k: k[2] == "book" and "store/reservations" in k[0]),
    ("  the capacity sweep (fits)", lambda k: k[2] == "fits" and "capacity" in k[0]),
    ("the refusal's suggestion (after the booking)", lambda k: k[2] == "suggest"),
    (
        "psycopg execute (all SQL, waiting included)",
        lambda k: k[2] == "execute" and "psycopg/cursor.py" in k[0],
    ),
    ("transaction commit", lambda k: k[2] == "commit" and "psycopg/connection.py" in k[0]),
    ("response serialization", lambda k: k[2] == "serialize_response"),
]


READS = {
    "calendar-pool": "calendar, a week, one pool",
    "calendar-all": "calendar, a week, all pools",
    "availability": "availability, 14 days",
    "mine": "reservations?mine=true",
}


class Counter:
    """Counts the statements psycopg sends, whether SQLAlchemy or `db.fetch` sends them."""

    def __init__(self) -> None:
        self.statements = 0
        execute = psycopg.Cursor.execute

        def counted(cursor: Any, *args: Any, **kwargs: Any) -> Any:
            self.statements += 1
            return execute(cursor, *args, **kwargs)

        psycopg.Cursor.execute = counted  # type: ignore[method-assign]


def inline_threads() -> None:
    """Run FastAPI's sync routes and dependencies on the calling thread (profiler sees them)."""

    async def run_sync(func: Callable[..., Any], *args: Any, **_: Any) -> Any:
        return func(*args)

    anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]


async def call(app: Any, body: bytes, token: str, target: str | None = None) -> int:
    """POST `body` as a booking, or (with `target`, a path and query) GET it."""
    path, _, query = (target or "/api/v1/reservations").partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET" if target else "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--existing", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--top", type=int, default=25, help="functions listed by own time")
    ap.add_argument(
        "--read",
        choices=sorted(READS),
        help="profile this read (as bench/read.py sends it) instead of a booking",
    )
    ap.add_argument(
        "--cpu", action="store_true", help="no profiler: print the API's CPU ms per request"
    )
    args = ap.parse_args()
    inline_threads()
    with tempfile.TemporaryDirectory(prefix="berth-profile-") as tmp:
        pool_path = Path(tmp) / "pools.yaml"
        pool_path.write_text(POOL_FILE)
        with running(Path(tmp) / "pgdata") as url:
            os.environ.update(
                {
                    "BERTH_DATABASE_URL": url,
                    "BERTH_POOL_FILE": str(pool_path),
                    "BERTH_HORIZON_DAYS": str(SPAN_DAYS + 30),
                    "BERTH_MAX_CONCURRENT_PER_USER": str(10**9),
                    "BERTH_DATA_DIR": tmp,
                }
            )
            from berth.api.app import create_app

            db = Database(url)
            bootstrap.prepare(db, load_pool_file(pool_path))
            secrets, user_ids = bench_users(db)
            seed(db, args.existing, user_ids)
            app = create_app(Settings(), db)
            rng = random.Random(1)
            bodies = [
                (
                    random_booking(rng),
                    rng.choice(secrets),
                    endpoints(rng)[READS[args.read]] if args.read else None,
                )
                for _ in range(args.requests + 20)
            ]
            counter = Counter()
            codes: dict[int, int] = {}

            async def run(batch: list[tuple[bytes, str, str | None]]) -> None:
                for body, token, target in batch:
                    code = await call(app, body, token, target)
                    codes[code] = codes.get(code, 0) + 1

            asyncio.run(run(bodies[:20]))  # warm caches (pool, prepared plans, imports)
            codes.clear()
            counter.statements = 0
            profiler = cProfile.Profile()
            t0, cpu0 = time.perf_counter(), time.process_time()
            if not args.cpu:
                profiler.enable()
            asyncio.run(run(bodies[20:]))
            profiler.disable()
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            db.dispose()
    n = args.requests
    if args.cpu:
        print(
            f"{n} x {args.read or 'booking'}, {args.existing} existing; outcomes "
            f"{json.dumps(codes)}; API CPU {1000 * cpu / n:.2f} ms, wall {1000 * wall / n:.2f} ms "
            f"per request; {counter.statements / n:.1f} SQL statements per request"
        )
        return
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    print(
        f"{n} x {args.read or 'booking'}, {args.existing} existing; outcomes {json.dumps(codes)}; "
        f"{1000 * wall / n:.2f} ms per request under the profiler; "
        f"{counter.statements / n:.1f} SQL statements per request (BEGIN/COMMIT not counted)"
    )
    print(f"{'layer':<48} {'ms/request':>10}")
    for label, match in LAYERS:
        cum = sum(v[3] for k, v in raw.items() if match(k))
        print(f"{label:<48} {1000 * cum / n:>10.2f}")
    print()
    print("Berth's own functions by cumulative time:")
    stats.sort_stats("cumulative").print_stats("src/berth", args.top)
    print("All functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
