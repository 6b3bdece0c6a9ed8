"""The audit log: written in the same transaction as the change it records, pruned by age."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from berth.store.db import Tx
from berth.store.models import AuditEntry


def record(
    tx: Tx,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
    client: str | None = None,
) -> None:
    tx.add(
        AuditEntry(actor=actor, action=action, target=target, details=details or {}, client=client)
    )


def query(
    tx: Tx,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditEntry]:
    """Newest first; `before_id` pages backwards."""
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if action:
        q = q.where(AuditEntry.action == action)
    if since:
        q = q.where(AuditEntry.at >= since)
    if until:
        q = q.where(AuditEntry.at < until)
    if before_id:
        q = q.where(AuditEntry.id < before_id)
    return list(tx.scalars(q))


def prune(tx: Tx, older_than: datetime) -> int:
    """Delete entries older than the retention cut-off; return how many went."""
    result = tx.execute(delete(AuditEntry).where(AuditEntry.at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)


def retry_after(
    tx: Tx,
    *,
    action: str,
    client: str | None,
    within: timedelta,
    limit: int,
    actor: str | None = None,
) -> int | None:
    """Seconds until fewer than `limit` `action` entries from `client` (and by `actor`, if
    given) lie within the last `within`; None if there are fewer already.

    That is when the `limit`-th newest entry leaves the window. Measured on the database
    clock, the one audit times are written with; one indexed query, whatever the window holds.
    """
    q = (
        select(func.ceil(func.extract("epoch", AuditEntry.at + within - func.now())))
        .where(
            AuditEntry.action == action,
            AuditEntry.client.is_(None) if client is None else AuditEntry.client == client,
            AuditEntry.at > func.now() - within,
        )
        .order_by(AuditEntry.at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    if actor is not None:
        q = q.where(AuditEntry.actor == actor)
    seconds = tx.scalar(q)
    return None if seconds is None else max(int(seconds), 1)
