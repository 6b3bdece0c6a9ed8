"""Ending a session deletes its namespace; that must complete with objects still inside it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kube_manifests import MIG, assert_gone, pod
from kubernetes import client

pytestmark = pytest.mark.kube


def test_deleting_a_namespace_with_objects_in_it_completes(
    core: client.CoreV1Api, eventually: Callable[..., Any]
) -> None:
    name = f"t-del-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    eventually(lambda: core.read_namespaced_service_account("default", name))
    core.create_namespaced_resource_quota(
        name, {"metadata": {"name": "session"}, "spec": {"hard": {f"requests.{MIG}": "2"}}}
    )
    core.create_namespaced_config_map(name, {"metadata": {"name": "c"}, "data": {"k": "v"}})
    core.create_namespaced_secret(name, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    core.create_namespaced_persistent_volume_claim(
        name,
        {
            "metadata": {"name": "home"},
            "spec": {
                "storageClassName": "lvms-vg1",
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    workspace = pod("workspace", {MIG: "1"})
    workspace["spec"]["volumes"] = [
        {"name": "home", "persistentVolumeClaim": {"claimName": "home"}}
    ]
    core.create_namespaced_pod(name, workspace)
    client.AppsV1Api(core.api_client).create_namespaced_deployment(
        name,
        {
            "metadata": {"name": "server"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "server"}},
                "template": {
                    "metadata": {"labels": {"app": "server"}},
                    "spec": pod("x")["spec"],
                },
            },
        },
    )

    def running() -> None:
        pods = core.list_namespaced_pod(name).items
        assert len(pods) == 3
        assert {p.status.phase for p in pods} == {"Running"}

    eventually(running, timeout=60)

    core.delete_namespace(name)

    eventually(lambda: assert_gone(lambda: core.read_namespace(name), name), timeout=90)
