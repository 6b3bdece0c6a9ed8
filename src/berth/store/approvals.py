"""Approval requests: who may decide them, the decision, and the list to decide (docs/teams.md).

A booking the rules want approved is PENDING with hold kind "approval" (`reservations.book`,
`domain.approval`). The leads of its team (`team_people.lead`) and admins decide it; nobody
decides their own request unless they are an admin. A decision locks the row (FOR UPDATE), as
cancel does and as the expiry sweep (`holds.expire`, SKIP LOCKED) does, so a decision racing a
cancel, another decision or the sweep is applied wholly before or after it: the later one
finds the row no longer PENDING (409). Approving re-checks nothing: the request has held its
capacity all along. Every decision is audited and told to the owner.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, text

from berth.domain.approval import HOLD_KIND
from berth.domain.reservation import Status, transition
from berth.store import audit
from berth.store.db import Tx
from berth.store.errors import Conflict, Forbidden, NotFound
from berth.store.models import TEAM_PEOPLE, Reservation, Team, User
from berth.store.notifications import notify
from berth.store.users import Principal

NOTIFY_CHANNEL = "berth_reservations"


def _leads(tx: Tx, team_id: int | None) -> list[int]:
    if team_id is None:
        return []
    q = select(TEAM_PEOPLE.c.user_id).where(
        TEAM_PEOPLE.c.team_id == team_id, TEAM_PEOPLE.c.lead.is_(True)
    )
    return [int(u) for u in tx.scalars(q)]


def deciders(tx: Tx, row: Reservation) -> list[int]:
    """Who is told of a request: the enabled leads of its team, or, when it has none, the
    enabled admins; never its owner."""
    enabled = select(User.id).where(User.disabled.is_(False), User.id != row.owner_id)
    leads = _leads(tx, row.team_id)
    q = enabled.where(User.id.in_(leads)) if leads else enabled.where(User.role == "admin")
    return sorted(int(u) for u in tx.scalars(q))


def requested(tx: Tx, who: Principal, row: Reservation) -> None:
    """Tell the deciders of a new approval request (in the booking's transaction)."""
    for user_id in deciders(tx, row):
        notify(
            tx,
            user_id=user_id,
            kind="request",
            title=f"{who.username} asks for approval",
            body=f"{row.gpu_count} x {row.gpu_kind} in pool {row.pool} from "
            f"{row.start_at:%Y-%m-%d %H:%M} to {row.end_at:%Y-%m-%d %H:%M} UTC needs approval: "
            f"{row.reason}. It holds its capacity until {row.hold_until:%Y-%m-%d %H:%M} UTC.",
            reservation_id=row.id,
        )


def may_decide(tx: Tx, who: Principal, row: Reservation) -> bool:
    """An admin, or a lead of the reservation's team who is not its owner."""
    if who.is_admin:
        return True
    return row.owner_id != who.id and who.id in _leads(tx, row.team_id)


def decide(
    tx: Tx,
    who: Principal,
    reservation_id: uuid.UUID,
    approve: bool,
    now: datetime,
    reason: str | None = None,
    client: str | None = None,
) -> Reservation:
    """Approve (APPROVED) or reject (REJECTED, with `reason`) a PENDING approval request.

    404 for one the caller may not see; 403 for their own (unless an admin) or one they see
    but may not decide; 409 when it is no longer PENDING (decided, canceled, expired) or its
    hold has ended (the sweep will expire it)."""
    row = tx.scalar(
        select(Reservation)
        .where(Reservation.id == reservation_id)
        .with_for_update()
        # a row this transaction read before must be read again under the lock
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(f"no reservation {reservation_id}")
    if not may_decide(tx, who, row):
        if row.owner_id == who.id:
            raise Forbidden("you cannot decide your own request: a lead of its team or an admin")
        raise NotFound(f"no reservation {reservation_id}")
    if row.status != Status.PENDING.value or row.hold_kind != HOLD_KIND:
        raise Conflict(f"this reservation is {row.status}, not waiting for approval")
    assert row.hold_until is not None  # a PENDING row always has one (check constraint)
    if row.hold_until <= now:
        raise Conflict(
            f"this request expired at {row.hold_until.isoformat()}: its capacity is no longer held"
        )
    asked_because = row.reason
    details: dict[str, Any] = {"requested_because": asked_because}
    if approve:
        row.status = transition(Status.PENDING, Status.APPROVED).value
        row.reason = None
        action, verdict = "reservation.approve", "approved"
    else:
        row.status = transition(Status.PENDING, Status.REJECTED).value
        row.reason = reason
        details["reason"] = reason
        action, verdict = "reservation.reject", "rejected"
    row.updated_at = now
    audit.record(tx, who.username, action, f"reservation:{row.id}", details, client)
    because = f": {reason}" if reason else "; it will start as booked"
    notify(
        tx,
        user_id=row.owner_id,
        kind="request",
        title=f"Your request was {verdict}",
        body=f"{who.username} {verdict} your {row.gpu_count} x {row.gpu_kind} in pool "
        f"{row.pool} from {row.start_at:%Y-%m-%d %H:%M} UTC{because}.",
        reservation_id=row.id,
    )
    tx.execute(text("SELECT pg_notify(:c, :id)"), {"c": NOTIFY_CHANNEL, "id": str(row.id)})
    return row


def pending(tx: Tx, who: Principal, limit: int = 500) -> Sequence[Row[Reservation, str, str]]:
    """The PENDING approval requests `who` may decide (an admin: all), by hold end: rows of
    (Reservation, owner's username, team name)."""
    q = (
        select(Reservation, User.username, Team.name)
        .join(User, User.id == Reservation.owner_id)
        .outerjoin(Team, Team.id == Reservation.team_id)
        .where(Reservation.status == Status.PENDING.value, Reservation.hold_kind == HOLD_KIND)
    )
    if not who.is_admin:
        led = select(TEAM_PEOPLE.c.team_id).where(
            TEAM_PEOPLE.c.user_id == who.id, TEAM_PEOPLE.c.lead.is_(True)
        )
        q = q.where(Reservation.team_id.in_(led), Reservation.owner_id != who.id)
    q = q.order_by(Reservation.hold_until, Reservation.id).limit(limit)
    return tx.execute(q).all()
