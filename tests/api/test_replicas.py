"""Two `berth serve` replicas on one database, as two portal pods behind one Service.

Each replica is its own process with its own data folder; clients book, and cancel what they
booked, through either one at random, many at once. The database's advisory locks are the
only thing the replicas share, so the invariants are checked on the database afterwards with
sweeps: at no instant do live reservations exceed the pool's capacity, and every accepted
booking that was not canceled is live. Three seeded rounds, each on a day of its own.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from berth.config import load_pool_file
from berth.domain.capacity import peak_usage
from berth.store import users
from berth.store.db import Database
from berth.store.reservations import live_overlapping
from tests.api.serve_process import berth_serve

USERS = [f"r{i}" for i in range(6)]
BOOKINGS_PER_ROUND = 90


def _tokens(url: str) -> dict[str, str]:
    with httpx.Client(base_url=url) as c:
        return {
            name: c.post(
                "/api/v1/auth/login", json={"username": name, "password": f"pw-{name}-long-enough"}
            ).json()["token"]
            for name in USERS
        }


def _accepted(exposition: str) -> float:
    for line in exposition.splitlines():
        if line.startswith('berth_bookings_total{outcome="accepted"}'):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_two_replicas_never_double_book(db: Database, tmp_path: Path, seed: int) -> None:
    with db.transaction() as tx:
        for name in USERS:
            users.create(tx, name, f"pw-{name}-long-enough", "user", actor="test")
    rng = random.Random(seed)
    day = (datetime.now(UTC) + timedelta(days=1 + seed % 5)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    with (
        berth_serve(db, tmp_path / "a") as a,
        berth_serve(db, tmp_path / "b") as b,
    ):
        replicas = [a, b]
        tokens = _tokens(a)  # a token made by one replica works on the other

        def request(i: int) -> tuple[str, httpx.Response, httpx.Response | None]:
            """Book through one replica; sometimes cancel it at once through the other."""
            r = random.Random(seed * 1000 + i)
            name = USERS[i % len(USERS)]
            start = day + timedelta(minutes=15 * r.randrange(0, 40))
            kind = r.choice(["mig-1g.24gb", "mig-1g.24gb", "gpu"])
            payload = {
                "pool": "c845a",
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=15 * r.randrange(1, 10))).isoformat(),
                "gpu": {"kind": kind, "count": 1 if kind == "gpu" else r.randrange(1, 3)},
                "cpu": 2,
                "memory": "8Gi",
            }
            first = r.randrange(2)
            auth = {"Authorization": f"Bearer {tokens[name]}"}
            with httpx.Client(timeout=60) as c:
                booked = c.post(
                    f"{replicas[first]}/api/v1/reservations", json=payload, headers=auth
                )
                canceled = None
                if booked.status_code == 201 and r.random() < 0.3:
                    rid = booked.json()["id"]
                    canceled = c.post(
                        f"{replicas[1 - first]}/api/v1/reservations/{rid}/cancel",
                        json={"reason": "changed my mind"},
                        headers=auth,
                    )
            return name, booked, canceled

        order = list(range(BOOKINGS_PER_ROUND))
        rng.shuffle(order)
        with ThreadPoolExecutor(max_workers=24) as ex:
            results = list(ex.map(request, order))
        accepted_by = [_accepted(httpx.get(f"{url}/metrics").text) for url in replicas]

    statuses = [booked.status_code for _, booked, _ in results]
    assert set(statuses) <= {201, 409}, [b.text for _, b, _ in results if b.status_code >= 400]
    assert statuses.count(201) > 0
    assert statuses.count(409) > 0, "capacity was never contended"
    assert all(x > 0 for x in accepted_by), f"a replica accepted nothing: {accepted_by}"
    canceled = {
        booked.json()["id"] for _, booked, c in results if c is not None and c.status_code == 200
    }
    for _, _, c in results:
        assert c is None or c.status_code == 200, c.text
    kept = {booked.json()["id"] for _, booked, _ in results if booked.status_code == 201} - canceled

    (pool,) = load_pool_file()
    window = (day, day + timedelta(days=1))
    with db.transaction() as tx:
        live = live_overlapping(tx, "c845a", *window)
        ids = tx.execute(
            text(
                "SELECT id::text FROM reservations WHERE pool = 'c845a' AND "
                "status IN ('APPROVED', 'ACTIVE') AND start_at < :end AND end_at > :start"
            ),
            {"start": window[0], "end": window[1]},
        ).scalars()
        assert set(ids) == kept
    capacity = pool.capacity()
    for resource, (peak, _) in peak_usage(live, *window).items():
        assert peak <= capacity[resource], resource
