"""Many clients booking the same scarce slices at once, through a real HTTP server.

Plain users, several requests of each in flight at once, so both advisory locks are contended:
the pool's (capacity) and the user's (the limit on overlapping reservations). The invariants are
checked on the database afterwards with sweeps, not on the responses: at no instant do live
reservations exceed the pool's capacity of any resource, nor does a user hold more than the
limit.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from berth.config import load_pool_file
from berth.domain.capacity import Booking, peak_usage
from berth.domain.policy import BookingPolicy
from berth.store import pools, users
from berth.store.db import Database
from berth.store.reservations import live_overlapping
from tests.api.serve_process import berth_serve

FAULT_POOLS = Path(__file__).parents[1] / "kube" / "faults_pools.yaml"


def test_concurrent_bookings_never_exceed_capacity(server: str, db: Database) -> None:
    names = [f"user{i}" for i in range(8)]
    with db.transaction() as tx:
        for name in names:
            users.create(tx, name, f"pw-{name}-long-enough", "user", actor="test")
    tokens = {}
    with httpx.Client(base_url=server) as c:
        for name in names:
            tokens[name] = c.post(
                "/api/v1/auth/login", json={"username": name, "password": f"pw-{name}-long-enough"}
            ).json()["token"]

    base = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    rng = random.Random(7)
    requests = []
    for i in range(160):
        start = base + timedelta(minutes=15 * rng.randrange(0, 24))
        kind = rng.choice(["mig-1g.24gb", "mig-1g.24gb", "gpu"])
        requests.append(
            (
                names[i % len(names)],
                {
                    "pool": "c845a",
                    "start": start.isoformat(),
                    "end": (start + timedelta(minutes=15 * rng.randrange(1, 12))).isoformat(),
                    "gpu": {"kind": kind, "count": rng.randrange(1, 3) if kind != "gpu" else 1},
                    "cpu": 4,
                    "memory": "16Gi",
                },
            )
        )

    # Besides the contended slices, each user sends a burst of one-slice bookings into a window
    # of their own in the roomy pool `wide`: there only the per-user limit can refuse, so it is
    # reached whatever the interleaving (in c845a the slices often run out first).
    limit = BookingPolicy().max_concurrent_per_user
    with db.transaction() as tx:
        pools.sync(tx, load_pool_file(FAULT_POOLS))
    for i, name in enumerate(names):
        start = base + timedelta(hours=10 + i)  # after every c845a window; one hour per user
        for _ in range(limit + 2):
            requests.append(
                (
                    name,
                    {
                        "pool": "wide",
                        "start": start.isoformat(),
                        "end": (start + timedelta(hours=1)).isoformat(),
                        "gpu": {"kind": "mig-1g.24gb", "count": 1},
                    },
                )
            )
    rng.shuffle(requests)

    def book(item: tuple[str, dict[str, object]]) -> httpx.Response:
        name, payload = item
        with httpx.Client(base_url=server, timeout=60) as c:
            return c.post(
                "/api/v1/reservations",
                json=payload,
                headers={"Authorization": f"Bearer {tokens[name]}"},
            )

    with ThreadPoolExecutor(max_workers=32) as pool:
        responses = list(pool.map(book, requests))

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    assert statuses.count(201) > 0
    short = [r.json()["shortage"]["resource"] for r in responses if "shortage" in r.json()]
    over_limit = [r for r in responses if r.status_code == 409 and "shortage" not in r.json()]
    assert short, "the slices were never contended"
    assert set(short) <= {"mig-1g.24gb", "gpu"}
    assert over_limit, "no user ever reached the limit"
    for r in over_limit:
        assert "the limit is" in r.json()["detail"]

    assert len(over_limit) >= 2 * len(names)  # the bursts' surplus, at least
    (pool_def,) = load_pool_file()
    with db.transaction() as tx:
        live = live_overlapping(tx, "c845a", base, base + timedelta(days=1))
        in_wide = live_overlapping(tx, "wide", base, base + timedelta(days=1))
    assert len(live) + len(in_wide) == statuses.count(201)
    assert len(in_wide) == limit * len(names)
    capacity = pool_def.capacity()
    for resource, (peak, _) in peak_usage(live, base, base + timedelta(days=1)).items():
        assert peak <= capacity[resource], resource

    # Each booking overlapped fewer than `limit` of its owner's, so no instant has more.
    held: dict[str, list[Booking]] = {}
    for r in responses:
        if r.status_code == 201:
            b = r.json()
            start, end = datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"])
            held.setdefault(b["owner"], []).append(Booking(start, end, {"held": 1}))
    assert len(held) > 1
    for owner, bookings in held.items():
        window = (base, base + timedelta(days=1))
        assert peak_usage(bookings, *window)["held"][0] <= limit, owner


def test_several_worker_processes_book_one_scarce_slot_exactly_up_to_capacity(
    db: Database, tmp_path: Path
) -> None:
    """`berth serve --workers 3`: bookings of the same slots land in different processes, and
    the advisory locks in the database still let exactly the capacity through."""
    with db.transaction() as tx:
        for i in range(4):
            users.create(tx, f"w{i}", f"pw-w{i}-long-enough", "user", actor="test")
    with berth_serve(db, tmp_path, workers=3) as url:
        with httpx.Client(base_url=url) as c:
            tokens = [
                c.post(
                    "/api/v1/auth/login",
                    json={"username": f"w{i}", "password": f"pw-w{i}-long-enough"},
                ).json()["token"]
                for i in range(4)
            ]
        start = (datetime.now(UTC) + timedelta(days=2)).replace(
            hour=10, minute=0, second=0, microsecond=0
        )
        window = {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}
        asks = [("gpu", 1)] * 12 + [("mig-1g.24gb", 1)] * 20  # capacity: 1 gpu, 4 slices

        def book(i: int) -> httpx.Response:
            kind, count = asks[i]
            with httpx.Client(base_url=url, timeout=60) as c:
                return c.post(
                    "/api/v1/reservations",
                    json={
                        "pool": "c845a",
                        **window,
                        "gpu": {"kind": kind, "count": count},
                        "cpu": 1,
                        "memory": "1Gi",
                    },
                    headers={"Authorization": f"Bearer {tokens[i % 4]}"},
                )

        with ThreadPoolExecutor(max_workers=16) as ex:
            responses = list(ex.map(book, range(len(asks))))
        with httpx.Client(base_url=url) as c:
            exposition = c.get("/metrics").text
    by_kind: dict[str, int] = {}
    for (kind, _), r in zip(asks, responses, strict=True):
        assert r.status_code in (201, 409), r.text
        if r.status_code == 201:
            by_kind[kind] = by_kind.get(kind, 0) + 1
        else:
            body = r.json()
            assert body["shortage"]["resource"] == kind
            assert body["suggestion"]["start"] == window["end"]
    assert by_kind == {"gpu": 1, "mig-1g.24gb": 4}
    # the metrics are summed over the workers
    assert 'berth_bookings_total{outcome="accepted"} 5.0' in exposition
    assert 'berth_bookings_total{outcome="refused"} 27.0' in exposition
