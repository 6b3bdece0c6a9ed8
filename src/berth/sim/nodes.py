"""Fake GPU nodes that look to the scheduler and to quota exactly like the pool file's hardware.

The node is what the GPU operator would leave behind on the real machine: extended resources
`nvidia.com/gpu` and `nvidia.com/mig-<profile>` counted as physical units x time-slicing replicas
(the device plugin advertises every replica as one schedulable unit), and the labels that
gpu-feature-discovery and the MIG manager put on the node. kwok takes every node carrying its
annotation and plays kubelet for it. The pool file is read by `berth.config`, so the sim and the
booking math share one parser and one set of validation errors.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from berth.config import load_pool_file
from berth.domain.pool import Gpu, Node, Pool, kube_resource

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_VALUE = "fake"
POOL_LABEL = "berth.dev/pool"
_GI = 2**30
_MI = 2**20


def _cpu(millicores: int) -> str:
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def _memory(size: int) -> str:
    for unit, factor in (("Ti", 2**40), ("Gi", _GI), ("Mi", _MI), ("Ki", 2**10)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def gpu_resources(gpus: tuple[Gpu, ...]) -> Counter[str]:
    """Schedulable units per Kubernetes resource name: physical units x replicas."""
    units: Counter[str] = Counter()
    for gpu in gpus:
        units[kube_resource(gpu.kind)] += gpu.units * gpu.replicas
    return units


def _gpu_labels(gpus: tuple[Gpu, ...]) -> dict[str, str]:
    """What gpu-feature-discovery, the MIG manager and node-feature-discovery label."""
    if not gpus:
        return {}
    first = gpus[0]
    product = "NVIDIA-" + first.model.replace(" ", "-")
    whole = [g for g in gpus if g.mig is None]
    replicas = max(g.replicas for g in gpus)
    shared = replicas > 1
    labels = {
        "feature.node.kubernetes.io/pci-10de.present": "true",
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.deploy.driver": "true",
        "nvidia.com/gpu.deploy.device-plugin": "true",
        "nvidia.com/gpu.deploy.gpu-feature-discovery": "true",
        "nvidia.com/gpu.deploy.mig-manager": "true",
        "nvidia.com/gpu.product": product + ("-SHARED" if shared else ""),
        "nvidia.com/gpu.family": "blackwell" if "Blackwell" in first.model else "unknown",
        "nvidia.com/gpu.count": str(len(whole)),
        "nvidia.com/gpu.memory": str(first.memory_bytes // _MI),
        "nvidia.com/gpu.replicas": str(replicas),
        "nvidia.com/gpu.sharing-strategy": "time-slicing" if shared else "none",
        "nvidia.com/mig.capable": "true",
        "nvidia.com/mig.strategy": "mixed",
        "nvidia.com/mig.config": "custom-mig-config",
        "nvidia.com/mig.config.state": "success",
    }
    slices: Counter[str] = Counter()
    for gpu in gpus:
        if gpu.mig is not None:
            slices[gpu.mig.profile] += gpu.mig.count
            labels[f"nvidia.com/mig-{gpu.mig.profile}.replicas"] = str(gpu.replicas)
            labels[f"nvidia.com/mig-{gpu.mig.profile}.product"] = f"{product}-MIG-{gpu.mig.profile}"
    for profile, count in slices.items():
        labels[f"nvidia.com/mig-{profile}.count"] = str(count)
    return labels


def node_manifest(pool: str, node: Node, name: str) -> dict[str, Any]:
    """One Node object with its status, as kwok expects it on create."""
    resources: dict[str, str] = {
        "cpu": _cpu(node.cpu_millicores),
        "memory": _memory(node.memory_bytes),
        "pods": "110",
        "ephemeral-storage": "1Ti",
    }
    resources.update({k: str(v) for k, v in sorted(gpu_resources(node.gpus).items())})
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node-role.kubernetes.io/worker": "",
        "type": "kwok",
        POOL_LABEL: pool,
        **_gpu_labels(node.gpus),
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {KWOK_ANNOTATION: KWOK_VALUE, "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": {"capacity": resources, "allocatable": dict(resources)},
    }


def storage_classes(all_pools: list[Pool]) -> list[str]:
    """Every StorageClass a pool's node names, in file order."""
    seen: list[str] = []
    for pool in all_pools:
        for node in pool.nodes:
            if node.storage_class and node.storage_class not in seen:
                seen.append(node.storage_class)
    return seen


def node_manifests(pool_file_path: Path | None, nodes_multiplier: int = 1) -> list[dict[str, Any]]:
    """Nodes of a pool file (the demo pool when None); see `manifests_for_pools`."""
    return manifests_for_pools(load_pool_file(pool_file_path), nodes_multiplier)


def manifests_for_pools(all_pools: list[Pool], nodes_multiplier: int = 1) -> list[dict[str, Any]]:
    """A Node per pool-file node, times `nodes_multiplier` for scale runs.

    The first copy keeps the pool file's name, so one-node runs look like the real machine;
    further copies are `<name>-<i>`.
    """
    if nodes_multiplier < 1:
        raise ValueError("nodes_multiplier must be >= 1")
    out: list[dict[str, Any]] = []
    for pool in all_pools:
        for node in pool.nodes:
            for i in range(nodes_multiplier):
                name = node.name if i == 0 else f"{node.name}-{i}"
                out.append(node_manifest(pool.name, node, name))
    return out
