"""Rows and domain objects shaped into response bodies."""

from __future__ import annotations

from berth.api import schemas
from berth.domain.capacity import Step
from berth.domain.pool import CPU, MEMORY, Pool
from berth.domain.quantity import format_bytes
from berth.domain.reservation import Mode, Status
from berth.store.models import Reservation, SessionRow, User
from berth.store.users import Principal


def user(u: User) -> schemas.UserPublic:
    return schemas.UserPublic(
        username=u.username, role=u.role, disabled=u.disabled, created_at=u.created_at
    )


def reservation(
    row: Reservation, owner: str, session: SessionRow | None = None
) -> schemas.ReservationPublic:
    return schemas.ReservationPublic(
        id=row.id,
        status=Status(row.status),
        owner=owner,
        pool=row.pool,
        start=row.start_at,
        end=row.end_at,
        gpu=schemas.GpuPublic(kind=row.gpu_kind, count=row.gpu_count),
        mode=Mode(row.mode),
        cpu=row.cpu_millicores / 1000,
        memory=format_bytes(row.memory_bytes),
        reason=row.reason,
        phase=session.phase if session else None,
        workspace_url=session.url if session and session.phase == "ready" else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def calendar_entry(row: Reservation, owner: str, who: Principal) -> schemas.CalendarEntry:
    mine = owner == who.username
    visible = mine or who.is_admin
    return schemas.CalendarEntry(
        id=row.id if visible else None,
        mine=mine,
        owner=owner if visible else None,
        status=Status(row.status),
        pool=row.pool,
        start=row.start_at,
        end=row.end_at,
        gpu=schemas.GpuPublic(kind=row.gpu_kind, count=row.gpu_count),
    )


def amounts(raw: dict[str, int]) -> dict[str, float]:
    """Resource amounts for clients: GPU units as they are, cpu in cores, memory in bytes."""
    out: dict[str, float] = {}
    for resource, amount in raw.items():
        if resource == CPU:
            out["cpu"] = amount / 1000
        elif resource == MEMORY:
            out["memory_bytes"] = amount
        else:
            out[resource] = amount
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


def step(s: Step) -> schemas.Step:
    return schemas.Step(start=s.start, end=s.end, free=amounts(dict(s.amounts)))


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
