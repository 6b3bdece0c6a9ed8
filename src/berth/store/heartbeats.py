"""Heartbeats of background components (one row each, overwritten)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from berth.store.db import Tx
from berth.store.models import Heartbeat


def beat(tx: Tx, component: str, at: datetime, details: dict[str, Any]) -> None:
    tx.execute(
        insert(Heartbeat)
        .values(component=component, at=at, details=details)
        .on_conflict_do_update(
            index_elements=[Heartbeat.component], set_={"at": at, "details": details}
        )
    )


def all_beats(tx: Tx) -> list[Heartbeat]:
    return list(tx.scalars(select(Heartbeat).order_by(Heartbeat.component)))


def forget(tx: Tx, component: str) -> None:
    """Drop a component's heartbeat (one that no longer runs, so its last state misleads)."""
    tx.execute(delete(Heartbeat).where(Heartbeat.component == component))
