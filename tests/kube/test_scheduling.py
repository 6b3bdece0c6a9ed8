"""GPU slots are a real scheduling limit: capacity pods run, the next waits, and runs on release."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kube_manifests import GPU, MIG, NODE, pod
from kubernetes import client
from kubernetes.client.exceptions import ApiException

pytestmark = pytest.mark.kube


def _running_on_node(core: client.CoreV1Api, namespace: str, name: str) -> None:
    current = core.read_namespaced_pod(name, namespace)
    assert current.spec.node_name == NODE
    assert current.status.phase == "Running"


def _held_elsewhere(core: client.CoreV1Api, namespace: str, resource: str) -> list[str]:
    """Pods of other namespaces on the node that hold a slot of `resource`.

    A pod whose namespace no longer exists is an orphan: a ReplicaSet created it while the
    namespace was being deleted, after the namespace controller had emptied it (a race of the
    control plane's caches that the loaded 2-core sim shows now and then). No kubelet runs
    here to reap it, so it is deleted, and said."""
    held = []
    for p in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={NODE}").items:
        if p.metadata.namespace == namespace or p.status.phase in ("Succeeded", "Failed"):
            continue
        requests = [(c.resources and c.resources.requests) or {} for c in p.spec.containers]
        if not any(resource in r for r in requests):
            continue
        where = f"{p.metadata.namespace}/{p.metadata.name} ({p.status.phase})"
        try:
            core.read_namespace(p.metadata.namespace)
        except ApiException as err:
            if err.status != 404:
                raise
            print(f"orphan pod {where}: its namespace is gone; deleting it")
            core.delete_namespaced_pod(
                p.metadata.name, p.metadata.namespace, grace_period_seconds=0
            )
        held.append(where)
    return held


@pytest.mark.parametrize(("resource", "slots"), [(GPU, 4), (MIG, 8)])
def test_gpu_slots_fill_up_then_the_next_pod_waits_for_a_free_one(
    core: client.CoreV1Api,
    namespace: str,
    eventually: Callable[..., Any],
    resource: str,
    slots: int,
) -> None:
    def node_is_free() -> None:  # other tests' sessions may still be going away
        held = _held_elsewhere(core, namespace, resource)
        assert not held, f"slots of {resource} still held by {held}"

    eventually(node_is_free, timeout=120)
    for i in range(slots):
        core.create_namespaced_pod(namespace, pod(f"slot-{i}", {resource: "1"}))
    for i in range(slots):
        eventually(lambda i=i: _running_on_node(core, namespace, f"slot-{i}"))

    core.create_namespaced_pod(namespace, pod("one-too-many", {resource: "1"}))

    def unschedulable() -> None:
        current = core.read_namespaced_pod("one-too-many", namespace)
        assert current.status.phase == "Pending"
        scheduled = [c for c in current.status.conditions or [] if c.type == "PodScheduled"]
        assert [(c.status, c.reason) for c in scheduled] == [("False", "Unschedulable")]
        assert f"Insufficient {resource}" in scheduled[0].message

    eventually(unschedulable)
    assert core.read_namespaced_pod("one-too-many", namespace).spec.node_name is None

    core.delete_namespaced_pod("slot-0", namespace)

    eventually(lambda: _running_on_node(core, namespace, "one-too-many"), timeout=60)
    running = [
        p.metadata.name
        for p in core.list_namespaced_pod(namespace).items
        if p.status.phase == "Running"
    ]
    assert len(running) == slots
