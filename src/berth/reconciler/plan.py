"""Decide purely, act separately: desired state (database) + observed state (cluster) -> actions.

`plan()` reads no clock and calls nothing; given the same inputs it gives the same actions, in
the order of docs/architecture.md: stop what must stop, repair, start what may start. The
executor applies them. `garbage()` is the slower sweep, decided the same way.

Every wait has a budget. After its steps are applied a session waits for its workspace until a
deadline (`next_attempt_at`, set when the wait began); past it the workspace is diagnosed, the
attempt counts, and everything is applied again. After `max_attempts` the reservation FAILS
with the last diagnosis as its reason, which its owner sees in the portal.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from berth.domain.reservation import LIVE, Status
from berth.domain.session import LABEL_RESERVATION, Work, namespace_name
from berth.kube.cluster import NamespaceInfo, ObjectRef

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
    """Within the wait's budget: is the workspace ready yet?"""

    work: Work


@dataclass(frozen=True)
class Diagnose:
    """The wait's budget is spent: find out why, count the attempt, apply everything again."""

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
class Refence:
    """An ACTIVE session's fence objects are due for their slow re-apply (drift repair)."""

    reservation_id: uuid.UUID
    namespace: str


@dataclass(frozen=True)
class DeleteOrphan:
    namespace: str


@dataclass(frozen=True)
class DeleteLeftover:
    """A Berth-labelled cluster-scoped object whose reservation keeps nothing any more."""

    ref: ObjectRef


@dataclass(frozen=True)
class Unstick:
    namespace: str


@dataclass(frozen=True, eq=False)
class ApplyPrepull:
    """A pool's pre-pull DaemonSet is missing or differs from the catalog and pools."""

    name: str
    manifest: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class DeletePrepull:
    """A pre-pull DaemonSet of a pool that is gone (or of a catalog without engines)."""

    name: str
    namespace: str


Action = (
    Teardown
    | Finish
    | Provision
    | CheckReady
    | Diagnose
    | Fail
    | Recreate
    | Refence
    | DeleteOrphan
    | DeleteLeftover
    | Unstick
    | ApplyPrepull
    | DeletePrepull
)


@dataclass(frozen=True)
class Limits:
    max_attempts: int = 5
    ready_timeout: timedelta = timedelta(minutes=10)
    # how long a healthy cluster may keep answering one session's requests with 5xx
    server_error_budget: timedelta = timedelta(minutes=15)
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
            last = s.last_error or "no error was recorded"
            repairs.append(Fail(rid, f"gave up after {s.attempts} failed attempts: {last}"))
            continue
        failing = now - s.failing_since if s is not None and s.failing_since else None
        if s is not None and failing is not None and failing >= limits.server_error_budget:
            minutes = failing.total_seconds() / 60
            last = s.last_error or "no error was recorded"
            why = f"the cluster failed this session's requests for {minutes:.0f} min: {last}"
            repairs.append(Fail(rid, why))
            continue
        if terminating:
            continue  # an earlier namespace of this session is still going away
        if s is not None and s.step == WAITING and present:
            # a wait recorded before deadlines were stored ends ready_timeout after it began
            deadline = s.next_attempt_at or s.updated_at + limits.ready_timeout
            starts.append(Diagnose(w) if now >= deadline else CheckReady(w))
            continue
        if s is not None and s.next_attempt_at is not None and s.next_attempt_at > now:
            continue  # backing off
        starts.append(Provision(w))
    handled = {w.reservation.reservation_id for w in work}
    for ns, rid in sorted(ready.items()):
        if ns not in observed and rid not in handled:
            repairs.append(Recreate(rid))
    return stops + repairs + starts


def about(actions: Sequence[Action]) -> set[uuid.UUID]:
    """The reservations some actions are about (GC and drift repair spare them that cycle)."""
    found = set()
    for a in actions:
        if isinstance(a, Provision | CheckReady | Diagnose):
            found.add(a.work.reservation.reservation_id)
        elif isinstance(a, Teardown | Finish | Fail | Recreate | Refence):
            found.add(a.reservation_id)
    return found


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _turn(rid: uuid.UUID, at: datetime, every: timedelta) -> int:
    """How many of this session's check instants have passed by `at`. Its instants are
    `every` apart, shifted by an offset taken from its id: sessions spread evenly over the
    interval, and each keeps its place whatever the cycles or restarts."""
    period = every // _MICROSECOND
    return ((at - _EPOCH) // _MICROSECOND + rid.int % period) // period


def drift_due(
    ready: Mapping[str, uuid.UUID],
    observed: Mapping[str, NamespaceInfo],
    busy: Collection[uuid.UUID],
    since: datetime,
    now: datetime,
    every: timedelta,
) -> list[Action]:
    """ACTIVE sessions whose fence is due for its re-apply: one of their check instants fell in
    (`since`, `now`]. Each session is due once per `every`; a cycle every 30 s with a 30 min
    interval takes about 1/60 of the sessions. Sessions this cycle already acts on, and
    namespaces absent or terminating, wait for their next turn."""
    if every <= timedelta(0) or now <= since:
        return []
    due: list[Action] = []
    for ns, rid in sorted(ready.items()):
        info = observed.get(ns)
        if rid in busy or info is None or info.phase == "Terminating":
            continue
        if _turn(rid, now, every) > _turn(rid, since, every):
            due.append(Refence(rid, ns))
    return due


def reservation_of(labels: Mapping[str, str]) -> uuid.UUID | None:
    """The reservation an object belongs to, from its label; None when absent or malformed."""
    try:
        return uuid.UUID(labels[LABEL_RESERVATION])
    except (KeyError, ValueError):
        return None


def found_reservations(
    observed: Mapping[str, NamespaceInfo], scoped: Sequence[ObjectRef]
) -> set[uuid.UUID]:
    """Every reservation that has something in the cluster: the ones GC must ask about."""
    labels = [info.labels for info in observed.values()] + [ref.labels for ref in scoped]
    return {rid for rid in map(reservation_of, labels) if rid is not None}


def garbage(
    observed: Mapping[str, NamespaceInfo],
    scoped: Sequence[ObjectRef],
    keep: Collection[uuid.UUID],
    now: datetime,
    limits: Limits,
) -> list[Action]:
    """The slower sweep, from one consistent view.

    `observed` and `scoped` were listed from the cluster *before* `keep` was read from the
    database. A session row is committed before anything of its session is created, so every
    object listed belongs to a reservation that `keep` already knows about if it is still
    wanted: GC never deletes what a session being provisioned has just made. `keep` holds every
    reservation that is live or whose session is not gone, whatever its phase, and every
    reservation the current cycle acted on.

    `scoped` holds what Berth labelled outside namespaces. Sessions make nothing cluster-scoped
    any more (the artifact cache's volume is the cache agent's); the sweep still deletes the
    labelled artifact PersistentVolumes of older versions, so an upgrade cleans up after them.
    """
    actions: list[Action] = []
    kept_namespaces = {namespace_name(rid) for rid in keep}
    for name, info in sorted(observed.items()):
        if info.phase == "Terminating":
            since = info.deleting_since
            if since is not None and now - since > limits.stuck_after:
                actions.append(Unstick(name))
        elif name not in kept_namespaces:
            actions.append(DeleteOrphan(name))
    for ref in sorted(scoped, key=lambda r: (r.kind, r.name)):
        rid = reservation_of(ref.labels)
        if rid is None or rid not in keep:
            actions.append(DeleteLeftover(ref))
    return actions


def prepull(
    desired: Mapping[str, tuple[str, Mapping[str, Any]]],
    observed: Mapping[str, str | None],
    namespace: str,
) -> list[Action]:
    """The pre-pull DaemonSets to apply and delete. `desired`: name -> (hash, manifest), one
    per pool (none while the catalog has no engines); `observed`: name -> the hash annotation
    of each one found in the platform namespace. Equal hashes: nothing to do."""
    actions: list[Action] = [
        ApplyPrepull(name, manifest)
        for name, (digest, manifest) in sorted(desired.items())
        if observed.get(name) != digest
    ]
    actions += [DeletePrepull(name, namespace) for name in sorted(observed) if name not in desired]
    return actions
