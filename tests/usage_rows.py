"""Rows for the cost ledger's tests: reservations and activity samples written straight into
the database (the collector that fills session_activity is not part of these tests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select

from berth.store.db import Database
from berth.store.models import Reservation, SessionActivity, User


def add_reservation(
    db: Database,
    owner: str,
    start: datetime,
    end: datetime,
    *,
    kind: str = "gpu",
    count: int = 1,
    status: str = "COMPLETED",
    reason: str | None = None,
    pool: str = "c845a",
) -> uuid.UUID:
    rid = uuid.uuid4()
    with db.transaction() as tx:
        owner_id = tx.scalar(select(User.id).where(User.username == owner))
        assert owner_id is not None, f"no user {owner}"
        tx.add(
            Reservation(
                id=rid,
                pool=pool,
                owner_id=owner_id,
                start_at=start,
                end_at=end,
                gpu_kind=kind,
                gpu_count=count,
                mode="interactive",
                cpu_millicores=1000 * count,
                memory_bytes=2**30 * count,
                status=status,
                reason=reason,
            )
        )
    return rid


def add_samples(
    db: Database,
    reservation: uuid.UUID,
    ends: Iterable[datetime],
    seconds: int,
    active: float | None,
    tokens_prompt: int | None = None,
    tokens_generated: int | None = None,
) -> None:
    """One sample per end instant, each covering the `seconds` before it."""
    with db.transaction() as tx:
        for at in ends:
            tx.add(
                SessionActivity(
                    reservation_id=reservation,
                    at=at,
                    seconds=seconds,
                    gpu_active=active,
                    tokens_prompt=tokens_prompt,
                    tokens_generated=tokens_generated,
                )
            )


def every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """start + step, start + 2 step, ... up to end: the ends of back-to-back samples."""
    out, t = [], start + step
    while t <= end:
        out.append(t)
        t += step
    return out
