"""The platform's own health as the database knows it: is each cluster's reconciler alive, what
does it drive, how many sessions are in each phase, and which cluster is failing (its sessions
wait). The API never asks Kubernetes itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from berth.api.deps import DB, Now, User
from berth.store import heartbeats, pools, sessions
from berth.store.models import Heartbeat

router = APIRouter(tags=["status"])
ACTIVITY = "activity"  # the heartbeat of the reconciler's activity collector
CONTROL_PLANE = "control-plane"  # the heartbeat `berth up --sim` writes (berth.cli.first_run)


class ComponentStatus(BaseModel):
    state: Literal["running", "failing", "stale", "never seen", "off"]
    last_seen: datetime | None = None
    age_seconds: float | None = None
    details: dict[str, Any] = {}


class ControlPlaneStatus(BaseModel):
    """The local control plane `berth up --sim` builds and starts behind the portal."""

    state: Literal["building", "starting", "running", "failed"]
    last_seen: datetime
    step: str | None = None  # building: what is being built
    percent: int | None = None  # building: how far, by the last build's durations
    elapsed_seconds: int | None = None
    remaining_seconds: int | None = None  # building: the estimate
    error: str | None = None  # failed: why


class ClusterStatus(ComponentStatus):
    """One cluster of the pool file, as its reconciler last reported it."""

    name: str
    pools: list[str] = []  # the pools on it (none: only a reconciler's heartbeat names it)
    # reservations of its pools whose window is open but whose workspace is not ready (yet):
    # while the cluster is failing, the sessions that wait for it
    waiting: int = 0


class PlatformStatus(BaseModel):
    reconciler: ComponentStatus = Field(
        description="The `default` cluster's reconciler; when no pool is on `default`, the "
        "cluster in the worst state (never seen, stale, failing, running)"
    )
    clusters: list[ClusterStatus] = Field(
        default=[], description="Every cluster with a pool or a reconciler, by name"
    )
    # measured GPU activity and idle reclaim (docs/idle.md): `off` without BERTH_PROMETHEUS_URL,
    # `failing` while Prometheus does not answer (nothing is then counted as idle)
    activity: ComponentStatus
    control_plane: ControlPlaneStatus | None = None  # only while `berth up --sim` brings one up


def _component(at: datetime | None, details: dict[str, Any], now: datetime) -> ComponentStatus:
    if at is None:
        return ComponentStatus(state="never seen")
    if "prometheus" in details and details["prometheus"] is None:
        age = round((now - at).total_seconds(), 1)
        return ComponentStatus(state="off", last_seen=at, age_seconds=age, details=details)
    age = (now - at).total_seconds()
    interval = float(details.get("interval_seconds", 30))
    if age > 3 * interval + 30:  # missed several cycles (a cycle may wait a whole interval)
        state: Literal["running", "failing", "stale"] = "stale"
    elif "error" in details:
        state = "failing"
    else:
        state = "running"
    return ComponentStatus(state=state, last_seen=at, age_seconds=round(age, 1), details=details)


_WORST = ("never seen", "stale", "failing", "running", "off")


def _clusters(
    beats: dict[str, Heartbeat], on: dict[str, list[str]], waiting: dict[str, int], now: datetime
) -> list[ClusterStatus]:
    found = {c: b for name, b in beats.items() if (c := heartbeats.cluster_of(name)) is not None}
    out = []
    for name in sorted(set(found) | set(on)):
        beat = found.get(name)
        one = _component(beat.at if beat else None, beat.details if beat else {}, now)
        out.append(
            ClusterStatus(
                **one.model_dump(), name=name, pools=on.get(name, []), waiting=waiting.get(name, 0)
            )
        )
    return out


@router.get("/status", operation_id="getStatus")
def status(_: User, db: DB, now: Now) -> PlatformStatus:
    with db.transaction() as tx:
        beats = {b.component: b for b in heartbeats.all_beats(tx)}
        on: dict[str, list[str]] = {}
        for pool in pools.list_all(tx):
            on.setdefault(pool.cluster, []).append(pool.name)
        waiting = sessions.waiting_by_cluster(tx, now)
    clusters = _clusters(beats, on, waiting, now)
    summary = next((c for c in clusters if c.name == "default" and c.pools), None)
    if summary is None and clusters and "default" not in on:
        summary = min(clusters, key=lambda c: _WORST.index(c.state))
    rec = beats.get(heartbeats.RECONCILER)
    act = beats.get(ACTIVITY)
    plane = beats.get(CONTROL_PLANE)
    return PlatformStatus(
        reconciler=ComponentStatus(**summary.model_dump(include=set(ComponentStatus.model_fields)))
        if summary is not None
        else _component(rec.at if rec else None, rec.details if rec else {}, now),
        clusters=clusters,
        activity=_component(act.at if act else None, act.details if act else {}, now),
        control_plane=ControlPlaneStatus.model_validate({**plane.details, "last_seen": plane.at})
        if plane is not None
        else None,
    )
