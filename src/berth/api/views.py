"""Rows and domain objects shaped into response bodies."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import pydantic_core
from fastapi import Response

from berth.api import schemas
from berth.domain.pool import CPU, MEMORY, Pool
from berth.domain.quantity import format_bytes
from berth.store.models import Reservation, SessionRow, User


def user(u: User) -> schemas.UserPublic:
    return schemas.UserPublic(
        username=u.username, role=u.role, disabled=u.disabled, created_at=u.created_at
    )


class ReservationColumns(Protocol):
    """A reservation's columns: a model object, or a row of `store.reservations.search`."""

    id: uuid.UUID
    status: str
    pool: str
    start_at: datetime
    end_at: datetime
    gpu_kind: str
    gpu_count: int
    mode: str
    cpu_millicores: int
    memory_bytes: int
    reason: str | None
    created_at: datetime
    updated_at: datetime


def reservation_data(
    row: ReservationColumns, owner: str, phase: str | None, url: str | None
) -> dict[str, Any]:
    """A reservation as plain data in the shape (and field order) of ReservationPublic."""
    return {
        "id": row.id,
        "status": row.status,
        "owner": owner,
        "pool": row.pool,
        "start": row.start_at,
        "end": row.end_at,
        "gpu": {"kind": row.gpu_kind, "count": row.gpu_count},
        "mode": row.mode,
        "cpu": row.cpu_millicores / 1000,
        "memory": format_bytes(row.memory_bytes),
        "reason": row.reason,
        "phase": phase,
        "workspace_url": url if phase == "ready" else None,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def reservation(
    row: Reservation, owner: str, session: SessionRow | None = None
) -> schemas.ReservationPublic:
    phase, url = (session.phase, session.url) if session else (None, None)
    return schemas.ReservationPublic.model_validate(reservation_data(row, owner, phase, url))


def json_response(content: Any) -> Response:
    """200 with `content`, plain data already in the shape of the route's response model,
    as JSON written the way the model would write it (pydantic_core: datetimes in ISO 8601
    with `Z` for UTC, UUIDs and enums as strings), without building and validating models:
    for long lists, where that was most of the request."""
    return Response(pydantic_core.to_json(content), media_type="application/json")


def amounts(raw: Mapping[str, int]) -> dict[str, float]:
    """Resource amounts for clients: GPU units as they are, cpu in cores, memory in bytes."""
    out: dict[str, float] = {}
    for resource, amount in raw.items():
        if resource == CPU:
            out["cpu"] = amount / 1000
        elif resource == MEMORY:
            out["memory_bytes"] = float(amount)
        else:
            out[resource] = float(amount)
    return out


def pool(p: Pool) -> schemas.PoolPublic:
    cap = p.capacity()
    kinds = []
    for kind in p.kinds().values():
        d = p.defaults_for(kind.name)
        kinds.append(
            schemas.GpuKindPublic(
                name=kind.name,
                units=kind.units,
                replicas=kind.replicas,
                resource=kind.resource,
                model=kind.model,
                memory=format_bytes(kind.memory_bytes),
                default_cpu=d.cpu_millicores / 1000,
                default_memory=format_bytes(d.memory_bytes),
            )
        )
    return schemas.PoolPublic(
        name=p.name,
        kinds=kinds,
        cpu=cap[CPU] / 1000,
        memory=format_bytes(cap[MEMORY]),
        memory_bytes=cap[MEMORY],
        nodes=[
            schemas.NodePublic(
                name=n.name,
                cpu=n.cpu_millicores / 1000,
                memory=format_bytes(n.memory_bytes),
                storage_class=n.storage_class,
                gpus=len(n.gpus),
            )
            for n in p.nodes
        ],
    )


def workspace(
    row: Reservation, session: SessionRow | None, password: str | None = None
) -> schemas.WorkspacePublic:
    """The session's state; `password` (opened by the caller, only when asked) once ready."""
    if session is None:
        return schemas.WorkspacePublic(phase="waiting", namespace=None)
    ready = session.phase == "ready"
    return schemas.WorkspacePublic(
        phase=session.phase,
        namespace=session.namespace,
        step=session.step,
        url=session.url if ready else None,
        password=password if ready else None,
        last_error=session.last_error,
        attempts=session.attempts,
        ready_at=session.ready_at,
        next_check_at=session.next_attempt_at if session.phase == "provisioning" else None,
    )
