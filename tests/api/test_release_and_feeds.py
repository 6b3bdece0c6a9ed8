"""Early release ("I'm done") and the iCalendar downloads: the private feed and one reservation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import select

from berth.api.deps import clock
from berth.domain.policy import BookingPolicy
from berth.domain.reservation import Status
from berth.store import feeds, reservations, users
from berth.store.db import Database
from berth.store.errors import Conflict
from berth.store.models import Reservation
from tests.api.conftest import Headers
from tests.api.test_reservations import body, iso


def _book(client: TestClient, headers: Headers, now: datetime, *window: float, **kw: Any) -> str:
    r = client.post("/api/v1/reservations", json=body(now, *window, **kw), headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _activate(db: Database, rid: str, now: datetime) -> None:
    with db.transaction() as tx:
        reservations.set_status(tx, uuid.UUID(rid), Status.ACTIVE, now)


def _events(text: bytes) -> dict[str, Any]:
    cal = Calendar.from_ical(text)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


# ---- release ----------------------------------------------------------------------------------


def test_release_ends_an_active_session_now_and_frees_the_rest_of_the_window(
    client: TestClient, app: FastAPI, alice: Headers, admin: Headers, db: Database, now: datetime
) -> None:
    rid = _book(client, alice, now, 0, 4, count=4)  # every mig-1g.24gb slice of the pool
    assert (
        client.post("/api/v1/reservations", json=body(now, 1, 2), headers=alice).status_code == 409
    )
    _activate(db, rid, now)
    done = now + timedelta(minutes=45)
    app.dependency_overrides[clock] = lambda: done
    r = client.post(f"/api/v1/reservations/{rid}/release", headers=alice)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["status"], got["reason"], got["end"]) == ("COMPLETED", "released", iso(done))
    # the rest of the window is free at once
    assert (
        client.post("/api/v1/reservations", json=body(now, 1, 2), headers=alice).status_code == 201
    )
    entries = client.get("/api/v1/audit", headers=admin).json()
    released = [e for e in entries if e["action"] == "reservation.release"]
    assert len(released) == 1
    assert released[0]["details"]["booked_end"].startswith(iso(now + timedelta(hours=4))[:19])


def test_release_only_an_active_one_and_only_yours(
    client: TestClient,
    alice: Headers,
    admin: Headers,
    user_headers: Callable[..., Headers],
    db: Database,
    now: datetime,
) -> None:
    bob = user_headers("bob")
    rid = _book(client, alice, now, 1, 2)
    approved = client.post(f"/api/v1/reservations/{rid}/release", headers=alice)
    assert approved.status_code == 409
    assert "cancel it instead" in approved.json()["detail"]
    _activate(db, rid, now)
    assert client.post(f"/api/v1/reservations/{rid}/release", headers=bob).status_code == 404
    assert client.post(f"/api/v1/reservations/{rid}/release", headers=admin).status_code == 200
    again = client.post(f"/api/v1/reservations/{rid}/release", headers=alice)
    assert again.status_code == 409
    assert "a COMPLETED reservation cannot be released" in again.json()["detail"]
    # released is not canceled: it cannot be canceled after, nor extended
    assert client.post(f"/api/v1/reservations/{rid}/cancel", headers=alice).status_code == 409
    extend = client.post(
        f"/api/v1/reservations/{rid}/extend",
        json={"end": iso(now + timedelta(hours=3))},
        headers=alice,
    )
    assert extend.status_code == 409
    canceled = _book(client, alice, now, 2, 3)
    _activate(db, canceled, now)
    client.post(f"/api/v1/reservations/{canceled}/cancel", headers=alice)
    assert client.post(f"/api/v1/reservations/{canceled}/release", headers=alice).status_code == 409


def test_release_racing_extend_or_cancel_leaves_a_consistent_row(
    client: TestClient, alice: Headers, db: Database, now: datetime
) -> None:
    policy = BookingPolicy()
    with db.transaction() as tx:
        who = users.principal(users.get(tx, "alice"))
    ids = [_book(client, alice, now, 0, 1) for _ in range(4)]
    for rid in ids:
        _activate(db, rid, now)
    now += timedelta(minutes=30)  # the sessions run; "I'm done" half an hour in

    def attempt(what: Callable[..., Any], *args: Any) -> str:
        try:
            with db.transaction() as tx:
                what(tx, *args)
            return "done"
        except Conflict:
            return "refused"

    for i, rid in enumerate(ids):
        other = (
            (reservations.extend, who, uuid.UUID(rid), now + timedelta(hours=3), policy, now)
            if i % 2 == 0
            else (reservations.cancel, who, uuid.UUID(rid), now)
        )
        with ThreadPoolExecutor(2) as pool:
            a = pool.submit(attempt, reservations.release, who, uuid.UUID(rid), now)
            b = pool.submit(attempt, *other)
            outcomes = (a.result(), b.result())
        with db.transaction() as tx:
            row = tx.scalar(select(Reservation).where(Reservation.id == uuid.UUID(rid)))
            assert row is not None
            if row.status == "COMPLETED":
                assert row.reason == "released"
                assert row.end_at == now
            if row.status == "CANCELED":
                assert outcomes[0] == "refused"
            assert row.end_at > row.start_at
        assert "done" in outcomes


# ---- the .ics of one reservation ---------------------------------------------------------------


def test_one_reservation_as_ics_only_for_its_owner(
    client: TestClient, alice: Headers, user_headers: Callable[..., Headers], now: datetime
) -> None:
    bob = user_headers("bob")
    rid = _book(client, alice, now, 1, 3, count=2)
    r = client.get(f"/api/v1/reservations/{rid}.ics", headers=alice)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    events = _events(r.content)
    assert list(events) == [f"reservation-{rid}@berth"]
    ev = events[f"reservation-{rid}@berth"]
    assert ev.decoded("DTSTART") == now + timedelta(hours=1)
    assert ev.decoded("DTEND") == now + timedelta(hours=3)
    assert str(ev["STATUS"]) == "CONFIRMED"
    assert "2 x mig-1g.24gb" in str(ev["SUMMARY"])
    assert client.get(f"/api/v1/reservations/{rid}.ics", headers=bob).status_code == 404
    missing = client.get(f"/api/v1/reservations/{uuid.uuid4()}.ics", headers=alice)
    assert missing.status_code == 404
    assert client.get(f"/api/v1/reservations/{rid}.ics").status_code == 401


# ---- the private feed --------------------------------------------------------------------------


def _feed_path(url: str) -> str:
    return url[url.index("/api/v1/") :]


def test_feed_lists_your_reservations_without_a_cookie(
    client: TestClient,
    app: FastAPI,
    alice: Headers,
    user_headers: Callable[..., Headers],
    now: datetime,
) -> None:
    bob = user_headers("bob")
    assert client.get("/api/v1/me/calendar-feed", headers=alice).json() == {
        "active": False,
        "created_at": None,
    }
    made = client.post("/api/v1/me/calendar-feed", headers=alice)
    assert made.status_code == 201, made.text
    url = made.json()["url"]
    assert url.endswith(".ics")
    assert client.get("/api/v1/me/calendar-feed", headers=alice).json()["active"] is True
    kept = _book(client, alice, now, 1, 2)
    gone = _book(client, alice, now, 2, 3)
    client.post(f"/api/v1/reservations/{gone}/cancel", headers=alice)
    later = _book(client, alice, now, 24 * 60, 24 * 60 + 1)  # 60 days ahead, in the horizon
    beyond = _book(client, bob, now, 1, 2)

    client.cookies.clear()
    r = client.get(_feed_path(url))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    events = _events(r.content)
    assert set(events) == {f"reservation-{i}@berth" for i in (kept, gone, later)}
    assert f"reservation-{beyond}@berth" not in events
    assert str(events[f"reservation-{gone}@berth"]["STATUS"]) == "CANCELLED"
    assert str(events[f"reservation-{kept}@berth"]["STATUS"]) == "CONFIRMED"

    # a change bumps SEQUENCE and LAST-MODIFIED; the UID stays
    before = events[f"reservation-{kept}@berth"]
    app.dependency_overrides[clock] = lambda: now + timedelta(minutes=5)
    extended = client.post(
        f"/api/v1/reservations/{kept}/extend",
        json={"end": iso(now + timedelta(hours=4))},
        headers=alice,
    )
    assert extended.status_code == 200, extended.text
    after = _events(client.get(_feed_path(url)).content)[f"reservation-{kept}@berth"]
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after.decoded("LAST-MODIFIED") > before.decoded("LAST-MODIFIED")
    assert after.decoded("DTEND") == now + timedelta(hours=4)


def test_a_wrong_replaced_or_revoked_feed_secret_is_a_plain_404(
    client: TestClient, alice: Headers, now: datetime
) -> None:
    _book(client, alice, now, 1, 2)
    first = _feed_path(client.post("/api/v1/me/calendar-feed", headers=alice).json()["url"])
    wrong = client.get("/api/v1/calendar/feeds/berthcal_not-a-secret.ics")
    assert wrong.status_code == 404
    second = _feed_path(client.post("/api/v1/me/calendar-feed", headers=alice).json()["url"])
    assert second != first
    replaced = client.get(first)
    assert (replaced.status_code, replaced.json()) == (404, wrong.json())
    assert client.get(second).status_code == 200
    assert client.delete("/api/v1/me/calendar-feed", headers=alice).status_code == 204
    revoked = client.get(second)
    assert (revoked.status_code, revoked.json()) == (404, wrong.json())
    assert client.get("/api/v1/me/calendar-feed", headers=alice).json()["active"] is False
    # a bearer token is no way into someone's feed, nor is a token a feed secret
    token = alice["Authorization"].removeprefix("Bearer ")
    assert client.get(f"/api/v1/calendar/feeds/{token}.ics").status_code == 404


def test_feed_needs_a_signed_in_user_to_make_or_revoke(client: TestClient) -> None:
    assert client.post("/api/v1/me/calendar-feed").status_code == 401
    assert client.delete("/api/v1/me/calendar-feed").status_code == 401


def test_two_feed_creations_at_once_both_succeed_and_the_last_one_counts(
    client: TestClient, alice: Headers, db: Database, now: datetime
) -> None:
    with db.transaction() as tx:
        who = users.principal(users.get(tx, "alice"))

    def create() -> str:
        with db.transaction() as tx:
            return feeds.create(tx, who, now)

    with ThreadPoolExecutor(2) as pool:
        made = list(pool.map(lambda _: create(), range(2)))
    answers = [client.get(f"/api/v1/calendar/feeds/{s}.ics").status_code for s in made]
    assert sorted(answers) == [200, 404]  # one feed per user: one of the two URLs works
