"""Recording notifications, in the caller's transaction, and what the bell reads.

`notify` inserts the message and one delivery row per channel the user chose; nothing is sent
here. A state change and its message commit (or roll back) together. Delivery is
`store.deliveries` and the `berth notify` process; see docs/notifications.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from berth.domain import notifications as rules
from berth.store import audit
from berth.store.models import Notification, NotificationDelivery, NotificationPreferences

LIST_LIMIT = 50


def preferences(db: Session, user_id: int) -> rules.Preferences:
    """A user's preferences; the defaults (portal only, reminders 30 and 5 min) without a row."""
    row = db.get(NotificationPreferences, user_id)
    if row is None:
        return rules.Preferences()
    return rules.Preferences(
        email=row.email,
        webhook_url=row.webhook_url,
        channels={k: tuple(v) for k, v in row.channels.items()},
        lead_minutes=tuple(row.lead_minutes),
    )


def save_preferences(
    db: Session,
    user_id: int,
    prefs: rules.Preferences,
    now: datetime,
    *,
    actor: str | None = None,
    client: str | None = None,
) -> None:
    """Store checked preferences (the API checks them, and the webhook's host, first); with an
    `actor`, an audit entry names the webhook's host (never the URL: it may carry a secret)."""
    values = {
        "email": prefs.email,
        "webhook_url": prefs.webhook_url,
        "channels": {k: list(v) for k, v in prefs.channels.items()},
        "lead_minutes": list(prefs.lead_minutes),
        "updated_at": now,
    }
    db.execute(
        insert(NotificationPreferences)
        .values(user_id=user_id, **values)
        .on_conflict_do_update(index_elements=[NotificationPreferences.user_id], set_=values)
    )
    if actor is not None:
        host = rules.check_webhook_syntax(prefs.webhook_url)[0] if prefs.webhook_url else None
        details = {
            "email": prefs.email is not None,
            "webhook_host": host,
            "channels": values["channels"],
            "lead_minutes": values["lead_minutes"],
        }
        audit.record(db, actor, "notification_preferences.update", f"user:{actor}", details, client)


def _record(
    db: Session,
    *,
    user_id: int,
    kind: str,
    title: str,
    body: str,
    reservation_id: uuid.UUID | None,
    actions: Sequence[str],
    dedupe: str | None,
    now: datetime | None,
) -> int | None:
    """Insert the message and its deliveries; None if `dedupe` says it was recorded before."""
    rules.check_kind(kind)
    checked = rules.check_actions(actions)
    values: dict[str, object] = {
        "user_id": user_id,
        "reservation_id": reservation_id,
        "kind": kind,
        "title": title,
        "body": body,
        "actions": checked,
        "dedupe": dedupe,
    }
    if now is not None:
        values["created_at"] = now
    stmt = insert(Notification).values(**values)
    if dedupe is not None:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=[Notification.reservation_id, Notification.dedupe],
            index_where=Notification.dedupe.is_not(None),
        )
    nid = db.execute(stmt.returning(Notification.id)).scalar()
    if nid is None:
        return None
    channels = preferences(db, user_id).channels_for(kind)
    if channels:
        due = now if now is not None else func.now()
        db.execute(
            insert(NotificationDelivery).values(
                [{"notification_id": nid, "channel": c, "next_attempt_at": due} for c in channels]
            )
        )
    return int(nid)


def notify(
    db: Session,
    *,
    user_id: int,
    kind: str,
    title: str,
    body: str,
    reservation_id: uuid.UUID | None = None,
    actions: Sequence[str] = (),
) -> int:
    """Record a message to `user_id` in the caller's transaction and queue its deliveries on
    the user's chosen channels; return its id. ValueError on an unknown kind or action."""
    nid = _record(
        db,
        user_id=user_id,
        kind=kind,
        title=title,
        body=body,
        reservation_id=reservation_id,
        actions=actions,
        dedupe=None,
        now=None,
    )
    assert nid is not None  # without a dedupe key nothing conflicts
    return nid


def notify_once(
    db: Session,
    *,
    user_id: int,
    kind: str,
    title: str,
    body: str,
    reservation_id: uuid.UUID,
    actions: Sequence[str],
    dedupe: str,
    now: datetime,
) -> int | None:
    """Like `notify`, at most once per reservation and `dedupe` key even with several
    processes at once (the unique index decides); None when it was recorded before."""
    return _record(
        db,
        user_id=user_id,
        kind=kind,
        title=title,
        body=body,
        reservation_id=reservation_id,
        actions=actions,
        dedupe=dedupe,
        now=now,
    )


def listed(db: Session, user_id: int, limit: int = LIST_LIMIT) -> list[Notification]:
    """A user's latest messages, newest first."""
    q = (
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(db.scalars(q))


def unread(db: Session, user_id: int) -> int:
    q = select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    return int(db.scalar(q) or 0)


def owned(db: Session, user_id: int, notification_id: int) -> bool:
    found = db.get(Notification, notification_id)
    return found is not None and found.user_id == user_id


def mark_read(db: Session, user_id: int, ids: Sequence[int] | None, now: datetime) -> int:
    """Mark the user's messages `ids` (None: all) read; return how many changed. Others'
    ids are ignored, as if they did not exist."""
    q = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if ids is not None:
        q = q.where(Notification.id.in_(list(ids)))
    result = db.execute(q.values(read_at=now).returning(Notification.id))
    return len(result.all())
