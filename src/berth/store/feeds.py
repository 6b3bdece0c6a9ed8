"""Private iCalendar feeds: a secret URL a calendar app fetches without a cookie.

One feed per user. Its secret is 32 random bytes shown once (like an API token), kept as
SHA-256 so a read of the database gives no working URL; creating a feed again replaces the
hash (the old URL stops at once), revoking deletes it. Reading a feed is one indexed query
that finds the user by the hash and their reservations in the window together.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, select
from sqlalchemy.dialects.postgresql import insert

from berth.store import audit
from berth.store.db import Tx
from berth.store.models import CalendarFeed, Reservation, User
from berth.store.users import Principal

PREFIX = "berthcal_"
LIMIT = 2000  # reservations in one feed: a user's 30 days back and the horizon ahead


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def create(tx: Tx, who: Principal, now: datetime, client: str | None = None) -> str:
    """A new feed secret for `who`, replacing any earlier one; returned once, never stored."""
    secret = PREFIX + secrets.token_urlsafe(32)
    replaced = created_at(tx, who) is not None
    # one statement, so two creations at once both succeed (the last one's secret stays)
    values = {"token_hash": _digest(secret), "created_at": now}
    tx.execute(
        insert(CalendarFeed)
        .values(user_id=who.id, **values)
        .on_conflict_do_update(index_elements=[CalendarFeed.user_id], set_=values)
    )
    audit.record(
        tx,
        who.username,
        "calendar_feed.create",
        f"user:{who.username}",
        {"replaced": replaced},
        client,
    )
    return secret


def revoke(tx: Tx, who: Principal, client: str | None = None) -> bool:
    """Delete `who`'s feed; False if there was none."""
    gone = tx.execute(
        delete(CalendarFeed).where(CalendarFeed.user_id == who.id).returning(CalendarFeed.user_id)
    ).first()
    if gone is not None:
        audit.record(tx, who.username, "calendar_feed.revoke", f"user:{who.username}", {}, client)
    return gone is not None


def created_at(tx: Tx, who: Principal) -> datetime | None:
    """When `who`'s feed was made, or None without one."""
    return tx.scalar(select(CalendarFeed.created_at).where(CalendarFeed.user_id == who.id))


@dataclass(frozen=True)
class Feed:
    username: str
    reservations: Sequence[Row[Any]]


_COLUMNS = (
    "id",
    "status",
    "pool",
    "start_at",
    "end_at",
    "gpu_kind",
    "gpu_count",
    "mode",
    "reason",
    "created_at",
    "updated_at",
)


def read(tx: Tx, secret: str, since: datetime, until: datetime) -> Feed | None:
    """The owner of a live feed secret and their reservations overlapping [since, until), in
    every status, by start; None for an unknown or revoked secret or a disabled user. One
    query: the feed's row by its unique hash, its user, and an outer join to the
    reservations (so a user with none still gets an empty feed)."""
    q = (
        select(User.username, *(getattr(Reservation, c) for c in _COLUMNS))
        .select_from(CalendarFeed)
        .join(User, and_(User.id == CalendarFeed.user_id, User.disabled.is_(False)))
        .outerjoin(
            Reservation,
            and_(
                Reservation.owner_id == CalendarFeed.user_id,
                Reservation.end_at > since,
                Reservation.start_at < until,
            ),
        )
        .where(CalendarFeed.token_hash == _digest(secret))
        .order_by(Reservation.start_at, Reservation.id)
        .limit(LIMIT)
    )
    rows = tx.execute(q).all()
    if not rows:
        return None
    return Feed(rows[0].username, [r for r in rows if r.id is not None])
