"""Reservation statuses, their transitions, allocation modes, and request validation.

Transitions live here and nowhere else: the store asks `transition()` before it writes a status,
so an illegal move (reviving a CANCELED booking, completing one that never started) is refused
in one place whatever path asked for it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from berth.domain.capacity import Booking
from berth.domain.policy import BookingPolicy
from berth.domain.pool import CPU, MEMORY, Pool


class Status(StrEnum):
    PENDING = "PENDING"  # holds its capacity until its hold ends (approval or waitlist offer)
    APPROVED = "APPROVED"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"  # a lead or an admin said no, with a reason
    EXPIRED = "EXPIRED"  # a hold nobody answered in time


# LIVE: a session namespace should exist or will (the reconciler's set). HOLDING: counts
# against capacity, the per-user limit and team budgets (the booking path's set).
LIVE = frozenset({Status.APPROVED, Status.ACTIVE})
HOLDING = frozenset({Status.PENDING, Status.APPROVED, Status.ACTIVE})
TERMINAL = frozenset(
    {Status.COMPLETED, Status.CANCELED, Status.FAILED, Status.REJECTED, Status.EXPIRED}
)

_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.APPROVED, Status.REJECTED, Status.EXPIRED, Status.CANCELED}),
    Status.APPROVED: frozenset({Status.ACTIVE, Status.CANCELED, Status.FAILED}),
    Status.ACTIVE: frozenset({Status.COMPLETED, Status.CANCELED, Status.FAILED}),
    Status.COMPLETED: frozenset(),
    Status.CANCELED: frozenset(),
    Status.FAILED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.EXPIRED: frozenset(),
}


class Mode(StrEnum):
    INTERACTIVE = "interactive"  # the workspace pod holds one GPU slot of the booked kind
    INFERENCE = "inference"  # the workspace has no GPU; every slot is free for the user's pods


class TransitionError(ValueError):
    def __init__(self, current: Status, target: Status) -> None:
        self.current, self.target = current, target
        super().__init__(f"a {current} reservation cannot become {target}")


def can_transition(current: Status, target: Status) -> bool:
    return target in _ALLOWED[current]


def transition(current: Status, target: Status) -> Status:
    """Return `target` if the move is allowed, else raise TransitionError."""
    if not can_transition(current, target):
        raise TransitionError(current, target)
    return target


class RequestError(ValueError):
    """A booking request that breaks a rule; `field` names the part of the request at fault."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Request:
    """A booking request as the user sent it; cpu/memory None means "the kind's defaults"."""

    pool: str
    start: datetime
    end: datetime
    gpu_kind: str
    gpu_count: int
    mode: Mode
    cpu_millicores: int | None = None
    memory_bytes: int | None = None
    team: str | None = None  # the team it is for (docs/teams.md); None: the user's only team


@dataclass(frozen=True)
class Hold:
    """A booking made PENDING: it holds its capacity until `until` for `kind` ("approval":
    waiting for a lead or an admin; "offer": a waitlist offer waiting for its user)."""

    kind: str
    until: datetime


@dataclass(frozen=True)
class Accepted:
    """A valid request with defaults filled in and its start settled (a "now" start is exact)."""

    pool: str
    start: datetime
    end: datetime
    gpu_kind: str
    gpu_count: int
    mode: Mode
    cpu_millicores: int
    memory_bytes: int

    def demand(self) -> dict[str, int]:
        return demand(self.gpu_kind, self.gpu_count, self.cpu_millicores, self.memory_bytes)

    def booking(self) -> Booking:
        return Booking(self.start, self.end, self.demand())


@dataclass(frozen=True)
class Reserved(Accepted):
    """An accepted booking as stored: its terms, its id and who holds it (a session's input)."""

    reservation_id: uuid.UUID
    owner: str
    # how the cluster knows the owner (berth.domain.identity.cluster_user): where the account
    # came from, and the provider's name for them (None for a local account)
    owner_provider: str = "local"
    owner_cluster_name: str | None = None


def demand(kind: str, count: int, cpu_millicores: int, memory_bytes: int) -> dict[str, int]:
    return {kind: count, CPU: cpu_millicores, MEMORY: memory_bytes}


def _aligned(t: datetime, grid: timedelta) -> bool:
    return (t - datetime(1970, 1, 1, tzinfo=t.tzinfo)) % grid == timedelta(0)


def validate_window(
    start: datetime, end: datetime, policy: BookingPolicy, now: datetime, *, new: bool = True
) -> datetime:
    """Check a window against the policy; return its start, a near-"now" start made exact.

    A start within `policy.clock_skew` of `now` means "now" (the most common booking is "from
    now until 17:00"), so it need not sit on the grid. Any other start, and every end, must.
    `new=False` checks an existing booking's new end (extend), whose start may be past.
    """
    for name, t in (("start", start), ("end", end)):
        if t.tzinfo is None or t.utcoffset() is None:
            raise RequestError(name, "must carry a timezone (UTC, e.g. 2026-12-01T09:00:00Z)")
    if end <= start:
        raise RequestError("end", "must be after start")
    if new:
        if start < now - policy.clock_skew:
            raise RequestError("start", "is in the past")
        if start <= now + policy.clock_skew:
            start = max(start, now)
        elif not _aligned(start, policy.grid):
            raise RequestError("start", f"must be on the {_minutes(policy.grid)}-minute grid")
        if start > now + policy.horizon:
            raise RequestError(
                "start", f"is more than {policy.horizon.days} days ahead (booking horizon)"
            )
    elif end <= now:
        raise RequestError("end", "is in the past")
    if not _aligned(end, policy.grid):
        raise RequestError("end", f"must be on the {_minutes(policy.grid)}-minute grid")
    length = end - start
    if length < policy.min_length:
        raise RequestError("end", f"a booking lasts at least {_minutes(policy.min_length)} minutes")
    if length > policy.max_length:
        hours = policy.max_length.total_seconds() / 3600
        raise RequestError("end", f"a booking lasts at most {hours:g} hours")
    return start


def validate_request(req: Request, pool: Pool, policy: BookingPolicy, now: datetime) -> Accepted:
    """Check a request against the pool and the policy; fill in defaults. Raises RequestError."""
    kinds = pool.kinds()
    if req.gpu_kind not in kinds:
        known = ", ".join(sorted(kinds)) or "none"
        raise RequestError(
            "gpu.kind", f"pool {pool.name!r} has no {req.gpu_kind!r} (it has {known})"
        )
    kind = kinds[req.gpu_kind]
    if req.gpu_count < 1:
        raise RequestError("gpu.count", "must be at least 1")
    if req.gpu_count > kind.units:
        raise RequestError(
            "gpu.count", f"pool {pool.name!r} has only {kind.units} units of {kind.name}"
        )
    start = validate_window(req.start, req.end, policy, now)
    defaults = pool.defaults_for(req.gpu_kind)
    cpu = (
        req.cpu_millicores
        if req.cpu_millicores is not None
        else defaults.cpu_millicores * req.gpu_count
    )
    memory = (
        req.memory_bytes if req.memory_bytes is not None else defaults.memory_bytes * req.gpu_count
    )
    capacity = pool.capacity()
    if cpu <= 0:
        raise RequestError("cpu", "must be more than 0")
    if memory <= 0:
        raise RequestError("memory", "must be more than 0")
    if cpu > capacity[CPU]:
        raise RequestError("cpu", f"pool {pool.name!r} has only {capacity[CPU] // 1000} CPUs")
    if memory > capacity[MEMORY]:
        raise RequestError("memory", f"pool {pool.name!r} has only {capacity[MEMORY] // 2**30}Gi")
    return Accepted(
        pool=req.pool,
        start=start,
        end=req.end,
        gpu_kind=req.gpu_kind,
        gpu_count=req.gpu_count,
        mode=req.mode,
        cpu_millicores=cpu,
        memory_bytes=memory,
    )


def _minutes(d: timedelta) -> int:
    return int(d.total_seconds() // 60)
