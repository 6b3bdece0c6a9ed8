"""What the delivery loop (`berth notify`) reads and writes: due deliveries, claimed with
FOR UPDATE SKIP LOCKED so several workers never take the same one, each attempt's outcome,
and the window-ending reminders (recorded once per reservation and lead time)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from berth.domain import capacity
from berth.domain import notifications as rules
from berth.domain.pool import CPU, MEMORY
from berth.domain.reservation import Status
from berth.store import pools
from berth.store.db import Tx
from berth.store.models import (
    Notification,
    NotificationDelivery,
    NotificationPreferences,
    Reservation,
)
from berth.store.notifications import notify_once
from berth.store.reservations import live_overlapping


@dataclass(frozen=True)
class Due:
    """One claimed delivery: where to, and what."""

    id: int
    channel: str
    attempts: int
    address: str | None  # the user's e-mail or webhook URL now; None: removed since
    notification_id: int
    reservation_id: uuid.UUID | None
    message: rules.Message


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)


def claim(tx: Tx, now: datetime, limit: int, portal_url: str | None) -> list[Due]:
    """Lock up to `limit` due pending deliveries that no other worker holds (SKIP LOCKED);
    they stay locked until `tx` ends, so each is sent by one worker at a time."""
    q = (
        select(NotificationDelivery, Notification, NotificationPreferences)
        .join(Notification, Notification.id == NotificationDelivery.notification_id)
        .outerjoin(NotificationPreferences, NotificationPreferences.user_id == Notification.user_id)
        .where(NotificationDelivery.state == "pending", NotificationDelivery.next_attempt_at <= now)
        .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=NotificationDelivery)
    )
    out = []
    for d, n, p in tx.execute(q):
        address = None
        if p is not None:
            address = p.email if d.channel == "email" else p.webhook_url
        link = f"{portal_url.rstrip('/')}/reservations" if portal_url else None
        message = rules.Message(n.kind, n.title, n.body, tuple(n.actions), link)
        out.append(Due(d.id, d.channel, d.attempts, address, n.id, n.reservation_id, message))
    return out


def sent(tx: Tx, delivery_id: int, now: datetime) -> None:
    row = tx.get(NotificationDelivery, delivery_id)
    if row is not None:
        row.state, row.sent_at = "sent", now
        row.attempts += 1


def failed(
    tx: Tx, delivery_id: int, error: str, now: datetime, policy: RetryPolicy, *, final: bool
) -> None:
    """Record a failed attempt; retry after a backoff, or give up (`final`, or past the
    limit). Every attempt's error is kept in `errors`."""
    row = tx.get(NotificationDelivery, delivery_id)
    if row is None:
        return
    row.attempts += 1
    row.last_error = error[:2000]
    row.errors = [*row.errors, {"at": now.isoformat(), "error": error[:500]}]
    if final or row.attempts >= policy.max_attempts:
        row.state = "failed"
    else:
        row.next_attempt_at = now + rules.retry_delay(row.attempts, policy.base, policy.cap)


def _may_extend(tx: Tx, r: Reservation, step: timedelta) -> bool:
    """Whether the pool has room for `r` one more `step` past its end now (a hint for the
    message; the extension itself checks again under the booking's locks)."""
    pool = pools.get(tx, r.pool)
    existing = live_overlapping(tx, r.pool, r.end_at, r.end_at + step, exclude=r.id)
    demand = {r.gpu_kind: r.gpu_count, CPU: r.cpu_millicores, MEMORY: r.memory_bytes}
    extra = capacity.Booking(r.end_at, r.end_at + step, demand)
    return capacity.fits(pool.capacity(), existing, extra) is None


def sweep_reminders(tx: Tx, now: datetime, step: timedelta) -> int:
    """Record the window-ending reminders due now (ACTIVE reservations within one of their
    owner's lead times of the end); each once per reservation and lead, whoever sweeps.
    Return how many were recorded."""
    horizon = now + timedelta(minutes=rules.MAX_LEAD_MINUTES)
    q = (
        select(Reservation, NotificationPreferences.lead_minutes)
        .outerjoin(NotificationPreferences, NotificationPreferences.user_id == Reservation.owner_id)
        .where(
            Reservation.status == Status.ACTIVE.value,
            Reservation.end_at > now,
            Reservation.end_at <= horizon,
        )
    )
    recorded = 0
    for r, leads in tx.execute(q).all():
        chosen = rules.DEFAULT_LEAD_MINUTES if leads is None else leads  # []: no reminders
        lead = rules.due_lead(r.end_at, now, chosen)
        if lead is None:
            continue
        left = rules.minutes_left(r.end_at, now)
        actions = (["extend"] if _may_extend(tx, r, step) else []) + ["release", "open"]
        nid = notify_once(
            tx,
            user_id=r.owner_id,
            kind="ending",
            title=f"Your workspace closes in {left} min",
            body=(
                f"The window of your {r.gpu_count} x {r.gpu_kind} in pool {r.pool} ends at "
                f"{r.end_at:%H:%M} UTC; the workspace is deleted then."
            ),
            reservation_id=r.id,
            actions=actions,
            dedupe=f"ending:{lead}",
            now=now,
        )
        recorded += nid is not None
    return recorded
