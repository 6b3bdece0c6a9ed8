"""Approvals (docs/teams.md#approvals): rules make a booking PENDING, which holds capacity until
a team lead or an admin decides it or its hold ends; who may decide; decisions racing each
other, cancels and the expiry sweep."""

from __future__ import annotations

import dataclasses
import random
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from berth.api.deps import clock
from berth.config import load_pool_file
from berth.domain.approval import ApprovalRules, Limits
from berth.domain.policy import BookingPolicy
from berth.domain.reservation import Mode, Request, Status
from berth.store import approvals, holds, pools, reservations, users
from berth.store.db import Database
from berth.store.errors import Conflict
from berth.store.models import AuditEntry, Notification, Reservation, Team, TeamMember, User
from tests.api.conftest import Headers
from tests.api.test_reservations import body

# in the demo pool (4 x mig-1g.24gb, 1 x gpu): more than 2 slices, or longer than 24 hours
RULES = ApprovalRules(over_hours=24, over_units=2, kinds={"gpu": Limits(over_hours=8)})
H = timedelta(hours=1)


@pytest.fixture
def ruled(db: Database) -> Database:
    (pool,) = load_pool_file()
    with db.transaction() as tx:
        pools.sync(tx, [dataclasses.replace(pool, approval=RULES)])
    return db


def make_team(db: Database, name: str, people: dict[str, bool]) -> int:
    """A team of existing users, `people` by name: lead or not."""
    with db.transaction() as tx:
        team = Team(name=name)
        tx.add(team)
        tx.flush()
        for username, lead in people.items():
            user_id = tx.scalar(select(User.id).where(User.username == username))
            tx.add(TeamMember(team_id=team.id, user_id=user_id, lead=lead))
        return team.id


@pytest.fixture
def people(
    ruled: Database, user_headers: Callable[..., Headers], admin: Headers
) -> dict[str, Headers]:
    """alice and carol in team ml, bob its lead; dave leads team cv; root is an admin."""
    heads = {name: user_headers(name) for name in ("alice", "bob", "carol", "dave")}
    heads["root"] = admin
    make_team(ruled, "ml", {"alice": False, "bob": True, "carol": False})
    make_team(ruled, "cv", {"dave": True})
    return heads


def book(client: TestClient, who: Headers, payload: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/v1/reservations", json=payload, headers=who)
    assert r.status_code == 201, r.text
    got: dict[str, Any] = r.json()
    return got


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def test_within_the_rules_is_approved_at_once(
    client: TestClient, people: dict[str, Headers], now: datetime
) -> None:
    got = book(client, people["alice"], body(now, 1, 9, count=2))
    assert (got["status"], got["hold_kind"], got["hold_until"]) == ("APPROVED", None, None)


def test_over_a_rule_is_pending_holds_and_says_why(
    client: TestClient, people: dict[str, Headers], now: datetime, ruled: Database
) -> None:
    far = book(client, people["alice"], body(now, 96, 100, count=3))
    assert far["status"] == "PENDING"
    assert far["hold_kind"] == "approval"
    assert far["reason"] == "more than 2 x mig-1g.24gb (3 asked)"
    assert far["hold_until"] == iso(now + 48 * H)  # BERTH_APPROVAL_HOLD_HOURS
    soon = book(client, people["alice"], body(now, 10, 11, kind="gpu"))
    assert (soon["status"], soon["hold_until"]) == ("APPROVED", None)  # 1 hour of gpu: fine
    client.post(f"/api/v1/reservations/{soon['id']}/cancel", headers=people["alice"])
    soon = book(client, people["alice"], body(now, 10, 20, kind="gpu"))
    assert soon["reason"] == "longer than 8 hours (10 hours)"  # the kind's own rule
    assert soon["hold_until"] == iso(now + 10 * H)  # no later than its start
    from_now = book(client, people["carol"], body(now, 0, 30, count=1))
    assert from_now["reason"] == "longer than 24 hours (30 hours)"
    assert from_now["hold_until"] == iso(now + H)  # the minimum: time to answer
    mine = client.get("/api/v1/reservations", headers=people["alice"]).json()
    assert {r["id"]: r["status"] for r in mine} == {
        far["id"]: "PENDING",
        soon["id"]: "PENDING",
        **{r["id"]: "CANCELED" for r in mine if r["status"] == "CANCELED"},
    }
    with ruled.transaction() as tx:
        entry = tx.scalars(
            select(AuditEntry).where(AuditEntry.target == f"reservation:{far['id']}")
        ).one()
        row = tx.get(Reservation, uuid.UUID(far["id"]))
        assert row is not None
        assert row.team_id is not None
    assert entry.action == "reservation.create"
    assert entry.details["approval_reason"] == far["reason"]
    assert entry.details["hold"] == "approval"


def test_the_leads_are_told_of_a_request_and_the_owner_of_the_decision(
    client: TestClient, people: dict[str, Headers], now: datetime, ruled: Database
) -> None:
    got = book(client, people["alice"], body(now, 2, 4, count=3))
    bob_sees = client.get("/api/v1/me/notifications", headers=people["bob"]).json()
    assert [n["kind"] for n in _items(bob_sees)] == ["request"]
    assert "alice asks for approval" in _items(bob_sees)[0]["title"]
    for other in ("carol", "dave", "root"):  # ml has a lead: admins are not bothered
        assert _items(client.get("/api/v1/me/notifications", headers=people[other]).json()) == []
    r = client.post(f"/api/v1/reservations/{got['id']}/approve", headers=people["bob"])
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["hold_until"]) == ("APPROVED", None)
    told = _items(client.get("/api/v1/me/notifications", headers=people["alice"]).json())
    assert [(n["kind"], n["title"]) for n in told] == [("request", "Your request was approved")]
    with ruled.transaction() as tx:
        actions = tx.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.target == f"reservation:{got['id']}")
            .order_by(AuditEntry.id)
        ).all()
    assert actions == ["reservation.create", "reservation.approve"]


def _items(answer: Any) -> list[dict[str, Any]]:
    items = answer["items"]
    assert isinstance(items, list)
    return items


def test_without_a_lead_the_admins_are_told(
    client: TestClient, ruled: Database, user_headers: Callable[..., Headers], now: datetime
) -> None:
    erin, root = user_headers("erin"), user_headers("root", "admin")
    book(client, erin, body(now, 2, 4, count=4))  # in no team
    assert [
        n["kind"] for n in _items(client.get("/api/v1/me/notifications", headers=root).json())
    ] == ["request"]


def test_who_may_decide(client: TestClient, people: dict[str, Headers], now: datetime) -> None:
    got = book(client, people["alice"], body(now, 2, 4, count=3))
    approve = f"/api/v1/reservations/{got['id']}/approve"
    assert client.post(approve, headers=people["carol"]).status_code == 404  # a member
    assert client.post(approve, headers=people["dave"]).status_code == 404  # another team's lead
    assert client.post(approve, headers=people["alice"]).status_code == 403  # its owner
    assert client.get(f"/api/v1/reservations/{got['id']}", headers=people["alice"]).json()[
        "status"
    ] == ("PENDING")
    # the lead's own request: not theirs to decide; an admin's is
    own = book(client, people["bob"], body(now, 6, 8, count=3))
    r = client.post(f"/api/v1/reservations/{own['id']}/approve", headers=people["bob"])
    assert r.status_code == 403
    assert "your own request" in r.json()["detail"]
    r = client.post(f"/api/v1/reservations/{own['id']}/approve", headers=people["root"])
    assert r.json()["status"] == "APPROVED"


def test_the_list_to_decide(client: TestClient, people: dict[str, Headers], now: datetime) -> None:
    a = book(client, people["alice"], body(now, 2, 4, count=3))
    b = book(client, people["bob"], body(now, 30, 32, count=3))
    book(client, people["alice"], body(now, 40, 41, count=1))  # approved at once

    def ids(who: str) -> list[str]:
        r = client.get("/api/v1/approvals", headers=people[who])
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()]

    assert ids("bob") == [a["id"]]  # not his own
    assert ids("root") == [a["id"], b["id"]]  # everyone's, the soonest to expire first
    assert ids("carol") == ids("dave") == ids("alice") == []
    (listed,) = client.get("/api/v1/approvals", headers=people["bob"]).json()
    assert (listed["team"], listed["owner"], listed["reason"]) == ("ml", "alice", a["reason"])
    client.post(f"/api/v1/reservations/{a['id']}/approve", headers=people["bob"])
    assert ids("bob") == []


def test_reject_needs_a_reason_and_frees_the_capacity(
    client: TestClient, people: dict[str, Headers], now: datetime
) -> None:
    got = book(client, people["alice"], body(now, 2, 4, count=4))  # every slice
    # a PENDING request counts against capacity: one more slice does not fit
    r = client.post("/api/v1/reservations", json=body(now, 3, 4), headers=people["carol"])
    assert r.status_code == 409, r.text
    assert r.json()["shortage"]["resource"] == "mig-1g.24gb"
    reject = f"/api/v1/reservations/{got['id']}/reject"
    assert client.post(reject, json={}, headers=people["bob"]).status_code == 422
    assert client.post(reject, json={"reason": ""}, headers=people["bob"]).status_code == 422
    assert client.post(reject, json={"reason": "  "}, headers=people["bob"]).status_code == 422
    r = client.post(reject, json={"reason": "book a smaller one"}, headers=people["bob"])
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["reason"]) == ("REJECTED", "book a smaller one")
    again = client.post(reject, json={"reason": "no"}, headers=people["bob"])
    assert again.status_code == 409
    approve = client.post(f"/api/v1/reservations/{got['id']}/approve", headers=people["root"])
    assert approve.status_code == 409
    assert book(client, people["carol"], body(now, 3, 4))["status"] == "APPROVED"
    told = _items(client.get("/api/v1/me/notifications", headers=people["alice"]).json())
    assert told[0]["title"] == "Your request was rejected"
    assert "book a smaller one" in told[0]["body"]


def test_an_unanswered_request_expires_and_cannot_be_decided(
    client: TestClient, app: FastAPI, people: dict[str, Headers], now: datetime, ruled: Database
) -> None:
    got = book(client, people["alice"], body(now, 6, 8, count=3))  # holds until its start
    late = now + 6 * H
    app.dependency_overrides[clock] = lambda: late
    r = client.post(f"/api/v1/reservations/{got['id']}/approve", headers=people["bob"])
    assert r.status_code == 409  # its hold has ended, though the sweep has not run yet
    assert "expired" in r.json()["detail"]
    with ruled.transaction() as tx:
        assert holds.expire(tx, late - timedelta(seconds=1)) == []
        (expired,) = holds.expire(tx, late)
        assert expired.id == uuid.UUID(got["id"])
    app.dependency_overrides[clock] = lambda: now
    r = client.post(f"/api/v1/reservations/{got['id']}/approve", headers=people["bob"])
    assert r.status_code == 409
    shown = client.get(f"/api/v1/reservations/{got['id']}", headers=people["alice"]).json()
    assert (shown["status"], shown["hold_until"]) == ("EXPIRED", None)
    # its capacity is free again: the same booking fits (and waits for approval again)
    assert book(client, people["carol"], body(now, 6, 8, count=3))["status"] == "PENDING"


def test_the_owner_may_cancel_a_pending_request(
    client: TestClient, people: dict[str, Headers], now: datetime
) -> None:
    got = book(client, people["alice"], body(now, 2, 4, count=3))
    r = client.post(f"/api/v1/reservations/{got['id']}/cancel", headers=people["alice"])
    assert r.json()["status"] == "CANCELED"
    r = client.post(f"/api/v1/reservations/{got['id']}/approve", headers=people["bob"])
    assert r.status_code == 409


DECISIONS = (
    "reservation.approve",
    "reservation.reject",
    "reservation.cancel",
    "reservation.expire",
)


def test_decisions_cancels_and_the_sweep_racing_end_in_exactly_one_state(
    people: dict[str, Headers], ruled: Database, now: datetime
) -> None:
    """Several randomized rounds: PENDING requests, then at once, per request, its lead
    approves, an admin rejects, its owner cancels, and sweeps expire them (their clock past
    the holds). Each request gets exactly one decision (approved, rejected, expired, or
    canceled while pending), audited once; a cancel may also come after an approval (an
    APPROVED reservation may be canceled). A loser gets a 409 (Conflict), never half a
    change."""
    with ruled.transaction() as tx:
        who = {n: users.principal(users.get(tx, n)) for n in ("alice", "carol", "bob", "root")}
    policy = BookingPolicy(max_concurrent_per_user=100)
    rng = random.Random(17)
    late = now + 49 * H  # the sweeps' clock: past every hold
    outcomes: list[str] = []
    lock = threading.Lock()
    for round_ in range(4):
        outcomes.clear()
        ids: list[uuid.UUID] = []
        with ruled.transaction() as tx:
            for i in range(6):
                owner = who["alice"] if i % 2 else who["carol"]
                start = now + (200 + 10 * (round_ * 6 + i)) * H
                req = Request("c845a", start, start + 25 * H, "mig-1g.24gb", 1, Mode.INTERACTIVE)
                row = reservations.book(tx, owner, req, policy, now)
                assert row.status == Status.PENDING.value
                ids.append(row.id)

        def act(kind: str, rid: uuid.UUID | None) -> None:
            try:
                with ruled.transaction() as tx:
                    if kind == "approve" and rid is not None:
                        approvals.decide(tx, who["bob"], rid, True, now)
                    elif kind == "reject" and rid is not None:
                        approvals.decide(tx, who["root"], rid, False, now, "no")
                    elif kind == "cancel" and rid is not None:
                        row = tx.get(Reservation, rid)
                        assert row is not None
                        owner = who["alice"] if row.owner_id == who["alice"].id else who["carol"]
                        reservations.cancel(tx, owner, rid, now)
                    else:
                        holds.expire(tx, late)
                result = "done"
            except Conflict:
                result = "conflict"
            with lock:
                outcomes.append(result)

        jobs: list[tuple[str, uuid.UUID | None]] = [
            (k, rid) for rid in ids for k in ("approve", "reject", "cancel")
        ]
        jobs += [("expire", None)] * 3
        rng.shuffle(jobs)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda job: act(*job), jobs))
        answered = 0  # the answers to a request that were applied (the sweeps' aside)
        with ruled.transaction() as tx:
            for rid in ids:
                row = tx.get(Reservation, rid)
                assert row is not None
                actions = tx.scalars(
                    select(AuditEntry.action)
                    .where(
                        AuditEntry.target == f"reservation:{rid}",
                        AuditEntry.action.in_(DECISIONS),
                    )
                    .order_by(AuditEntry.id)
                ).all()
                decided = [a.split(".")[1] for a in actions]
                # one decision; a cancel only instead of one or after an approval
                assert decided in EXPECTED[row.status], (row.status, decided)
                answered += len([d for d in decided if d != "expire"])
        assert outcomes.count("done") == 3 + answered  # every other answer was a 409
        assert outcomes.count("conflict") == 3 * len(ids) - answered


EXPECTED = {
    "APPROVED": [["approve"]],
    "REJECTED": [["reject"]],
    "EXPIRED": [["expire"]],
    "CANCELED": [["cancel"], ["approve", "cancel"]],
}


def test_a_pending_request_counts_against_capacity_in_the_store(
    people: dict[str, Headers], ruled: Database, now: datetime
) -> None:
    """A booking that would fit only without the PENDING request is refused."""
    with ruled.transaction() as tx:
        alice = users.principal(users.get(tx, "alice"))
        carol = users.principal(users.get(tx, "carol"))
        start = now + 5 * H
        three = Request("c845a", start, start + 2 * H, "mig-1g.24gb", 3, Mode.INTERACTIVE)
        assert reservations.book(tx, alice, three, BookingPolicy(), now).status == "PENDING"
    with ruled.transaction() as tx:
        two = Request("c845a", start + H, start + 3 * H, "mig-1g.24gb", 2, Mode.INTERACTIVE)
        with pytest.raises(reservations.Short):
            reservations.book(tx, carol, two, BookingPolicy(), now)
    with ruled.transaction() as tx:
        one = dataclasses.replace(two, gpu_count=1)
        assert reservations.book(tx, carol, one, BookingPolicy(), now).status == "APPROVED"
        pending = tx.scalar(
            select(func.count()).select_from(Reservation).where(Reservation.status == "PENDING")
        )
        assert pending == 1
        assert tx.scalar(select(func.count()).select_from(Notification)) >= 1


def test_over_budget_is_refused_unless_asked_then_a_lead_decides(
    client: TestClient, people: dict[str, Headers], now: datetime
) -> None:
    """The budget's 409 offers `ask`; asked, the same booking is a PENDING request whose
    reason is the budget's words, and it holds capacity until the lead approves it."""
    r = client.put(
        "/api/v1/teams/ml/budgets/c845a/mig-1g.24gb",
        json={"gpu_hours_week": 1},
        headers=people["root"],
    )
    assert r.status_code == 204, r.text
    payload = body(now, 1, 9)  # one slice, 8 h: 2 GPU-hours of the 1 the team has
    refused = client.post("/api/v1/reservations", json=payload, headers=people["alice"])
    assert refused.status_code == 409
    assert refused.json()["ask"] is True
    assert refused.json()["budget"]["budget"] == "week"
    asked = book(client, people["alice"], {**payload, "ask": True})
    assert asked["status"] == "PENDING"
    assert asked["hold_kind"] == "approval"
    assert "over the budget of team 'ml'" in asked["reason"]
    decided = client.post(f"/api/v1/reservations/{asked['id']}/approve", headers=people["bob"])
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "APPROVED"
    # the approved booking now counts against the budget: anything more this week is refused
    again = client.post("/api/v1/reservations", json=body(now, 10, 11), headers=people["carol"])
    assert again.status_code == 409
    assert again.json()["budget"]["used"] == 2.0


def test_a_request_that_needs_approval_cannot_wait_on_the_waitlist(
    client: TestClient, people: dict[str, Headers], now: datetime
) -> None:
    """An accepted waitlist offer is APPROVED at once, so the waitlist must not be a way
    around the rules: a request the rules send for approval is refused there (409)."""
    r = client.post("/api/v1/waitlist", json=body(now, 1, 3, count=3), headers=people["alice"])
    assert r.status_code == 409
    assert "needs approval (more than 2 x mig-1g.24gb (3 asked))" in r.json()["detail"]
    assert client.get("/api/v1/waitlist", headers=people["alice"]).json() == []
