"""Notifications on the real database: recording in the caller's transaction, the bell's API,
preferences (validated, SSRF-checked at save time), the release message and the reminders."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from berth.api.deps import clock, get_settings
from berth.config import Settings
from berth.store import audit, deliveries, notifications
from berth.store.db import Database
from berth.store.models import Notification, NotificationDelivery, User
from tests.api.conftest import Headers
from tests.api.test_release_and_feeds import _activate, _book

PREFS = "/api/v1/me/notification-preferences"
BELL = "/api/v1/me/notifications"


def _uid(db: Database, name: str) -> int:
    with db.transaction() as tx:
        return int(tx.scalar(select(User.id).where(User.username == name)))


def _count(db: Database, model: type[Notification] | type[NotificationDelivery]) -> int:
    with db.transaction() as tx:
        return int(tx.scalar(select(func.count()).select_from(model)) or 0)


def test_notify_records_in_the_callers_transaction_with_a_delivery_per_chosen_channel(
    client: TestClient, alice: Headers, db: Database
) -> None:
    uid = _uid(db, "alice")
    put = {
        "email": "alice@example.org",
        "webhook_url": "https://93.184.216.34/hook",
        "channels": {"idle": ["email", "webhook"], "ready": ["email"]},
    }
    assert client.put(PREFS, json=put, headers=alice).status_code == 200
    with db.transaction() as tx:
        idle = notifications.notify(
            tx, user_id=uid, kind="idle", title="Idle", body="b", actions=["extend", "keep"]
        )
        ready = notifications.notify(tx, user_id=uid, kind="ready", title="Ready", body="b")
        released = notifications.notify(tx, user_id=uid, kind="released", title="R", body="b")
    with db.transaction() as tx:
        by_id: dict[int, list[str]] = {}
        for d in tx.scalars(select(NotificationDelivery)):
            by_id.setdefault(d.notification_id, []).append(d.channel)
            assert (d.state, d.attempts) == ("pending", 0)
    assert sorted(by_id[idle]) == ["email", "webhook"]
    assert by_id[ready] == ["email"]
    assert released not in by_id  # the portal only

    # a rolled back transaction takes its message with it
    def failing_change() -> None:
        with db.transaction() as tx:
            notifications.notify(tx, user_id=uid, kind="failed", title="F", body="b")
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert _count(db, Notification) == 3

    with pytest.raises(ValueError, match="unknown notification kind"), db.transaction() as tx:
        notifications.notify(tx, user_id=uid, kind="warning", title="x", body="b")
    with pytest.raises(ValueError, match="unknown notification action"), db.transaction() as tx:
        notifications.notify(tx, user_id=uid, kind="idle", title="x", body="b", actions=["nuke"])
    assert _count(db, Notification) == 3


def test_the_bell_lists_counts_and_marks_read_only_ones_own(
    client: TestClient, alice: Headers, user_headers: Callable[..., Headers], db: Database
) -> None:
    bob = user_headers("bob")
    a, b = _uid(db, "alice"), _uid(db, "bob")
    with db.transaction() as tx:
        ids = [
            notifications.notify(tx, user_id=a, kind="ready", title=f"t{i}", body="b")
            for i in range(3)
        ]
        bobs = notifications.notify(tx, user_id=b, kind="idle", title="bob's", body="b")
    got = client.get(BELL, headers=alice).json()
    assert got["unread"] == 3
    assert [n["id"] for n in got["items"]] == ids[::-1]  # newest first
    assert client.get(BELL, headers=bob).json()["unread"] == 1

    r = client.post(f"{BELL}/{ids[0]}/read", headers=alice)
    assert r.status_code == 200
    assert r.json()["unread"] == 2
    assert client.post(f"{BELL}/{ids[0]}/read", headers=alice).json()["unread"] == 2
    # another's message is as missing as one that does not exist, and stays unread
    assert client.post(f"{BELL}/{bobs}/read", headers=alice).status_code == 404
    assert client.post(f"{BELL}/999999/read", headers=alice).status_code == 404
    # beyond BIGINT: a 422 naming the parameter, never a database error
    big = client.post(f"{BELL}/{2**80}/read", headers=alice)
    assert big.status_code == 422, big.text
    assert "notification_id" in big.text
    assert client.get(BELL, headers=bob).json()["unread"] == 1

    assert client.post(f"{BELL}/read-all", headers=alice).json()["unread"] == 0
    assert client.get(BELL, headers=bob).json()["unread"] == 1
    assert client.get(BELL).status_code == 401


def test_preferences_default_then_saved_and_bad_input_changes_nothing(
    client: TestClient, alice: Headers, db: Database
) -> None:
    got = client.get(PREFS, headers=alice).json()
    assert got == {
        "email": None,
        "webhook_url": None,
        "channels": {},
        "lead_minutes": [30, 5],
        "email_available": False,
    }
    good = {"email": "alice@example.org", "channels": {"ending": ["email"]}, "lead_minutes": [10]}
    r = client.put(PREFS, json=good, headers=alice)
    assert r.status_code == 200, r.text
    saved = client.get(PREFS, headers=alice).json()
    assert (saved["email"], saved["channels"], saved["lead_minutes"]) == (
        "alice@example.org",
        {"ending": ["email"]},
        [10],
    )
    bad = [
        ({**good, "email": "nope"}, "email"),
        ({**good, "channels": {"ending": ["webhook"]}}, "channels.ending"),
        ({**good, "lead_minutes": [0]}, "lead_minutes"),
        ({**good, "webhook_url": "gopher://example.org/"}, "webhook_url"),
        ({**good, "webhook_url": "http://127.0.0.1:8000/api"}, "webhook_url"),
        ({**good, "webhook_url": "http://169.254.169.254/latest/meta-data"}, "webhook_url"),
        ({**good, "webhook_url": "http://localhost:9/"}, "webhook_url"),
        ({**good, "webhook_url": "http://[::ffff:10.0.0.1]/"}, "webhook_url"),
    ]
    for payload, field in bad:
        r = client.put(PREFS, json=payload, headers=alice)
        assert r.status_code == 422, (payload, r.text)
        problem = r.json()
        assert problem["errors"][0]["field"] == field, problem
        assert field in problem["detail"]
    for payload in ({**good, "channels": {"ending": ["sms"]}}, {**good, "extra": 1}):
        assert client.put(PREFS, json=payload, headers=alice).status_code == 422
    assert client.get(PREFS, headers=alice).json() == saved
    with db.transaction() as tx:  # the one change that went through, and no URL in the log
        entries = [e for e in audit.query(tx) if e.action == "notification_preferences.update"]
    assert [(e.actor, e.details["email"], e.details["webhook_host"]) for e in entries] == [
        ("alice", True, None)
    ]


def test_an_admin_setting_lets_webhooks_reach_an_allowed_inner_host(
    app: FastAPI, client: TestClient, alice: Headers, settings: Settings
) -> None:
    hook = {"webhook_url": "http://127.0.0.1:9/hook", "channels": {"ready": ["webhook"]}}
    assert client.put(PREFS, json=hook, headers=alice).status_code == 422
    allowing = settings.model_copy(update={"webhook_allow_hosts": "127.0.0.0/8"})
    app.dependency_overrides[get_settings] = lambda: allowing
    r = client.put(PREFS, json=hook, headers=alice)
    assert r.status_code == 200, r.text
    assert r.json()["webhook_url"] == "http://127.0.0.1:9/hook"


def test_release_records_a_released_message_for_the_bell(
    client: TestClient, alice: Headers, db: Database, now: datetime
) -> None:
    rid = _book(client, alice, now, 0, 4)
    _activate(db, rid, now)
    assert client.post(f"/api/v1/reservations/{rid}/release", headers=alice).status_code == 200
    items = client.get(BELL, headers=alice).json()["items"]
    assert [(n["kind"], n["reservation_id"]) for n in items] == [("released", rid)]
    # a refused release records nothing
    assert client.post(f"/api/v1/reservations/{rid}/release", headers=alice).status_code == 409
    assert len(client.get(BELL, headers=alice).json()["items"]) == 1


def test_reminders_are_recorded_once_per_lead_whoever_sweeps(
    app: FastAPI, client: TestClient, alice: Headers, db: Database, now: datetime
) -> None:
    rid = _book(client, alice, now, 0, 1)  # ends at now + 60 min
    full = _book(client, alice, now, 0, 1, count=3)  # with it, the pool's slices are all taken
    later = _book(client, alice, now, 1, 2, count=4)  # and after it too: no extension fits
    _activate(db, rid, now)
    _activate(db, full, now)
    assert later
    end = now + timedelta(hours=1)
    step = timedelta(minutes=15)

    def sweep_at(t: datetime) -> int:
        with db.transaction() as tx:
            return deliveries.sweep_reminders(tx, t, step)

    assert sweep_at(end - timedelta(minutes=31)) == 0
    at30 = end - timedelta(minutes=29)
    with ThreadPoolExecutor(6) as pool:  # six sweepers at once: two reservations, once each
        assert sum(pool.map(sweep_at, [at30] * 6)) == 2
    assert sweep_at(end - timedelta(minutes=10)) == 0
    assert sweep_at(end - timedelta(minutes=4)) == 2
    assert sweep_at(end - timedelta(minutes=1)) == 0
    assert sweep_at(end) == 0
    app.dependency_overrides[clock] = lambda: end
    items = client.get(BELL, headers=alice).json()["items"]
    assert len(items) == 4
    assert {n["kind"] for n in items} == {"ending"}
    assert {tuple(n["actions"]) for n in items} == {("release", "open")}  # no room to extend
    assert {n["reservation_id"] for n in items} == {rid, full}


def test_the_ending_reminder_offers_extend_when_the_pool_has_room(
    client: TestClient, alice: Headers, db: Database, now: datetime
) -> None:
    rid = _book(client, alice, now, 0, 1)
    _activate(db, rid, now)
    with db.transaction() as tx:
        deliveries.sweep_reminders(tx, now + timedelta(minutes=56), timedelta(minutes=15))
    (item,) = client.get(BELL, headers=alice).json()["items"]
    assert item["actions"] == ["extend", "release", "open"]
    assert item["title"] == "Your workspace closes in 4 min"
    assert uuid.UUID(item["reservation_id"]) == uuid.UUID(rid)


def test_no_lead_times_means_no_reminders(
    client: TestClient, alice: Headers, db: Database, now: datetime
) -> None:
    r = client.put(PREFS, json={"lead_minutes": []}, headers=alice)
    assert r.status_code == 200, r.text
    assert r.json()["lead_minutes"] == []
    rid = _book(client, alice, now, 0, 1)
    _activate(db, rid, now)
    with db.transaction() as tx:
        assert (
            deliveries.sweep_reminders(tx, now + timedelta(minutes=58), timedelta(minutes=15)) == 0
        )
