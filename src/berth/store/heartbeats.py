"""Heartbeats of background components (one row each, overwritten)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from berth.store.db import Tx
from berth.store.models import Heartbeat

RECONCILER = "reconciler"  # the default cluster's reconciler (the name it always had)


def reconciler_component(cluster: str) -> str:
    """The heartbeat of a cluster's reconciler: `reconciler`, `reconciler:<cluster>`."""
    return RECONCILER if cluster == "default" else f"{RECONCILER}:{cluster}"


def cluster_of(component: str) -> str | None:
    """The cluster a reconciler's heartbeat is about; None for other components."""
    if component == RECONCILER:
        return "default"
    prefix = f"{RECONCILER}:"
    return component[len(prefix) :] if component.startswith(prefix) else None


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
