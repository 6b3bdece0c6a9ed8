"""Holds: PENDING reservations keep their capacity until `hold_until` (docs/teams.md).

A hold is made by an approval request (`hold_kind` "approval") or a waitlist offer ("offer").
Nobody answering in time makes it EXPIRED: `expire` is the sweep, run by the portal's timed
loop (`berth notify`, beside the reminders). It locks the rows it moves (SKIP LOCKED), so any
number of sweepers may run, and a decision racing the sweep is applied before or after it,
never half. Each expiry is audited, tells its owner, and NOTIFYs like any status change.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text

from berth.domain.reservation import Status, transition
from berth.store import audit
from berth.store.db import Tx
from berth.store.models import Reservation
from berth.store.notifications import notify

NOTIFY_CHANNEL = "berth_reservations"
BATCH = 500

_HOLD_NAME = {"approval": "approval request", "offer": "waitlist offer"}


def expire(tx: Tx, now: datetime, limit: int = BATCH) -> list[Reservation]:
    """Move up to `limit` PENDING reservations whose hold has ended to EXPIRED; return them
    (their `hold_kind` says what lapsed: a waitlist's sweep passes an offer on)."""
    rows = tx.scalars(
        select(Reservation)
        .where(Reservation.status == Status.PENDING.value, Reservation.hold_until <= now)
        .order_by(Reservation.hold_until)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.status = transition(Status(row.status), Status.EXPIRED).value
        what = _HOLD_NAME.get(row.hold_kind or "", "hold")
        row.reason = f"the {what} was not answered by {row.hold_until:%Y-%m-%d %H:%M} UTC"
        row.updated_at = now
        audit.record(
            tx,
            "berth",
            "reservation.expire",
            f"reservation:{row.id}",
            {"hold_kind": row.hold_kind, "hold_until": _iso(row.hold_until)},
        )
        notify(
            tx,
            user_id=row.owner_id,
            kind="offer" if row.hold_kind == "offer" else "request",
            title=f"Your {what} expired",
            body=f"{row.gpu_count} x {row.gpu_kind} in pool {row.pool} from "
            f"{row.start_at:%Y-%m-%d %H:%M} UTC: {row.reason}; its capacity is free again.",
            reservation_id=row.id,
        )
        _wake(tx, row.id)
    return list(rows)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _wake(tx: Tx, reservation_id: uuid.UUID) -> None:
    tx.execute(text("SELECT pg_notify(:c, :id)"), {"c": NOTIFY_CHANNEL, "id": str(reservation_id)})
