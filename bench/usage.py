"""The cost ledger's queries (store.usage) on a big history: how long a report takes.

An embedded PostgreSQL of its own, the demo pool, 32 users and `--reservations` COMPLETED
reservations of 1-8 h spread over the last 365 days; every reservation that overlaps the last
`--sample-days` days gets one-minute activity samples over its whole window (tokens on a third
of them). Then, each `--repeat` times (the median is shown):

- the month report of everyone (what an admin's Usage page asks, three groupings share it),
- the month report of one user (a user's Usage page),
- a week of everyone, and a year of everyone (reservations only: samples are in the month),

each split into the reservations query, the samples query (rows in → rows out), and the
domain's arithmetic. EXPLAIN ANALYZE of the samples query is printed with `--explain`.

    .venv/bin/python bench/usage.py [--reservations 100000] [--sample-days 30] [--explain]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import text

from berth.config import load_pool_file
from berth.domain import usage
from berth.store import bootstrap, users
from berth.store import usage as store_usage
from berth.store.db import Database
from berth.store.embedded import running
from berth.tokenomics.rates import cost_table
from common import load_average

T = TypeVar("T")


def seed(db: Database, reservations: int, sample_days: int, now: datetime) -> tuple[int, int]:
    with db.transaction() as tx:
        ids = [
            users.create(tx, f"bench{i}", f"bench-password-{i}", "user", actor="bench").id
            for i in range(32)
        ]
    with db.transaction() as tx:
        tx.execute(
            text(
                """
                INSERT INTO reservations (id, pool, owner_id, start_at, end_at, gpu_kind,
                    gpu_count, mode, cpu_millicores, memory_bytes, status)
                SELECT gen_random_uuid(), 'c845a', (:owners)[1 + floor(random() * 32)::int],
                       s, s + (1 + floor(random() * 8)) * interval '1 hour',
                       CASE WHEN random() < 0.5 THEN 'gpu' ELSE 'mig-1g.24gb' END,
                       1 + floor(random() * 2)::int, 'interactive', 1000, 1073741824,
                       'COMPLETED'
                FROM (SELECT :start + floor(random() * 365 * 96) * interval '15 minutes' AS s
                      FROM generate_series(1, :n)) q
                """
            ),
            {"owners": ids, "n": reservations, "start": now - timedelta(days=365)},
        )
        tx.execute(
            text(
                """
                INSERT INTO session_activity (reservation_id, at, seconds, gpu_active,
                    tokens_prompt, tokens_generated)
                SELECT r.id, r.start_at + m * interval '1 minute', 60,
                       CASE WHEN random() < 0.05 THEN NULL ELSE random() END,
                       CASE WHEN serving THEN floor(random() * 50000)::bigint END,
                       CASE WHEN serving THEN floor(random() * 5000)::bigint END
                FROM (SELECT id, start_at, end_at, random() < 0.33 AS serving
                      FROM reservations WHERE end_at > :since) r
                CROSS JOIN LATERAL generate_series(
                    1, (extract(epoch FROM r.end_at - r.start_at) / 60)::int) m
                """
            ),
            {"since": now - timedelta(days=sample_days)},
        )
        tx.execute(text("ANALYZE reservations"))
        tx.execute(text("ANALYZE session_activity"))
        samples = int(tx.execute(text("SELECT count(*) FROM session_activity")).scalar() or 0)
    return ids[0], samples


def timed(fn: Callable[[], T], repeat: int) -> tuple[T, float]:
    runs, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t0)
    assert out is not None
    return out, statistics.median(runs) * 1000


def report(db: Database, label: str, period: usage.Period, owner: int | None, repeat: int) -> None:
    costs = cost_table("")

    def held() -> list[usage.Held]:
        with db.transaction() as tx:
            return store_usage.held(tx, period, owner)

    def measured() -> list[usage.Measured]:
        with db.transaction() as tx:
            return store_usage.measured(tx, period, "UTC", owner)

    h, held_ms = timed(held, repeat)
    m, measured_ms = timed(measured, repeat)
    lines, domain_ms = timed(lambda: usage.lines(h, m, costs, period), repeat)
    _, group_ms = timed(lambda: usage.report(lines, ("user", "day"), 20), repeat)
    total = held_ms + measured_ms + domain_ms + group_ms
    print(
        f"{label:<22} {len(h):>8} {held_ms:>9.1f} {len(m):>8} {measured_ms:>10.1f} "
        f"{domain_ms + group_ms:>9.1f} {total:>9.1f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reservations", type=int, default=100_000)
    ap.add_argument("--sample-days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--explain", action="store_true")
    args = ap.parse_args()
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    base = Path(tempfile.mkdtemp(prefix="berth-bench-usage-"))
    with running(base / "pgdata") as url:
        db = Database(url, pool_size=2)
        bootstrap.prepare(db, load_pool_file())
        t0 = time.perf_counter()
        one_user, samples = seed(db, args.reservations, args.sample_days, now)
        print(
            f"seeded {args.reservations:,} reservations over 365 days and {samples:,} "
            f"one-minute samples in {time.perf_counter() - t0:.0f} s; {load_average()}"
        )
        print(
            f"{'report':<22} {'resv':>8} {'resv ms':>9} {'day sums':>8} {'samples ms':>10} "
            f"{'domain ms':>9} {'total ms':>9}"
        )
        month = usage.Period(now - timedelta(days=30), now, UTC)
        report(db, "month, everyone", month, None, args.repeat)
        report(db, "month, one user", month, one_user, args.repeat)
        report(
            db, "week, everyone", usage.Period(now - timedelta(days=7), now, UTC), None, args.repeat
        )
        year = usage.Period(now - timedelta(days=365), now, UTC)
        report(db, "year, everyone", year, None, args.repeat)
        print(load_average())
        if args.explain:
            with db.transaction() as tx:
                sql = str(store_usage._MEASURED)  # the bench looks inside
                plan = tx.execute(
                    text("EXPLAIN (ANALYZE, BUFFERS) " + sql),
                    {
                        "start": month.start,
                        "end": month.end,
                        "tz": "UTC",
                        "owner": None,
                        "pool": None,
                    },
                ).all()
            print("\n".join(r[0] for r in plan))
        db.dispose()


if __name__ == "__main__":
    main()
