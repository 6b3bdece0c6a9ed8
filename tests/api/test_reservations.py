"""Booking through the API: accepted, refused with reasons, visibility, cancel, extend, calendar."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import select, text

from berth.api import schemas
from berth.store.db import Database
from berth.store.models import Reservation, User
from tests.api.conftest import Headers


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def body(
    now: datetime,
    start_h: float,
    end_h: float,
    kind: str = "mig-1g.24gb",
    count: int = 1,
    **kw: Any,
) -> dict[str, Any]:
    return {
        "pool": "c845a",
        "start": iso(now + timedelta(hours=start_h)),
        "end": iso(now + timedelta(hours=end_h)),
        "gpu": {"kind": kind, "count": count},
        **kw,
    }


def test_book_from_now_returns_the_reservation(
    client: TestClient, alice: Headers, now: datetime
) -> None:
    r = client.post(
        "/api/v1/reservations",
        json=body(now, 0, 8, count=2, mode="inference", cpu=16, memory="128Gi"),
        headers=alice,
    )
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["status"] == "APPROVED"
    assert got["owner"] == "alice"
    assert got["start"] == iso(now)
    assert got["gpu"] == {"kind": "mig-1g.24gb", "count": 2}
    assert (got["mode"], got["cpu"], got["memory"]) == ("inference", 16.0, "128Gi")
    assert client.get(f"/api/v1/reservations/{got['id']}", headers=alice).json() == got
    # the list is written without the model (store/listing.py), byte for byte as it would
    listed = client.get("/api/v1/reservations", params={"mine": "true"}, headers=alice)
    as_models = TypeAdapter(list[schemas.ReservationPublic])
    assert listed.content == as_models.dump_json(as_models.validate_json(listed.content))
    assert listed.json() == [got]


def test_defaults_fill_cpu_and_memory(client: TestClient, alice: Headers, now: datetime) -> None:
    got = client.post(
        "/api/v1/reservations", json=body(now, 1, 2, kind="gpu"), headers=alice
    ).json()
    assert (got["mode"], got["cpu"], got["memory"]) == ("interactive", 32.0, "192Gi")


def test_refusal_is_409_with_resource_time_free_asked_and_a_suggestion(
    client: TestClient, alice: Headers, now: datetime, user_headers: Callable[..., Headers]
) -> None:
    bob = user_headers("bob")
    assert (
        client.post(
            "/api/v1/reservations", json=body(now, 1, 3, count=3), headers=alice
        ).status_code
        == 201
    )
    before = client.get("/api/v1/reservations", headers=bob).json()
    r = client.post("/api/v1/reservations", json=body(now, 2, 4, count=2), headers=bob)
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    p = r.json()
    assert p["shortage"] == {
        "resource": "mig-1g.24gb",
        "start": (now + timedelta(hours=2)).isoformat(),
        "end": (now + timedelta(hours=3)).isoformat(),
        "free": 1,
        "asked": 2,
    }
    assert "1 x mig-1g.24gb free, 2 x mig-1g.24gb asked" in p["detail"]
    assert p["suggestion"] == {
        "start": (now + timedelta(hours=3)).isoformat(),
        "end": (now + timedelta(hours=5)).isoformat(),
    }
    assert client.get("/api/v1/reservations", headers=bob).json() == before  # nothing changed
    ok = client.post("/api/v1/reservations", json=body(now, 3, 5, count=2), headers=bob)
    assert ok.status_code == 201  # the suggestion really fits


def test_cpu_can_run_out_before_gpus(client: TestClient, alice: Headers, now: datetime) -> None:
    assert (
        client.post(
            "/api/v1/reservations", json=body(now, 1, 2, cpu=120), headers=alice
        ).status_code
        == 201
    )
    r = client.post("/api/v1/reservations", json=body(now, 1, 2, kind="gpu", cpu=8), headers=alice)
    assert r.status_code == 409
    assert r.json()["shortage"]["resource"] == "cpu"
    assert "7 CPU free, 8 CPU asked" in r.json()["detail"]


def test_bad_input_is_422_and_changes_nothing(
    client: TestClient, alice: Headers, now: datetime
) -> None:
    cases = [
        ({**body(now, 1, 2), "start": "2030-01-07T10:00:00"}, "start"),
        (body(now, -2, 2), "start"),
        (body(now, 1, 2, kind="tpu"), "gpu.kind"),
        (body(now, 1, 2, count=0), "gpu.count"),
        (body(now, 1, 2, memory="lots"), "memory"),
        (body(now, 1, 2, cpu=-1), "cpu"),
        (body(now, 1, 2, mode="batch"), "mode"),
        ({**body(now, 1, 2), "pool": "nope"}, None),
        ({**body(now, 1, 2), "surprise": 1}, "surprise"),
    ]
    for payload, field in cases:
        r = client.post("/api/v1/reservations", json=payload, headers=alice)
        assert r.status_code in (404, 422), (payload, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        if field:
            assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert (
        client.post(
            "/api/v1/reservations",
            content=b"{not json",
            headers={**alice, "content-type": "application/json"},
        ).status_code
        == 422
    )
    assert client.get("/api/v1/reservations", headers=alice).json() == []


def test_users_see_only_their_own_admins_see_all(
    client: TestClient,
    alice: Headers,
    admin: Headers,
    now: datetime,
    user_headers: Callable[..., Headers],
) -> None:
    bob = user_headers("bob")
    mine = client.post("/api/v1/reservations", json=body(now, 1, 2), headers=alice).json()
    client.post("/api/v1/reservations", json=body(now, 1, 2), headers=bob)
    assert [r["owner"] for r in client.get("/api/v1/reservations", headers=bob).json()] == ["bob"]
    assert client.get(f"/api/v1/reservations/{mine['id']}", headers=bob).status_code == 404
    assert client.post(f"/api/v1/reservations/{mine['id']}/cancel", headers=bob).status_code == 404
    assert sorted(r["owner"] for r in client.get("/api/v1/reservations", headers=admin).json()) == [
        "alice",
        "bob",
    ]
    assert client.get("/api/v1/reservations", params={"mine": "true"}, headers=admin).json() == []


def test_calendar_shows_others_as_busy_blocks(
    client: TestClient,
    alice: Headers,
    admin: Headers,
    now: datetime,
    user_headers: Callable[..., Headers],
) -> None:
    bob = user_headers("bob")
    client.post("/api/v1/reservations", json=body(now, 1, 2), headers=alice)
    client.post("/api/v1/reservations", json=body(now, 3, 4, kind="gpu"), headers=bob)
    window = {"from": iso(now), "to": iso(now + timedelta(days=1))}
    seen = client.get("/api/v1/calendar", params=window, headers=bob).json()
    others = [e for e in seen if not e["mine"]]
    assert len(seen) == 2
    assert others[0]["owner"] is None
    assert others[0]["id"] is None
    assert others[0]["gpu"] == {"kind": "mig-1g.24gb", "count": 1}
    as_admin = client.get("/api/v1/calendar", params=window, headers=admin).json()
    assert {e["owner"] for e in as_admin} == {"alice", "bob"}
    bad = client.get(
        "/api/v1/calendar",
        params={"from": iso(now), "to": iso(now - timedelta(hours=1))},
        headers=bob,
    )
    assert bad.status_code == 422


def test_the_calendar_the_database_writes_is_what_the_response_model_would_write(
    client: TestClient,
    db: Database,
    alice: Headers,
    admin: Headers,
    now: datetime,
    user_headers: Callable[..., Headers],
) -> None:
    """The calendar's JSON is built by PostgreSQL: it must be, byte for byte, the JSON of
    `schemas.CalendarEntry` for the same rows (times in UTC with `Z`, microseconds only when
    there are some), for the owner, another user and an admin, with and without a pool."""
    bob = user_headers("bob")
    client.post("/api/v1/reservations", json=body(now, 1, 2), headers=alice)
    client.post("/api/v1/reservations", json=body(now, 3, 4, kind="gpu"), headers=bob)
    with db.transaction() as tx:  # odd instants the API would not book: the format's edges
        tx.execute(
            text(
                """
                INSERT INTO reservations (id, pool, owner_id, start_at, end_at, gpu_kind,
                    gpu_count, mode, cpu_millicores, memory_bytes, status)
                SELECT gen_random_uuid(), 'c845a', u.id, :s, :e, 'mig-1g.24gb', 1,
                       'inference', 500, 1073741824, st
                FROM users u, unnest(ARRAY['COMPLETED', 'ACTIVE', 'CANCELED']) st
                WHERE u.username = 'alice'
                """
            ),
            {
                "s": now + timedelta(hours=1, seconds=7, microseconds=250000),
                "e": now + timedelta(hours=5, microseconds=1),
            },
        )
    window = {"from": iso(now), "to": iso(now + timedelta(days=1))}
    with db.transaction() as tx:
        rows = tx.execute(
            select(Reservation, User.username)
            .join(User, User.id == Reservation.owner_id)
            .where(Reservation.status != "CANCELED")
            .order_by(Reservation.start_at, Reservation.id)
        ).all()
    for viewer, headers, everyone in (("bob", bob, False), ("root", admin, True)):
        for pool in (None, "c845a"):
            expected = [
                schemas.CalendarEntry(
                    id=r.id if owner == viewer or everyone else None,
                    mine=owner == viewer,
                    owner=owner if owner == viewer or everyone else None,
                    status=r.status,
                    pool=r.pool,
                    start=r.start_at,
                    end=r.end_at,
                    gpu=schemas.GpuPublic(kind=r.gpu_kind, count=r.gpu_count),
                )
                for r, owner in rows
            ]
            params = {**window, **({"pool": pool} if pool else {})}
            got = client.get("/api/v1/calendar", params=params, headers=headers)
            assert got.status_code == 200
            wanted = TypeAdapter(list[schemas.CalendarEntry]).dump_json(expected)
            assert json.loads(got.content) == json.loads(wanted)
            assert got.content.replace(b" ", b"") == wanted
    other = client.get("/api/v1/calendar", params={**window, "pool": "nowhere"}, headers=bob)
    assert other.json() == []


def test_cancel_frees_capacity_and_cannot_happen_twice(
    client: TestClient, alice: Headers, admin: Headers, now: datetime
) -> None:
    r = client.post("/api/v1/reservations", json=body(now, 1, 2, count=4), headers=alice).json()
    assert (
        client.post("/api/v1/reservations", json=body(now, 1, 2), headers=alice).status_code == 409
    )
    c = client.post(
        f"/api/v1/reservations/{r['id']}/cancel", json={"reason": "plans changed"}, headers=alice
    )
    assert c.json()["status"] == "CANCELED"
    assert c.json()["reason"] == "plans changed"
    again = client.post(f"/api/v1/reservations/{r['id']}/cancel", headers=alice)
    assert again.status_code == 409
    assert "a CANCELED reservation cannot become CANCELED" in again.json()["detail"]
    assert (
        client.post("/api/v1/reservations", json=body(now, 1, 2), headers=alice).status_code == 201
    )
    actions = [e["action"] for e in client.get("/api/v1/audit", headers=admin).json()]
    assert actions.count("reservation.cancel") == 1
    assert actions.count("reservation.create") == 2


def test_admin_cancels_anyones(
    client: TestClient, alice: Headers, admin: Headers, now: datetime
) -> None:
    r = client.post("/api/v1/reservations", json=body(now, 1, 2), headers=alice).json()
    c = client.post(f"/api/v1/reservations/{r['id']}/cancel", headers=admin)
    assert c.json()["reason"] == "canceled by root"


def test_extend_under_the_same_capacity_rules(
    client: TestClient, alice: Headers, now: datetime, user_headers: Callable[..., Headers]
) -> None:
    bob = user_headers("bob")
    r = client.post("/api/v1/reservations", json=body(now, 1, 2, kind="gpu"), headers=alice).json()
    client.post("/api/v1/reservations", json=body(now, 3, 4, kind="gpu"), headers=bob)
    ok = client.post(
        f"/api/v1/reservations/{r['id']}/extend",
        json={"end": iso(now + timedelta(hours=3))},
        headers=alice,
    )
    assert ok.status_code == 200
    assert ok.json()["end"] == iso(now + timedelta(hours=3))
    clash = client.post(
        f"/api/v1/reservations/{r['id']}/extend",
        json={"end": iso(now + timedelta(hours=4))},
        headers=alice,
    )
    assert clash.status_code == 409
    assert clash.json()["shortage"]["resource"] == "gpu"
    shorter = client.post(
        f"/api/v1/reservations/{r['id']}/extend",
        json={"end": iso(now + timedelta(hours=2))},
        headers=alice,
    )
    assert shorter.status_code == 422
    assert client.get(f"/api/v1/reservations/{r['id']}", headers=alice).json()["end"] == iso(
        now + timedelta(hours=3)
    )


def test_per_user_concurrency_limit(client: TestClient, alice: Headers, now: datetime) -> None:
    for _ in range(4):
        assert (
            client.post(
                "/api/v1/reservations", json=body(now, 1, 2, cpu=1, memory="1Gi"), headers=alice
            ).status_code
            == 201
        )
    r = client.post("/api/v1/reservations", json=body(now, 1, 2, kind="gpu"), headers=alice)
    assert r.status_code == 409
    assert "limit is 4" in r.json()["detail"]
    later = client.post("/api/v1/reservations", json=body(now, 2, 3, kind="gpu"), headers=alice)
    assert later.status_code == 201  # not overlapping the others


def test_pools_and_availability(client: TestClient, alice: Headers, now: datetime) -> None:
    pools = client.get("/api/v1/pools", headers=alice).json()
    assert [(k["name"], k["units"], k["replicas"]) for k in pools[0]["kinds"]] == [
        ("mig-1g.24gb", 4, 2),
        ("gpu", 1, 4),
    ]
    client.post(
        "/api/v1/reservations", json=body(now, 1, 2, count=3, cpu=10, memory="10Gi"), headers=alice
    )
    got = client.get(
        "/api/v1/pools/c845a/availability",
        params={"start": iso(now), "end": iso(now + timedelta(hours=3))},
        headers=alice,
    )
    # written without the model (views.json_bytes), yet byte for byte as the model writes
    model = schemas.Availability.model_validate_json(got.content)
    assert got.content == model.model_dump_json().encode()
    a = got.json()
    free = [(s["start"], s["free"]["mig-1g.24gb"], s["free"]["cpu"]) for s in a["steps"]]
    assert free == [
        (iso(now), 4, 127.0),
        (iso(now + timedelta(hours=1)), 1, 117.0),
        (iso(now + timedelta(hours=2)), 4, 127.0),
    ]
    assert a["capacity"]["memory_bytes"] == 754 * 2**30
    missing = client.get(
        "/api/v1/pools/nope/availability",
        params={"start": iso(now), "end": iso(now + timedelta(hours=3))},
        headers=alice,
    )
    assert missing.status_code == 404


def test_workspace_is_waiting_until_the_reconciler_starts_it(
    client: TestClient, alice: Headers, now: datetime, user_headers: Callable[..., Headers]
) -> None:
    r = client.post("/api/v1/reservations", json=body(now, 1, 2), headers=alice).json()
    assert r["phase"] is None
    assert r["workspace_url"] is None
    ws = client.get(f"/api/v1/reservations/{r['id']}/workspace", headers=alice).json()
    assert ws == {
        "phase": "waiting",
        "namespace": None,
        "step": None,
        "url": None,
        "password": None,
        "last_error": None,
        "attempts": 0,
        "ready_at": None,
        "next_check_at": None,
        "staging": None,
    }
    assert (
        client.get(
            f"/api/v1/reservations/{r['id']}/workspace", headers=user_headers("bob")
        ).status_code
        == 404
    )
