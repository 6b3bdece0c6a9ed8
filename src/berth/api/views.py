"""Rows and domain objects shaped into response bodies."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import pydantic_core

from berth.api import schemas
from berth.domain import staging as st
from berth.domain.catalog import Catalog, to_json
from berth.domain.notifications import Preferences
from berth.domain.pool import CPU, MEMORY, Pool
from berth.domain.quantity import format_bytes
from berth.domain.reservation import Mode, Status
from berth.domain.waitlist import WaitlistState
from berth.store.models import (
    CacheArtifact,
    CacheCredential,
    CacheNode,
    Notification,
    Reservation,
    SessionIdle,
    SessionRow,
    User,
    WaitlistEntry,
)


def user(u: User) -> schemas.UserPublic:
    return schemas.UserPublic(
        username=u.username,
        role=u.role,
        disabled=u.disabled,
        created_at=u.created_at,
        provider=u.provider,
    )


class ReservationColumns(Protocol):
    """A reservation's columns (a model object)."""

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
    team_id: int | None
    stage: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    hold_until: datetime | None
    hold_kind: str | None


def idle_data(
    status: str,
    reason: str | None,
    warned_at: datetime | None,
    release_at: datetime | None,
    keep_until: datetime | None,
) -> dict[str, Any] | None:
    """An ACTIVE reservation's idle warning and last keep, in the shape of IdlePublic."""
    if status != Status.ACTIVE.value or (warned_at is None and keep_until is None):
        return None
    return {
        "reason": reason,
        "warned_at": warned_at,
        "release_at": release_at,
        "keep_until": keep_until,
    }


def idle_of(status: str, idle: SessionIdle | None) -> dict[str, Any] | None:
    if idle is None:
        return None
    return idle_data(status, idle.reason, idle.warned_at, idle.release_at, idle.keep_until)


def reservation_data(
    row: ReservationColumns,
    owner: str,
    phase: str | None,
    url: str | None,
    staged: st.Staging | None = None,
    idle: dict[str, Any] | None = None,
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
        "team_id": row.team_id,
        **_hold(row),
        "phase": phase,
        "workspace_url": url if phase == "ready" else None,
        "stage": st.stage_to_json(st.stage_from_json(row.stage)) or {"engines": [], "models": []},
        "staging": staging_data(staged),
        "idle": idle,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _hold(row: ReservationColumns) -> dict[str, Any]:
    """A PENDING reservation's hold: what it waits for and until when (null otherwise)."""
    pending = row.status == Status.PENDING.value
    return {
        "hold_kind": row.hold_kind if pending else None,
        "hold_until": row.hold_until if pending else None,
    }


def json_bytes(content: Any) -> bytes:
    """Plain data already in the shape of a route's response model, as JSON written the way
    the model would write it (pydantic_core: datetimes in ISO 8601 with `Z` for UTC, UUIDs
    and enums as strings), without building and validating models: for long answers, where
    that was most of the request."""
    return pydantic_core.to_json(content)


def staging(s: st.Staging | None) -> schemas.StagingPublic | None:
    if s is None:
        return None
    return schemas.StagingPublic(
        state=s.state.value,
        percent=s.percent,
        bytes_done=s.bytes_done,
        bytes_total=s.bytes_total,
        expected_start=s.expected_start,
        reason=s.reason,
        detail=s.detail,
        node=s.node,
        model=s.model,
        models=[
            schemas.ModelStagingPublic(
                model=m.model,
                state=m.state.value,
                percent=m.percent,
                nodes_ready=m.nodes_ready,
                nodes=m.nodes,
            )
            for m in s.models
        ],
    )


def staging_data(s: st.Staging | None) -> dict[str, Any] | None:
    """A reservation's staging as plain data (few reservations stage anything)."""
    public = staging(s)
    return public.model_dump() if public is not None else None


def reservation(
    row: Reservation,
    owner: str,
    session: SessionRow | None = None,
    staged: st.Staging | None = None,
    idle: SessionIdle | None = None,
) -> schemas.ReservationPublic:
    phase, url = (session.phase, session.url) if session else (None, None)
    return schemas.ReservationPublic.model_validate(
        reservation_data(row, owner, phase, url, staged, idle_of(row.status, idle))
    )


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
        cluster=p.cluster,
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
    row: Reservation,
    session: SessionRow | None,
    password: str | None = None,
    staged: st.Staging | None = None,
) -> schemas.WorkspacePublic:
    """The session's state; `password` (opened by the caller, only when asked) once ready."""
    if session is None:
        return schemas.WorkspacePublic(phase="waiting", namespace=None, staging=staging(staged))
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
        staging=staging(staged),
    )


def catalog(c: Catalog) -> schemas.CatalogPublic:
    return schemas.CatalogPublic(
        engines=[
            schemas.EnginePublic(
                name=e.name,
                image=e.image,
                digest=e.digest,
                port=e.port,
                formats=list(e.formats),
                openai_path=e.openai_path,
            )
            for e in c.engines
        ],
        models=[
            schemas.ModelPublic(
                id=m.id,
                format=m.format,
                description=m.description,
                size=m.size,
                files=len(m.files),
            )
            for m in c.models
        ],
    )


def plan(p: st.Plan) -> schemas.CachePlan:
    models = to_json(Catalog(models=tuple(i.model for i in p.items)))["models"]
    return schemas.CachePlan(
        node=p.node,
        stage=[
            schemas.PlanStageItem(
                model=i.model.id,
                start=i.start,
                size_bytes=i.model.size,
                download_from=i.download_from,
                reservations=len(i.reservations),
            )
            for i in p.items
        ],
        keep=list(p.keep),
        models=[schemas.PlanModel(**m) for m in models],
        bandwidth_bytes_per_second=p.bandwidth,
    )


def _percent(a: CacheArtifact) -> int:
    if a.state == "ready":
        return 100
    return min(100, a.downloaded * 100 // a.size) if a.size > 0 else 0


def cache_node(
    node: str,
    pools: list[str],
    credential: CacheCredential | None,
    summary: CacheNode | None,
    artifacts: list[CacheArtifact],
    needed: set[str],
) -> schemas.CacheNodePublic:
    return schemas.CacheNodePublic(
        node=node,
        pools=pools,
        credential=schemas.CacheCredentialPublic(
            prefix=credential.prefix,
            created_at=credential.created_at,
            expires_at=credential.expires_at,
        )
        if credential
        else None,
        capacity_bytes=summary.capacity_bytes if summary else None,
        used_bytes=summary.used_bytes if summary else None,
        reserved_bytes=summary.reserved_bytes if summary else None,
        high_watermark_bytes=summary.high_watermark_bytes if summary else None,
        low_watermark_bytes=summary.low_watermark_bytes if summary else None,
        bandwidth_bytes_per_second=summary.bandwidth_bps if summary else None,
        reported_at=summary.reported_at if summary else None,
        models=[
            schemas.CacheArtifactPublic(
                model=a.model,
                state=a.state,
                size_bytes=a.size,
                downloaded_bytes=a.downloaded,
                percent=_percent(a),
                last_used=a.last_used,
                reason=a.reason,
                detail=a.detail,
                updated_at=a.updated_at,
                needed=a.model in needed,
            )
            for a in artifacts
        ],
        missing=sorted(needed - {a.model for a in artifacts}),
    )


def notification(n: Notification) -> schemas.NotificationPublic:
    return schemas.NotificationPublic.model_validate(n, from_attributes=True)


def notification_preferences(
    p: Preferences, *, email_available: bool
) -> schemas.NotificationPreferencesPublic:
    return schemas.NotificationPreferencesPublic(
        email=p.email,
        webhook_url=p.webhook_url,
        channels={k: list(v) for k, v in p.channels.items()},
        lead_minutes=list(p.lead_minutes),
        email_available=email_available,
    )


def waitlist_entry(
    entry: WaitlistEntry,
    owner: str,
    team: str | None,
    offer_status: str | None,
    offer_until: datetime | None,
) -> schemas.WaitlistEntryPublic:
    return schemas.WaitlistEntryPublic(
        id=entry.id,
        state=WaitlistState(entry.state),
        owner=owner,
        team=team,
        pool=entry.pool,
        start=entry.start_at,
        end=entry.end_at,
        gpu=schemas.GpuPublic(kind=entry.gpu_kind, count=entry.gpu_count),
        mode=Mode(entry.mode),
        cpu=entry.cpu_millicores / 1000,
        memory=format_bytes(entry.memory_bytes),
        stage=schemas.StagePublic.model_validate(
            st.stage_to_json(st.stage_from_json(entry.stage)) or {"engines": [], "models": []}
        ),
        reason=entry.reason,
        offer=entry.reservation_id,
        offer_status=Status(offer_status) if offer_status else None,
        offer_until=offer_until if entry.state == WaitlistState.OFFERED.value else None,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
    )
