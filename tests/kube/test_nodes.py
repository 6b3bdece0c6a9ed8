"""The fake GPU node is what the GPU operator would leave on the reference C845A."""

from __future__ import annotations

import pytest
from kube_manifests import GPU, MIG, NODE
from kubernetes import client

pytestmark = pytest.mark.kube


def test_node_advertises_gpu_slots_as_units_times_replicas(core: client.CoreV1Api) -> None:
    node = core.read_node(NODE)

    for resources in (node.status.capacity, node.status.allocatable):
        assert resources[GPU] == "4"  # 1 whole GPU x 4 replicas
        assert resources[MIG] == "8"  # 4 MIG slices x 2 replicas
        assert resources["cpu"] == "127"
        assert resources["memory"] == "754Gi"
        assert resources["pods"] == "110"


def test_node_is_ready_untainted_and_labelled_like_the_gpu_operator(
    core: client.CoreV1Api,
) -> None:
    node = core.read_node(NODE)

    ready = [c for c in node.status.conditions if c.type == "Ready"]
    assert [c.status for c in ready] == ["True"]
    assert not node.spec.taints
    labels = node.metadata.labels
    assert labels["nvidia.com/gpu.present"] == "true"
    assert labels["nvidia.com/mig.strategy"] == "mixed"
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-RTX-PRO-6000-Blackwell-SHARED"
    assert labels["nvidia.com/gpu.replicas"] == "4"
    assert labels["nvidia.com/mig-1g.24gb.count"] == "4"
    assert labels["kubernetes.io/hostname"] == NODE
