"""Decide purely, act separately: desired state (database) + observed state (cluster) -> actions.

`plan()` reads no clock and calls nothing; given the same inputs it gives the same actions, in
DESIGN.md's order: stop what must stop, repair, start what may start. The executor applies them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from berth.domain.reservation import LIVE, Status
from berth.kube.cluster import NamespaceInfo
from berth.store.sessions import Work

WAITING = "workspace-wait"  # every step applied; waiting for the workspace to become ready


@dataclass(frozen=True)
class Teardown:
    """Delete the namespace, then move the reservation to `final` (None: it already is)."""

    reservation_id: uuid.UUID
    namespace: str
    final: Status | None
    reason: str | None


@dataclass(frozen=True)
class Finish:
    """Nothing (left) in the cluster: record the end of the session and the final status."""

    reservation_id: uuid.UUID
    final: Status | None
    reason: str | None
    gone: bool  # False while the namespace is still terminating


@dataclass(frozen=True)
class Provision:
    """Apply every provisioning step (idempotent), then check the workspace."""

    work: Work


@dataclass(frozen=True)
class CheckReady:
    work: Work


@dataclass(frozen=True)
class Fail:
    reservation_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class Recreate:
    """An ACTIVE session's namespace is gone: provision it again (drift repair)."""

    reservation_id: uuid.UUID


@dataclass(frozen=True)
class DeleteOrphan:
    namespace: str


@dataclass(frozen=True)
class Unstick:
    namespace: str


Action = Teardown | Finish | Provision | CheckReady | Fail | Recreate | DeleteOrphan | Unstick


@dataclass(frozen=True)
class Limits:
    max_attempts: int = 5
    ready_timeout: timedelta = timedelta(minutes=10)
    stuck_after: timedelta = timedelta(minutes=10)


def _final_for_ended(status: Status) -> tuple[Status, str | None]:
    if status is Status.ACTIVE:
        return Status.COMPLETED, None
    return Status.FAILED, "the window ended before the workspace was ready"


def plan(
    work: list[Work],
    observed: Mapping[str, NamespaceInfo],
    ready: Mapping[str, uuid.UUID],
    now: datetime,
    limits: Limits,
) -> list[Action]:
    stops: list[Action] = []
    repairs: list[Action] = []
    starts: list[Action] = []
    for w in work:
        rid, ns = w.reservation.reservation_id, w.namespace
        present = ns in observed
        terminating = present and observed[ns].phase == "Terminating"
        if w.status in LIVE and w.reservation.end <= now:
            final, reason = _final_for_ended(w.status)
            if present and not terminating:
                stops.append(Teardown(rid, ns, final, reason))
            else:  # never created, already gone, or its deletion is under way
                stops.append(Finish(rid, final, reason, gone=not present))
            continue
        if w.status not in LIVE:
            if present and not terminating:
                stops.append(Teardown(rid, ns, None, None))
            elif not present:
                stops.append(Finish(rid, None, None, gone=True))
            continue
        # live, window open
        s = w.session
        if s is not None and s.attempts >= limits.max_attempts:
            repairs.append(Fail(rid, f"provisioning failed {s.attempts} times; see last error"))
            continue
        if s is not None and s.next_attempt_at is not None and s.next_attempt_at > now:
            continue  # backing off
        if terminating:
            continue  # an earlier namespace of this session is still going away
        if s is not None and s.step == WAITING and present:
            if now - s.updated_at > limits.ready_timeout:
                starts.append(Provision(w))  # re-apply; the executor counts the timeout
            else:
                starts.append(CheckReady(w))
            continue
        starts.append(Provision(w))
    handled = {w.reservation.reservation_id for w in work}
    for ns, rid in sorted(ready.items()):
        if ns not in observed and rid not in handled:
            repairs.append(Recreate(rid))
    return stops + repairs + starts


def garbage(
    observed: Mapping[str, NamespaceInfo],
    owned: Mapping[str, uuid.UUID],
    now: datetime,
    limits: Limits,
) -> list[Action]:
    """The slower sweep: managed namespaces nobody owns, and namespaces stuck terminating."""
    actions: list[Action] = []
    for name, info in sorted(observed.items()):
        if info.phase == "Terminating":
            since = info.deleting_since
            if since is not None and now - since > limits.stuck_after:
                actions.append(Unstick(name))
        elif name not in owned:
            actions.append(DeleteOrphan(name))
    return actions
