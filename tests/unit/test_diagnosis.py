"""Why a workspace is not ready: the reasons read from the objects the API server returns."""

from __future__ import annotations

from typing import Any

from berth.kube.diagnosis import MAX_REASON, deployment_state, explain

Obj = dict[str, Any]


def deployment(available: int = 0, **conditions: tuple[str, str, str]) -> Obj:
    return {
        "status": {
            "availableReplicas": available,
            "conditions": [
                {"type": t, "status": s, "reason": r, "message": m}
                for t, (s, r, m) in conditions.items()
            ],
        }
    }


def pod(name: str = "workspace-1", phase: str = "Pending", **status: Any) -> Obj:
    return {"metadata": {"name": name}, "status": {"phase": phase, **status}}


def test_an_available_replica_is_ready_whatever_else_is_said() -> None:
    state = deployment_state(deployment(1, Progressing=("False", "Stuck", "x")))
    assert state.ready
    assert explain(deployment(1), [], [], []) == "the workspace is ready"


def test_a_quota_refusal_is_the_deployments_replica_failure() -> None:
    message = 'pods "workspace-1" is forbidden: exceeded quota: berth-quota'
    state = deployment_state(deployment(ReplicaFailure=("True", "FailedCreate", message)))
    assert not state.ready
    assert state.reason == f"ReplicaFailure: {message}"
    assert explain(deployment(ReplicaFailure=("True", "FailedCreate", message)), [], [], []) == (
        f"ReplicaFailure: {message}; no workspace pod exists"
    )


def test_a_deployment_still_progressing_has_no_complaint() -> None:
    assert deployment_state(deployment(Progressing=("True", "NewReplicaSetCreated", "ok"))) == (
        deployment_state(deployment())
    )
    assert deployment_state(deployment()).reason is None


def test_an_unschedulable_pod_names_the_schedulers_message() -> None:
    unschedulable = pod(
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 node(s) didn't match node affinity",
            }
        ]
    )
    assert explain(deployment(), [unschedulable], [], []) == (
        "pod workspace-1 cannot be scheduled: "
        "0/1 nodes are available: 1 node(s) didn't match node affinity"
    )


def test_image_pulls_crashes_and_failing_probes_are_named() -> None:
    statuses = [
        {"name": "a", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no auth"}}},
        {"name": "b", "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
        {"name": "c", "state": {"running": {}}, "ready": False},
        {"name": "d", "state": {"waiting": {"reason": "ContainerCreating"}}},
    ]
    text = explain(deployment(), [pod(phase="Running", containerStatuses=statuses)], [], [])
    assert text == (
        "container a: ImagePullBackOff no auth; container b: CrashLoopBackOff; "
        "container c is running but not ready (readiness probe)"
    )


def test_a_starting_pod_with_nothing_wrong_says_its_phase() -> None:
    starting = pod(containerStatuses=[{"name": "a", "state": {"waiting": {"reason": "X"}}}])
    assert explain(deployment(), [starting], [], []) == "pod workspace-1 is Pending"


def test_lost_and_unbound_claims_and_latest_warnings_follow() -> None:
    claims = [
        {
            "metadata": {"name": "artifacts"},
            "spec": {"volumeName": "pv-a"},
            "status": {"phase": "Lost"},
        },
        {"metadata": {"name": "home"}, "spec": {}, "status": {"phase": "Pending"}},
        {"metadata": {"name": "data"}, "spec": {}, "status": {"phase": "Bound"}},
    ]
    events = [
        {"reason": "FailedMount", "message": "old", "lastTimestamp": "2030-01-01T00:00:00Z"},
        {"reason": "FailedScheduling", "message": "new", "lastTimestamp": "2030-01-01T00:05:00Z"},
        {"reason": "FailedScheduling", "message": "new", "lastTimestamp": "2030-01-01T00:04:00Z"},
    ]
    text = explain(deployment(), [pod(phase="Running")], claims, events)
    assert text == (
        "claim artifacts lost its volume pv-a; claim home is unbound; "
        "event FailedScheduling: new; event FailedMount: old"
    )


def test_a_missing_deployment_and_terminating_pods() -> None:
    going = pod()
    going["metadata"]["deletionTimestamp"] = "2030-01-01T00:00:00Z"
    assert explain(None, [going], [], []) == "the workspace Deployment does not exist"


def test_nothing_found_still_says_so_and_long_reasons_are_cut() -> None:
    assert explain(deployment(), [pod(phase="Running")], [], []) == (
        "no cause found in the pods, claims or events"
    )
    many = [{"reason": "R", "message": str(i) * 400, "lastTimestamp": str(i)} for i in range(3)]
    text = explain(deployment(), [pod(phase="Running")], [], many)
    assert len(text) == MAX_REASON
    assert text.endswith("…")


def test_an_unbound_claim_says_what_it_waits_for_from_its_own_latest_event() -> None:
    claims = [{"metadata": {"name": "artifacts"}, "spec": {}, "status": {"phase": "Pending"}}]
    about = {"kind": "PersistentVolumeClaim", "name": "artifacts"}
    waiting = (
        "Waiting for a volume to be created either by the external provisioner "
        "'cache.berth.io/node-cache' or manually by the system administrator"
    )
    events = [
        {
            "type": "Normal",
            "reason": "WaitForFirstConsumer",
            "message": "waiting for first consumer",
            "involvedObject": about,
            "lastTimestamp": "2030-01-01T00:01:00Z",  # the same second: the next one wins
        },
        {
            "type": "Normal",
            "reason": "ExternalProvisioning",
            "message": waiting,
            "involvedObject": about,
            "lastTimestamp": "2030-01-01T00:01:00Z",
        },
        {"type": "Normal", "reason": "Scheduled", "message": "x", "lastTimestamp": "2030"},
    ]
    text = explain(deployment(), [pod(phase="Running")], claims, events)
    assert text == f"claim artifacts is unbound (ExternalProvisioning: {waiting})"
