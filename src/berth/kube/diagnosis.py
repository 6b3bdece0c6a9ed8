"""Why a workspace is not ready, read from the objects the API server returns (plain dicts).

Pure functions, so every case is testable without a cluster. The reasons name what a person
would look at next: a pod that cannot be scheduled and the scheduler's message, a claim that is
unbound (with its latest event: for the artifact cache, which provisioner it waits for) or lost
its volume, an image that cannot be pulled, a container that keeps crashing or is running but not
ready, and the namespace's latest warning events.
"""

from __future__ import annotations

from typing import Any

from berth.kube.cluster import WorkspaceState

Obj = dict[str, Any]

MAX_REASON = 600
WAITING_REASONS = {  # container waiting reasons worth naming; others read as "starting"
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
}


def _conditions(o: Obj) -> dict[str, Obj]:
    return {c.get("type", ""): c for c in (o.get("status") or {}).get("conditions") or []}


def deployment_state(deployment: Obj) -> WorkspaceState:
    """Ready when a replica is available; otherwise the Deployment's own complaint, if any
    (a quota that refuses the pod shows up as ReplicaFailure, a stalled rollout as
    Progressing=False)."""
    status = deployment.get("status") or {}
    if int(status.get("availableReplicas") or 0) >= 1:
        return WorkspaceState(True)
    conditions = _conditions(deployment)
    failure = conditions.get("ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return WorkspaceState(False, f"ReplicaFailure: {failure.get('message', '')}".strip())
    progressing = conditions.get("Progressing")
    if progressing is not None and progressing.get("status") == "False":
        return WorkspaceState(False, f"{progressing.get('reason')}: {progressing.get('message')}")
    return WorkspaceState(False)


def _pod(pod: Obj) -> list[str]:
    name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    phase = status.get("phase", "Pending")
    scheduled = _conditions(pod).get("PodScheduled")
    if scheduled is not None and scheduled.get("status") == "False":
        why = scheduled.get("message") or scheduled.get("reason") or "no reason given"
        return [f"pod {name} cannot be scheduled: {why}"]
    found = []
    for c in status.get("containerStatuses") or []:
        state = c.get("state") or {}
        waiting = state.get("waiting")
        if waiting and waiting.get("reason") in WAITING_REASONS:
            detail = waiting.get("message") or ""
            found.append(f"container {c['name']}: {waiting['reason']} {detail}".strip())
        elif "running" in state and not c.get("ready"):
            found.append(f"container {c['name']} is running but not ready (readiness probe)")
    if not found and phase != "Running":
        found.append(f"pod {name} is {phase}")
    return found


def pod_problems(pod: Obj) -> list[str]:
    """What keeps one pod from running ready, as lines (none when nothing is wrong)."""
    return _pod(pod)


def _when(e: Obj) -> str:
    return str(e.get("lastTimestamp") or e.get("eventTime") or "")


def _about_claim(name: str, events: list[Obj]) -> str:
    """The latest event of a claim, of any type: an unbound claim's is Normal (the external
    provisioner it waits for, e.g. the cache agent of the node)."""
    mine = [
        e
        for e in events
        if (e.get("involvedObject") or {}).get("kind") == "PersistentVolumeClaim"
        and (e.get("involvedObject") or {}).get("name") == name
    ]
    if not mine:
        return ""
    # events carry seconds: on a tie, the one past WaitForFirstConsumer (which comes first)
    latest = max(mine, key=lambda e: (_when(e), e.get("reason") != "WaitForFirstConsumer"))
    return f" ({latest.get('reason')}: {latest.get('message', '')})"


def _claims(claims: list[Obj], events: list[Obj]) -> list[str]:
    found = []
    for claim in claims:
        phase = (claim.get("status") or {}).get("phase")
        name = claim["metadata"]["name"]
        if phase == "Lost":
            volume = (claim.get("spec") or {}).get("volumeName") or "its volume"
            found.append(f"claim {name} lost its volume {volume}")
        elif phase == "Pending":
            found.append(f"claim {name} is unbound{_about_claim(name, events)}")
    return found


def _latest_warnings(events: list[Obj], limit: int = 2) -> list[str]:
    warnings = [e for e in events if e.get("type", "Warning") == "Warning"]
    latest = sorted(warnings, key=_when, reverse=True)
    seen: list[str] = []
    for e in latest:
        line = f"{e.get('reason')}: {e.get('message', '')}".strip()
        if line not in seen:
            seen.append(line)
        if len(seen) == limit:
            break
    return [f"event {line}" for line in seen]


def explain(deployment: Obj | None, pods: list[Obj], claims: list[Obj], events: list[Obj]) -> str:
    """One line, most telling first: the workspace's pods, its claims, then recent warnings.
    `events`: the namespace's events of every type (only warnings are listed on their own)."""
    parts: list[str] = []
    if deployment is None:
        parts.append("the workspace Deployment does not exist")
    else:
        state = deployment_state(deployment)
        if state.ready:
            return "the workspace is ready"
        if state.reason:
            parts.append(state.reason)
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    if deployment is not None and not live:
        parts.append("no workspace pod exists")
    for pod in live:
        parts += _pod(pod)
    parts += _claims(claims, events)
    parts += _latest_warnings(events)
    text = "; ".join(parts) if parts else "no cause found in the pods, claims or events"
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
