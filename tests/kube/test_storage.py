"""A workspace pod with a claim of the pool's StorageClass schedules, binds and becomes Ready."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kube_manifests import MIG, NODE, assert_gone, pod
from kubernetes import client

pytestmark = pytest.mark.kube


def _claim(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "storageClassName": "lvms-vg1",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "50Gi"}},
        },
    }


def test_storage_class_binds_when_first_consumer_appears(
    core: client.CoreV1Api, namespace: str, eventually: Callable[..., Any]
) -> None:
    storage = client.StorageV1Api(core.api_client)
    sc = storage.read_storage_class("lvms-vg1")
    assert sc.volume_binding_mode == "WaitForFirstConsumer"

    core.create_namespaced_persistent_volume_claim(namespace, _claim("home"))
    core.create_namespaced_persistent_volume_claim(namespace, _claim("data"))
    assert core.read_namespaced_persistent_volume_claim("home", namespace).status.phase == (
        "Pending"
    )

    volumes = [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in ("home", "data")]
    workspace = pod("workspace", {MIG: "1"}, volumes=volumes)
    workspace["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "home", "mountPath": "/home/user"},
        {"name": "data", "mountPath": "/data"},
    ]
    core.create_namespaced_pod(namespace, workspace)

    def ready() -> None:
        current = core.read_namespaced_pod("workspace", namespace)
        assert current.spec.node_name == NODE
        conditions = {c.type: c.status for c in current.status.conditions or []}
        assert conditions.get("Ready") == "True"

    eventually(ready, timeout=60)

    volume_names = []
    for claim in ("home", "data"):
        bound = core.read_namespaced_persistent_volume_claim(claim, namespace)
        assert bound.status.phase == "Bound"
        assert bound.status.capacity["storage"] == "50Gi"
        volume = core.read_persistent_volume(bound.spec.volume_name)
        terms = volume.spec.node_affinity.required.node_selector_terms
        assert terms[0].match_expressions[0].values == [NODE]
        volume_names.append(volume.metadata.name)

    core.delete_namespaced_pod("workspace", namespace)
    core.delete_namespaced_persistent_volume_claim("home", namespace)

    home = volume_names[0]
    eventually(lambda: assert_gone(lambda: core.read_persistent_volume(home), home), timeout=60)
    assert core.read_persistent_volume(volume_names[1]).status.phase == "Bound"
