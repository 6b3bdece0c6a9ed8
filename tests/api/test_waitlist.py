"""The waitlist through the API: a refusal offers it, join, list, withdraw, and answering an
offer the notify loop's sweep made (accept, decline, lapse)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from berth.config import Settings
from berth.notify.loop import Deliverer
from berth.store import holds
from berth.store.db import Database
from tests.api.conftest import Headers
from tests.api.test_reservations import body, iso


def sweep(db: Database, settings: Settings, now: datetime) -> None:
    """One pass of `berth notify`'s sweep at `now` (expire holds, settle, offer)."""
    deliverer = Deliverer.from_settings(db, settings)
    deliverer.clock = lambda: now
    deliverer.sweep()


def fill(client: TestClient, headers: Headers, now: datetime) -> str:
    r = client.post("/api/v1/reservations", json=body(now, 24, 26, kind="gpu"), headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_refusal_offers_the_waitlist_and_the_same_body_joins_it(
    client: TestClient, alice: Headers, now: datetime, user_headers: Callable[..., Headers]
) -> None:
    bob = user_headers("bob")
    fill(client, alice, now)
    wanted = body(now, 24, 26, kind="gpu")
    refused = client.post("/api/v1/reservations", json=wanted, headers=bob)
    assert refused.status_code == 409
    assert refused.json()["waitlist"] is True
    assert "suggestion" in refused.json()

    joined = client.post("/api/v1/waitlist", json=wanted, headers=bob)
    assert joined.status_code == 201, joined.text
    entry = joined.json()
    assert entry["state"] == "WAITING"
    assert entry["owner"] == "bob"
    assert (entry["start"], entry["end"]) == (wanted["start"], wanted["end"])
    assert entry["gpu"] == {"kind": "gpu", "count": 1}
    assert (entry["cpu"], entry["memory"]) == (32.0, "192Gi")  # the kind's defaults
    assert entry["offer"] is None

    again = client.post("/api/v1/waitlist", json=wanted, headers=bob)
    assert again.status_code == 409
    assert "already on the waitlist" in again.json()["detail"]
    assert client.get("/api/v1/waitlist", headers=bob).json() == [entry]
    assert client.get(f"/api/v1/waitlist/{entry['id']}", headers=bob).json() == entry
    # another user sees nothing of it; an admin sees everyone's
    assert client.get("/api/v1/waitlist", headers=alice).json() == []
    assert client.get(f"/api/v1/waitlist/{entry['id']}", headers=alice).status_code == 404
    root = user_headers("root", "admin")
    assert [e["id"] for e in client.get("/api/v1/waitlist", headers=root).json()] == [entry["id"]]
    assert client.get("/api/v1/waitlist?mine=true", headers=root).json() == []


def test_the_rules_of_a_booking_check_a_join(
    client: TestClient, alice: Headers, now: datetime
) -> None:
    r = client.post("/api/v1/waitlist", json=body(now, -3, 2, kind="gpu"), headers=alice)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "start"
    r = client.post("/api/v1/waitlist", json=body(now, 1, 2, kind="h100"), headers=alice)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "gpu.kind"
    r = client.post("/api/v1/waitlist", json={**body(now, 1, 2), "pool": "nope"}, headers=alice)
    assert r.status_code == 404
    assert client.post("/api/v1/waitlist", json=body(now, 1, 2), headers={}).status_code == 401


def test_withdraw(
    client: TestClient, alice: Headers, now: datetime, user_headers: Callable[..., Headers]
) -> None:
    bob = user_headers("bob")
    entry = client.post("/api/v1/waitlist", json=body(now, 24, 26, kind="gpu"), headers=bob).json()
    assert client.delete(f"/api/v1/waitlist/{entry['id']}", headers=alice).status_code == 404
    assert client.delete(f"/api/v1/waitlist/{entry['id']}", headers=bob).status_code == 204
    got = client.get(f"/api/v1/waitlist/{entry['id']}", headers=bob).json()
    assert got["state"] == "WITHDRAWN"
    assert client.delete(f"/api/v1/waitlist/{entry['id']}", headers=bob).status_code == 409


def test_an_offer_from_the_notify_sweep_accepted_becomes_a_booking(
    client: TestClient,
    alice: Headers,
    now: datetime,
    db: Database,
    settings: Settings,
    user_headers: Callable[..., Headers],
) -> None:
    bob = user_headers("bob")
    held = fill(client, alice, now)
    entry = client.post("/api/v1/waitlist", json=body(now, 24, 26, kind="gpu"), headers=bob).json()
    sweep(db, settings, now)
    assert client.get(f"/api/v1/waitlist/{entry['id']}", headers=bob).json()["state"] == "WAITING"
    assert client.post(f"/api/v1/waitlist/{entry['id']}/accept", headers=bob).status_code == 409

    assert client.post(f"/api/v1/reservations/{held}/cancel", headers=alice).status_code == 200
    sweep(db, settings, now)
    offered = client.get(f"/api/v1/waitlist/{entry['id']}", headers=bob).json()
    assert offered["state"] == "OFFERED"
    assert offered["offer_status"] == "PENDING"
    assert offered["offer_until"] == iso(now + timedelta(minutes=settings.waitlist_offer_minutes))
    note = client.get("/api/v1/me/notifications", headers=bob).json()
    assert [n["kind"] for n in note["items"]] == ["offer"]
    # the held capacity is the offer's: alice cannot take it back meanwhile
    again = client.post("/api/v1/reservations", json=body(now, 24, 26, kind="gpu"), headers=alice)
    assert again.status_code == 409

    assert client.post(f"/api/v1/waitlist/{entry['id']}/accept", headers=alice).status_code == 404
    accepted = client.post(f"/api/v1/waitlist/{entry['id']}/accept", headers=bob)
    assert accepted.status_code == 200, accepted.text
    got = accepted.json()
    assert got["entry"]["state"] == "ACCEPTED"
    assert got["reservation"]["status"] == "APPROVED"
    assert got["reservation"]["id"] == offered["offer"]
    assert got["reservation"]["owner"] == "bob"
    mine = client.get("/api/v1/reservations", params={"mine": "true"}, headers=bob).json()
    assert [r["id"] for r in mine] == [offered["offer"]]


def test_decline_and_lapse_pass_the_offer_on(
    client: TestClient,
    alice: Headers,
    now: datetime,
    db: Database,
    settings: Settings,
    user_headers: Callable[..., Headers],
) -> None:
    bob, carol, dave = user_headers("bob"), user_headers("carol"), user_headers("dave")
    held = fill(client, alice, now)
    wanted = body(now, 24, 26, kind="gpu")
    eb = client.post("/api/v1/waitlist", json=wanted, headers=bob).json()["id"]
    ec = client.post("/api/v1/waitlist", json=wanted, headers=carol).json()["id"]
    ed = client.post("/api/v1/waitlist", json=wanted, headers=dave).json()["id"]
    client.post(f"/api/v1/reservations/{held}/cancel", headers=alice)
    sweep(db, settings, now)
    assert client.get(f"/api/v1/waitlist/{eb}", headers=bob).json()["state"] == "OFFERED"

    declined = client.post(f"/api/v1/waitlist/{eb}/decline", headers=bob)
    assert declined.status_code == 200
    assert declined.json()["state"] == "DECLINED"
    assert declined.json()["offer_status"] == "CANCELED"
    assert client.post(f"/api/v1/waitlist/{eb}/decline", headers=bob).status_code == 409
    sweep(db, settings, now)
    assert client.get(f"/api/v1/waitlist/{ec}", headers=carol).json()["state"] == "OFFERED"

    # carol does not answer: past the hold the offer cannot be accepted, and lapses
    lapse = now + timedelta(minutes=settings.waitlist_offer_minutes)
    with db.transaction() as tx:
        assert holds.expire(tx, lapse - timedelta(seconds=1)) == []
    sweep(db, settings, lapse)
    lapsed = client.get(f"/api/v1/waitlist/{ec}", headers=carol).json()
    assert (lapsed["state"], lapsed["offer_status"]) == ("LAPSED", "EXPIRED")
    assert client.get(f"/api/v1/waitlist/{ed}", headers=dave).json()["state"] == "OFFERED"
    assert client.post(f"/api/v1/waitlist/{ec}/accept", headers=carol).status_code == 409


def test_withdrawing_an_offered_entry_cancels_its_offer_and_passes_it_on(
    client: TestClient,
    alice: Headers,
    now: datetime,
    db: Database,
    settings: Settings,
    user_headers: Callable[..., Headers],
) -> None:
    bob, carol = user_headers("bob"), user_headers("carol")
    held = fill(client, alice, now)
    wanted = body(now, 24, 26, kind="gpu")
    eb = client.post("/api/v1/waitlist", json=wanted, headers=bob).json()["id"]
    ec = client.post("/api/v1/waitlist", json=wanted, headers=carol).json()["id"]
    client.post(f"/api/v1/reservations/{held}/cancel", headers=alice)
    sweep(db, settings, now)
    offer = client.get(f"/api/v1/waitlist/{eb}", headers=bob).json()["offer"]
    assert client.delete(f"/api/v1/waitlist/{eb}", headers=bob).status_code == 204
    gone = client.get(f"/api/v1/reservations/{offer}", headers=bob).json()
    assert (gone["status"], gone["reason"]) == ("CANCELED", "the waitlist entry was withdrawn")
    sweep(db, settings, now)
    assert client.get(f"/api/v1/waitlist/{ec}", headers=carol).json()["state"] == "OFFERED"


def test_an_offer_canceled_as_a_reservation_settles_its_entry_as_declined(
    client: TestClient,
    alice: Headers,
    now: datetime,
    db: Database,
    settings: Settings,
    user_headers: Callable[..., Headers],
) -> None:
    bob = user_headers("bob")
    held = fill(client, alice, now)
    eb = client.post("/api/v1/waitlist", json=body(now, 24, 26, kind="gpu"), headers=bob).json()
    client.post(f"/api/v1/reservations/{held}/cancel", headers=alice)
    sweep(db, settings, now)
    offer = client.get(f"/api/v1/waitlist/{eb['id']}", headers=bob).json()["offer"]
    assert client.post(f"/api/v1/reservations/{offer}/cancel", headers=bob).status_code == 200
    sweep(db, settings, now)
    assert client.get(f"/api/v1/waitlist/{eb['id']}", headers=bob).json()["state"] == "DECLINED"
