"""Idle reclaim, the portal's side: "keep it", the first open, the warning on the reservation."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from berth.api.deps import clock
from berth.config import Settings, load_pool_file
from berth.domain.idle import IdlePolicy, Reason
from berth.store import idle, pools, sessions
from berth.store.db import Database
from tests.api.conftest import Headers
from tests.api.test_release_and_feeds import _activate, _book

POLICY = IdlePolicy(idle_minutes=30, answer_minutes=10, keep_minutes=60, no_show_minutes=20)


def _with_policy(db: Database, kind: str = "mig-1g.24gb") -> None:
    (pool,) = load_pool_file()
    with db.transaction() as tx:
        pools.sync(tx, [dataclasses.replace(pool, idle={kind: POLICY})])


def _ready(db: Database, settings: Settings, rid: str, now: datetime) -> str:
    """A session of `rid` whose workspace is ready, as the reconciler would leave it."""
    url = f"https://berth-{rid[:12]}.berth.localhost/"
    with db.transaction() as tx:
        sessions.start(tx, uuid.UUID(rid), f"berth-{rid[:12]}", now, settings.secret_box())
        sessions.mark_ready(tx, uuid.UUID(rid), url, now)
    return url


def test_keep_withdraws_a_warning_and_holds_for_the_pools_keep_minutes(
    client: TestClient, app: FastAPI, alice: Headers, admin: Headers, db: Database, now: datetime
) -> None:
    _with_policy(db)
    rid = _book(client, alice, now, 0, 4)
    _activate(db, rid, now)
    warned_at = now + timedelta(minutes=30)
    with db.transaction() as tx:
        assert idle.warn(tx, uuid.UUID(rid), Reason.IDLE, warned_at, warned_at + POLICY.answer)
    listed = client.get("/api/v1/reservations", headers=alice).json()
    assert listed[0]["idle"] == {
        "reason": "idle",
        "warned_at": warned_at.isoformat().replace("+00:00", "Z"),
        "release_at": (warned_at + POLICY.answer).isoformat().replace("+00:00", "Z"),
        "keep_until": None,
    }
    later = now + timedelta(minutes=35)
    app.dependency_overrides[clock] = lambda: later
    r = client.post(f"/api/v1/reservations/{rid}/keep", headers=alice)
    assert r.status_code == 200, r.text
    kept = r.json()["idle"]
    assert kept["reason"] is None
    assert kept["warned_at"] is None
    assert kept["keep_until"] == (later + POLICY.keep).isoformat().replace("+00:00", "Z")
    assert client.get(f"/api/v1/reservations/{rid}", headers=alice).json()["idle"] == kept
    actions = [e["action"] for e in client.get("/api/v1/audit", headers=admin).json()]
    assert {"reservation.idle_warning", "reservation.idle_cleared", "reservation.keep"} <= set(
        actions
    )


def test_keep_only_an_active_one_with_a_policy_and_only_yours(
    client: TestClient,
    alice: Headers,
    admin: Headers,
    user_headers: Callable[..., Headers],
    db: Database,
    now: datetime,
) -> None:
    rid = _book(client, alice, now, 0, 4)
    approved = client.post(f"/api/v1/reservations/{rid}/keep", headers=alice)
    assert approved.status_code == 409
    assert "only an ACTIVE one" in approved.json()["detail"]
    _activate(db, rid, now)
    no_policy = client.post(f"/api/v1/reservations/{rid}/keep", headers=alice)
    assert no_policy.status_code == 409
    assert "reclaims no idle mig-1g.24gb" in no_policy.json()["detail"]
    _with_policy(db)
    bob = user_headers("bob")
    assert client.post(f"/api/v1/reservations/{rid}/keep", headers=bob).status_code == 404
    missing = uuid.uuid4()
    assert client.post(f"/api/v1/reservations/{missing}/keep", headers=alice).status_code == 404
    assert client.post(f"/api/v1/reservations/{rid}/keep", headers=admin).status_code == 200
    with db.transaction() as tx:
        state = idle.of(tx, uuid.UUID(rid))
        assert state is not None
        assert state.keep_until == now + POLICY.keep


def test_opening_through_the_portal_or_reading_the_password_is_the_owners_first_open(
    client: TestClient,
    app: FastAPI,
    alice: Headers,
    admin: Headers,
    db: Database,
    settings: Settings,
    now: datetime,
) -> None:
    rid = _book(client, alice, now, 0, 4)
    not_ready = client.get(
        f"/api/v1/reservations/{rid}/open", headers=alice, follow_redirects=False
    )
    assert not_ready.status_code == 409
    _activate(db, rid, now)
    url = _ready(db, settings, rid, now)
    # an admin opening it is not the owner showing up
    r = client.get(f"/api/v1/reservations/{rid}/open", headers=admin, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, url)
    with db.transaction() as tx:
        assert idle.of(tx, uuid.UUID(rid)) is None
    first = now + timedelta(minutes=3)
    app.dependency_overrides[clock] = lambda: first
    r = client.get(f"/api/v1/reservations/{rid}/open", headers=alice, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, url)
    app.dependency_overrides[clock] = lambda: first + timedelta(minutes=5)
    password = client.get(
        f"/api/v1/reservations/{rid}/workspace?include_password=true", headers=alice
    )
    assert password.json()["password"]
    with db.transaction() as tx:
        state = idle.of(tx, uuid.UUID(rid))
        assert state is not None
        assert state.opened_at == first


def test_reading_the_password_counts_as_opening(
    client: TestClient, alice: Headers, db: Database, settings: Settings, now: datetime
) -> None:
    rid = _book(client, alice, now, 0, 4)
    _activate(db, rid, now)
    _ready(db, settings, rid, now)
    client.get(f"/api/v1/reservations/{rid}/workspace", headers=alice)  # no password: no open
    with db.transaction() as tx:
        assert idle.of(tx, uuid.UUID(rid)) is None
    client.get(f"/api/v1/reservations/{rid}/workspace?include_password=true", headers=alice)
    with db.transaction() as tx:
        state = idle.of(tx, uuid.UUID(rid))
        assert state is not None
        assert state.opened_at == now
