"""A request without CPU and memory gets the per-kind defaults: LimitRanger injects them."""

from __future__ import annotations

import pytest
from kube_manifests import pod
from kubernetes import client

pytestmark = pytest.mark.kube


def test_limitrange_defaults_are_injected_into_a_bare_pod(
    core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_limit_range(
        namespace,
        {
            "metadata": {"name": "defaults"},
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "defaultRequest": {"cpu": "16", "memory": "96Gi"},
                        "default": {"cpu": "16", "memory": "96Gi"},
                    }
                ]
            },
        },
    )

    core.create_namespaced_pod(namespace, pod("bare"))

    resources = core.read_namespaced_pod("bare", namespace).spec.containers[0].resources
    assert resources.requests == {"cpu": "16", "memory": "96Gi"}
    assert resources.limits == {"cpu": "16", "memory": "96Gi"}
