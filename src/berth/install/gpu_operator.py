"""The NVIDIA GPU Operator configuration that makes a cluster offer exactly what the pool books.

Berth books physical units (a whole GPU, a MIG slice) and hands out `replicas` Kubernetes slots
per unit (`berth.domain.pool`). The cluster only offers those slots if
- the MIG manager splits every GPU as the pool file says (a mig-parted config per node layout,
  with the mixed strategy: MIG GPUs and whole GPUs on one node), and
- the device plugin time-slices each resource with the pool's replicas (a config per set of
  replicas), and
- each node is labelled with the names of its two configs.

`render()` prints all of it; `tests/unit/test_gpu_operator.py` checks, for any valid pool file,
that the slots these configs imply are the slots the scheduler books.

Formats: mig-parted `version: v1` configs and the device plugin's `version: v1` config file, as
documented in NVIDIA's GPU Operator guides ("GPU Operator with MIG", "Time-Slicing GPUs in
Kubernetes").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from berth.domain.pool import WHOLE_GPU, Gpu, Node, Pool, kube_resource

MIG_CONFIGMAP = "custom-mig-config"
MIG_CONFIG_KEY = "config.yaml"
TIME_SLICING_CONFIGMAP = "time-slicing-config"
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
MIG_STRATEGY = "mixed"
DEFAULT_NAMESPACE = "gpu-operator"  # OpenShift (OLM): nvidia-gpu-operator
DEFAULT_CLUSTER_POLICY = "cluster-policy"  # OpenShift (OLM): gpu-cluster-policy
PART_OF = ("app.kubernetes.io/part-of", "berth")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")

Obj = dict[str, Any]


@dataclass(frozen=True)
class NodeConfig:
    """The two configs one GPU node is labelled with."""

    node: str
    mig_config: str
    device_plugin_config: str


@dataclass(frozen=True)
class Plan:
    """Everything rendered for a set of pools: configs by name, and each GPU node's labels."""

    mig_configs: dict[str, list[Obj]]  # mig-parted config name -> its entries
    device_plugin_configs: dict[str, Obj]  # config key -> device plugin config file
    nodes: tuple[NodeConfig, ...]
    default_device_plugin_config: str | None  # for GPU nodes left unlabelled


# ---- names ---------------------------------------------------------------------------------


def _label_value(readable: str, content: object, prefix: str) -> str:
    """`readable` if it is a valid label value, else `prefix-` and a hash of the content."""
    if _LABEL_VALUE.match(readable):
        return readable
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:10]
    return f"{prefix}-{digest}"


def _runs(indices: Sequence[int]) -> str:
    """`0-3` for consecutive indices, `0.2` otherwise (sorted input)."""
    if len(indices) > 1 and indices[-1] - indices[0] == len(indices) - 1:
        return f"{indices[0]}-{indices[-1]}"
    return ".".join(str(i) for i in indices)


# ---- MIG manager ---------------------------------------------------------------------------


def _mig_of(gpu: Gpu) -> tuple[str, int] | None:
    return (gpu.mig.profile, gpu.mig.count) if gpu.mig else None


def _groups(node: Node) -> list[tuple[list[int], tuple[str, int] | None]]:
    """The node's GPUs grouped by identical MIG layout, in index order."""
    groups: dict[tuple[str, int] | None, list[int]] = {}
    for gpu in sorted(node.gpus, key=lambda g: g.index):
        groups.setdefault(_mig_of(gpu), []).append(gpu.index)
    return sorted(((idx, mig) for mig, idx in groups.items()), key=lambda g: g[0][0])


def mig_entries(node: Node) -> list[Obj]:
    """mig-parted entries for a node: MIG GPUs split into their slices, the rest whole."""
    entries: list[Obj] = []
    for indices, mig in _groups(node):
        if mig is None:
            entries.append({"devices": indices, "mig-enabled": False})
        else:
            profile, count = mig
            entries.append(
                {"devices": indices, "mig-enabled": True, "mig-devices": {profile: count}}
            )
    return entries


def mig_config_name(node: Node) -> str:
    """A name for the node's layout that says what it is, e.g. `1g.24gbx4-gpu0_whole-gpu1`
    (4 slices of 1g.24gb on GPU 0, GPU 1 whole) or `whole-gpu0-7`; nodes with the same layout
    share it."""
    parts = [
        f"{f'{mig[0]}x{mig[1]}' if mig else 'whole'}-gpu{_runs(indices)}"
        for indices, mig in _groups(node)
    ]
    return _label_value("_".join(parts), mig_entries(node), "layout")


# ---- device plugin (time-slicing) ----------------------------------------------------------


def _replicas(node: Node) -> dict[str, int]:
    """Time-slicing replicas per Kubernetes resource on the node (one value per kind: the pool
    file's validation makes every GPU of a kind in a pool share its replicas)."""
    out: dict[str, int] = {}
    for gpu in sorted(node.gpus, key=lambda g: g.index):
        out.setdefault(kube_resource(gpu.kind), gpu.replicas)
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != kube_resource(WHOLE_GPU), kv[0])))


def device_plugin_config(node: Node) -> Obj:
    """The device plugin config file for the node: every shared resource with its replicas,
    names kept (`nvidia.com/gpu` stays `nvidia.com/gpu`), so the slots are the ones the quota
    of a session counts. A resource with 1 replica is not shared and is not listed."""
    shared = [{"name": r, "replicas": n} for r, n in _replicas(node).items() if n > 1]
    config: Obj = {"version": "v1", "flags": {"migStrategy": MIG_STRATEGY}}
    if shared:
        config["sharing"] = {"timeSlicing": {"renameByDefault": False, "resources": shared}}
    return config


def device_plugin_config_name(node: Node) -> str:
    """A name that says the replicas, e.g. `gpu-x4_mig-1g.24gb-x2`."""
    readable = "_".join(f"{r.removeprefix('nvidia.com/')}-x{n}" for r, n in _replicas(node).items())
    return _label_value(readable, device_plugin_config(node), "replicas")


# ---- the plan and its objects --------------------------------------------------------------


def plan(pools: Iterable[Pool]) -> Plan:
    mig_configs: dict[str, list[Obj]] = {}
    dp_configs: dict[str, Obj] = {}
    nodes: list[NodeConfig] = []
    for pool in pools:
        for node in pool.nodes:
            if not node.gpus:
                continue
            mig_name, dp_name = mig_config_name(node), device_plugin_config_name(node)
            mig_configs.setdefault(mig_name, mig_entries(node))
            dp_configs.setdefault(dp_name, device_plugin_config(node))
            nodes.append(NodeConfig(node.name, mig_name, dp_name))
    used = Counter(n.device_plugin_config for n in nodes)
    return Plan(
        mig_configs=mig_configs,
        device_plugin_configs=dp_configs,
        nodes=tuple(nodes),
        default_device_plugin_config=used.most_common(1)[0][0] if used else None,
    )


def _configmap(name: str, namespace: str, data: dict[str, str]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict([PART_OF])},
        "data": data,
    }


def mig_configmap(p: Plan, namespace: str = DEFAULT_NAMESPACE) -> Obj:
    """The MIG manager's custom config: one named mig-parted config per node layout."""
    config = {"version": "v1", "mig-configs": p.mig_configs}
    return _configmap(MIG_CONFIGMAP, namespace, {MIG_CONFIG_KEY: dump(config)})


def time_slicing_configmap(p: Plan, namespace: str = DEFAULT_NAMESPACE) -> Obj:
    """The device plugin's configs, one key per set of replicas."""
    data = {key: dump(config) for key, config in p.device_plugin_configs.items()}
    return _configmap(TIME_SLICING_CONFIGMAP, namespace, data)


def cluster_policy_patch(p: Plan, name: str = DEFAULT_CLUSTER_POLICY) -> Obj:
    """A merge patch of the ClusterPolicy: mixed strategy, both configs by name."""
    device_plugin: Obj = {"name": TIME_SLICING_CONFIGMAP}
    if p.default_device_plugin_config is not None:
        device_plugin["default"] = p.default_device_plugin_config
    return {
        "apiVersion": "nvidia.com/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": name},
        "spec": {
            "mig": {"strategy": MIG_STRATEGY},
            "migManager": {"config": {"name": MIG_CONFIGMAP}},
            "devicePlugin": {"config": device_plugin},
        },
    }


def node_labels(p: Plan) -> dict[str, dict[str, str]]:
    return {
        n.node: {MIG_CONFIG_LABEL: n.mig_config, DEVICE_PLUGIN_CONFIG_LABEL: n.device_plugin_config}
        for n in p.nodes
    }


def label_commands(p: Plan) -> list[str]:
    """One `kubectl label` command per GPU node (`--overwrite`: a changed layout relabels)."""
    return [
        f"kubectl label node {node} "
        + " ".join(f"{k}={v}" for k, v in labels.items())
        + " --overwrite"
        for node, labels in node_labels(p).items()
    ]


# ---- YAML ----------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line strings (the configs inside ConfigMaps) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(obj: object) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


HEADER = """\
# NVIDIA GPU Operator configuration for Berth's pool file{source}.
# Apply the objects (server-side: the ClusterPolicy document is a partial object that only
# sets the fields below):
#   berth render gpu-operator ... | kubectl apply --server-side --force-conflicts -f -
# Then label each GPU node (the MIG manager repartitions a node when its label changes; drain
# it first). Ready to run: ... | sed -n 's/^# RUN: //p' | sh
"""


def render(
    pools: Iterable[Pool],
    *,
    namespace: str = DEFAULT_NAMESPACE,
    cluster_policy: str = DEFAULT_CLUSTER_POLICY,
    source: str = "",
) -> str:
    """The multi-document YAML `berth render gpu-operator` prints."""
    p = plan(pools)
    head = HEADER.format(source=f" {source}" if source else "")
    commands = label_commands(p) or ["true  # no GPU node in the pool file"]
    head += "".join(f"# RUN: {c}\n" for c in commands)
    docs = [
        mig_configmap(p, namespace),
        time_slicing_configmap(p, namespace),
        cluster_policy_patch(p, cluster_policy),
    ]
    return head + "---\n" + "---\n".join(dump(d) for d in docs)
