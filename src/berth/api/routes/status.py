"""The platform's own health as the database knows it: is the reconciler alive, which cluster
does it drive, how many sessions are in each phase. The API never asks Kubernetes itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel

from berth.api.deps import DB, Now, User
from berth.store import heartbeats

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


class PlatformStatus(BaseModel):
    reconciler: ComponentStatus
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


@router.get("/status", operation_id="getStatus")
def status(_: User, db: DB, now: Now) -> PlatformStatus:
    with db.transaction() as tx:
        beats = {b.component: b for b in heartbeats.all_beats(tx)}
    rec = beats.get("reconciler")
    act = beats.get(ACTIVITY)
    plane = beats.get(CONTROL_PLANE)
    return PlatformStatus(
        reconciler=_component(rec.at if rec else None, rec.details if rec else {}, now),
        activity=_component(act.at if act else None, act.details if act else {}, now),
        control_plane=ControlPlaneStatus.model_validate({**plane.details, "last_seen": plane.at})
        if plane is not None
        else None,
    )
