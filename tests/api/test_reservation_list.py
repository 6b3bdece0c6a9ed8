"""`GET /reservations` is written by PostgreSQL (store.listing): byte for byte what the
response model writes for the same rows, over random rows with every optional field and the
odd values (escapes in free text, cpu and memory that do not divide evenly, microseconds,
holds, sessions, idle warnings, staged models), for each reader and filter."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import select, text

from berth.api import schemas, views
from berth.store import cache
from berth.store.db import Database
from berth.store.models import Reservation, SessionIdle, SessionRow, User
from tests.api.cache_helpers import HF, booking
from tests.api.conftest import Headers

STATUSES = ["PENDING", "APPROVED", "ACTIVE", "COMPLETED", "CANCELED", "FAILED", "REJECTED"]
REASONS = [
    None,
    "",
    'say "hi"',
    "back\\slash/slash",
    "line\nbreak\ttab\rreturn\bback\fform",
    "\x01\x1f\x7f controls",
    "ünïcødé — € 😀",
    "\u2028\u2029 separators",
    "</script><b>",
]
STAGES: list[dict[str, Any]] = [
    {},
    {"engines": ["vllm"], "models": [HF]},
    {"engines": [], "models": ["demo-ollama-tiny", HF]},
    {"engines": ["ollama", 'odd "engine"'], "models": []},
    {"engines": [], "models": []},
]
CPU = [1, 250, 500, 999, 1000, 1500, 32000, 100001, 1234567]
MEMORY = [1, 1000, 1024, 1536, 7 * 2**20 + 1, 192 * 2**30, 2**40, 5 * 2**50, 3 * 2**60]
LIST = TypeAdapter(list[schemas.ReservationPublic])


def _instant(rng: random.Random, now: datetime) -> datetime:
    micro = rng.choice([0, 0, 1, 250000, 999999])
    return now + timedelta(minutes=rng.randrange(-3000, 3000), microseconds=micro)


def _seed(db: Database, rng: random.Random, now: datetime, owners: Sequence[int], n: int) -> None:
    with db.transaction() as tx:
        team = tx.execute(text("INSERT INTO teams (name) VALUES ('ml') RETURNING id")).scalar()
        for i in range(n):
            start = _instant(rng, now)
            status = rng.choice(STATUSES)
            held = status == "PENDING" or rng.random() < 0.3  # holds shown only when PENDING
            r = Reservation(
                id=uuid.uuid4(),
                pool="c845a",
                owner_id=rng.choice(owners),
                start_at=start,
                end_at=start + timedelta(minutes=rng.randrange(1, 900), microseconds=i),
                gpu_kind=rng.choice(["gpu", "mig-1g.24gb"]),
                gpu_count=rng.randrange(1, 9),
                mode=rng.choice(["interactive", "inference"]),
                cpu_millicores=rng.choice(CPU),
                memory_bytes=rng.choice(MEMORY),
                status=status,
                reason=rng.choice(REASONS),
                stage=rng.choice(STAGES),
                created_at=_instant(rng, now),
                updated_at=_instant(rng, now),
                team_id=team if rng.random() < 0.3 else None,
                hold_until=_instant(rng, now) if held else None,
                hold_kind=rng.choice(["approval", "offer"]) if held else None,
            )
            tx.add(r)
            tx.flush()
            if rng.random() < 0.5:
                phase = rng.choice(["provisioning", "ready", "tearing_down", "gone", "failed"])
                url = rng.choice([None, f"https://ide.example/{i}?a=1&b=%22", 'https://x/"q"'])
                tx.add(
                    SessionRow(
                        reservation_id=r.id,
                        namespace=f"berth-list-{i}",
                        phase=phase,
                        url=url,
                        started_at=start,
                        updated_at=start,
                    )
                )
            if rng.random() < 0.5:
                warned = rng.random() < 0.6
                tx.add(
                    SessionIdle(
                        reservation_id=r.id,
                        warned_at=_instant(rng, now) if warned else None,
                        reason=rng.choice(["idle", "no-show"]) if warned else None,
                        release_at=_instant(rng, now) if warned else None,
                        keep_until=_instant(rng, now) if rng.random() < 0.5 else None,
                        updated_at=start,
                    )
                )


def _as_the_model_writes(db: Database, keep: Callable[[Reservation, str], bool]) -> bytes:
    """The rows `keep` picks, by start, as the response model writes them (views.reservation,
    the single reservation's path: ORM objects, staging and idle from their own queries)."""
    with db.transaction() as tx:
        rows = tx.execute(
            select(Reservation, User.username, SessionRow, SessionIdle)
            .join(User, User.id == Reservation.owner_id)
            .outerjoin(SessionRow, SessionRow.reservation_id == Reservation.id)
            .outerjoin(SessionIdle, SessionIdle.reservation_id == Reservation.id)
            .order_by(Reservation.start_at, Reservation.id)
        ).all()
        picked = [(r, owner, s, i) for r, owner, s, i in rows if keep(r, owner)]
        staged = cache.staging_of(tx, [r for r, *_ in picked])
        return LIST.dump_json(
            [views.reservation(r, owner, s, staged[r.id], i) for r, owner, s, i in picked]
        )


def test_the_list_postgresql_writes_is_what_the_response_model_writes(
    client: TestClient,
    db: Database,
    alice: Headers,
    admin: Headers,
    now: datetime,
    user_headers: Callable[..., Headers],
) -> None:
    bob = user_headers("bob")
    # through the API too: a live booking that stages a model (its staging is worked out)
    assert client.post("/api/v1/reservations", json=booking(now, 4, 6), headers=alice).is_success
    with db.transaction() as tx:
        ids = {name: id_ for name, id_ in tx.execute(select(User.username, User.id))}
    _seed(db, random.Random(13), now, [ids["alice"], ids["bob"], ids["root"]], 150)

    def check(headers: Headers, params: dict[str, Any], keep: Callable[..., bool]) -> int:
        got = client.get("/api/v1/reservations", params={"limit": 5000, **params}, headers=headers)
        assert got.status_code == 200, got.text
        wanted = _as_the_model_writes(db, keep)
        assert got.json() == json.loads(wanted)  # first the fields, readably; then the bytes
        assert got.content == wanted
        return len(got.json())

    everyone = check(admin, {}, lambda r, owner: True)
    assert everyone == 151
    assert check(admin, {"mine": "true"}, lambda r, owner: owner == "root") > 0
    assert check(alice, {}, lambda r, owner: owner == "alice") > 0
    assert check(bob, {"mine": "true"}, lambda r, owner: owner == "bob") > 0
    live = {"status": ["ACTIVE", "PENDING"], "pool": "c845a"}
    assert check(admin, live, lambda r, owner: r.status in live["status"]) > 0
    since, until = now - timedelta(hours=10), now + timedelta(hours=10)
    window = {"from": since.isoformat(), "to": until.isoformat()}
    assert check(
        alice, window, lambda r, o: o == "alice" and r.end_at > since and r.start_at < until
    )
    assert check(admin, {"pool": "elsewhere"}, lambda r, owner: False) == 0
    # a limit keeps the first rows by start
    first = client.get("/api/v1/reservations", params={"limit": 7}, headers=admin)
    assert first.json() == client.get("/api/v1/reservations", headers=admin).json()[:7]
    # the fields the seeding means to cover did turn up
    listed = client.get("/api/v1/reservations", params={"limit": 5000}, headers=admin).json()
    assert {r["workspace_url"] is not None for r in listed} == {True, False}
    assert {r["idle"] is not None for r in listed} == {True, False}
    assert {r["staging"] is not None for r in listed} == {True, False}
    assert {r["hold_until"] is not None for r in listed} == {True, False}
    assert any(r["team_id"] is not None for r in listed)


def test_a_kept_list_follows_every_write_it_shows(
    client: TestClient,
    db: Database,
    alice: Headers,
    now: datetime,
    user_headers: Callable[..., Headers],
) -> None:
    """Each API process keeps an owner's list (store/read_cache.py). After each kind of write
    that list shows (a booking and a release through the API; the reconciler's session
    coming, becoming ready and going; an idle warning and a keep; a rename), the next answer
    is what a fresh read writes, for the owner and for a user the write did not touch."""
    bob = user_headers("bob")

    def same(headers: Headers, name: str) -> list[dict[str, Any]]:
        got = client.get(
            "/api/v1/reservations", params={"mine": "true", "limit": 1000}, headers=headers
        )
        assert got.status_code == 200, got.text
        assert got.content == _as_the_model_writes(db, lambda r, owner: owner == name)
        listed: list[dict[str, Any]] = got.json()
        return listed

    assert same(alice, "alice") == []
    made = client.post("/api/v1/reservations", json=booking(now, 1, 6), headers=alice)
    assert made.status_code == 201, made.text
    rid = uuid.UUID(made.json()["id"])
    assert [r["id"] for r in same(alice, "alice")] == [str(rid)]
    assert same(bob, "bob") == []
    writes = [
        "INSERT INTO sessions (reservation_id, namespace, phase, started_at, updated_at) "
        "VALUES (:id, 'berth-kept', 'provisioning', now(), now())",
        "UPDATE sessions SET phase = 'ready', url = 'https://ide.example/kept' "
        "WHERE reservation_id = :id",
        "UPDATE reservations SET status = 'ACTIVE' WHERE id = :id",
        "INSERT INTO session_idle (reservation_id, warned_at, reason, release_at, updated_at) "
        "VALUES (:id, now(), 'idle', now() + interval '1 hour', now())",
        "UPDATE session_idle SET keep_until = now() + interval '2 hours' WHERE reservation_id = :id",
        "UPDATE users SET username = 'alice' WHERE username = 'alice'",  # no change
    ]
    seen = []
    for write in writes:
        with db.transaction() as tx:
            tx.execute(text(write), {"id": rid})
        (row,) = same(alice, "alice")
        seen.append((row["phase"], row["workspace_url"], row["status"], row["idle"] is not None))
        assert same(bob, "bob") == []
    assert seen[0][0] == "provisioning"
    assert seen[1][:2] == ("ready", "https://ide.example/kept")
    assert seen[2][2] == "ACTIVE"
    assert seen[3][3]
    released = client.post(f"/api/v1/reservations/{rid}/release", headers=alice)
    assert released.status_code == 200, released.text
    assert [r["status"] for r in same(alice, "alice")] == ["COMPLETED"]
    with db.transaction() as tx:
        tx.execute(text("DELETE FROM sessions WHERE reservation_id = :id"), {"id": rid})
        tx.execute(text("UPDATE users SET username = 'alyssa' WHERE username = 'alice'"))
    assert [r["owner"] for r in same(alice, "alyssa")] == ["alyssa"]
