"""The pre-pull DaemonSet of a pool: keeps the catalog's engine images on the pool's nodes.

One DaemonSet `berth-prepull-<pool>` per pool, in the platform namespace, pinned to the pool's
nodes by a required node affinity on their host names. Each engine image is an init container
(`imagePullPolicy: IfNotPresent`, command `true`: the engine images are distribution-based, so
the kubelet pulls the image and the container exits at once); then a pause container keeps the
pod, and with it the image's use, alive at almost no cost. Non-root, no privilege, all
capabilities dropped, tiny requests. The pod template carries the map from init container to
engine, so image state per node can be read back from the pods' init container statuses
(`berth.kube.prepull`). Pure: the reconciler applies these when their hash changes
(`prepull_hash`), never every cycle.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from berth.domain.catalog import Engine
from berth.domain.pool import Pool
from berth.domain.session import (
    LABEL_INSTALLATION,
    LABEL_POOL,
    MANAGED_BY,
    SessionConfig,
    label_value,
)
from berth.kube.manifests.common import APP_LABEL, HOSTNAME, Obj, obj

PREFIX = "berth-prepull-"
APP = "berth-prepull"
HASH_ANNOTATION = "berth.io/prepull-hash"
ENGINES_ANNOTATION = "berth.io/prepull-engines"  # {init container name: engine name}
# The pause image Kubernetes itself runs as every pod's sandbox (pinned by tag).
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
UID = 65532
TOLERATED_TAINTS = ("nvidia.com/gpu",)
_RESOURCES = {
    "requests": {"cpu": "1m", "memory": "8Mi"},
    "limits": {"cpu": "100m", "memory": "64Mi"},
}
_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
}
# OpenShift assigns the namespace's own uid range (restricted-v2 refuses a fixed uid outside it)
_FIXED_USER = {"runAsUser": UID, "runAsGroup": UID}


def daemonset_name(pool: str) -> str:
    """`berth-prepull-<pool>`, a valid object name whatever the pool is called."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", pool.lower()).strip("-") or "pool"
    name = f"{PREFIX}{cleaned}"
    if len(name) > 63 or cleaned != pool:  # keep distinct pools distinct
        digest = hashlib.sha256(pool.encode()).hexdigest()[:8]
        name = f"{PREFIX}{cleaned[: 63 - len(PREFIX) - 9]}-{digest}"
    return name


def container_names(engines: Sequence[Engine]) -> dict[str, str]:
    """Init container name (a DNS label) for each engine, in catalog order."""
    out: dict[str, str] = {}
    for e in engines:
        base = "engine-" + re.sub(r"[^a-z0-9-]+", "-", e.name).strip("-")
        name, n = base[:63], 2
        while name in out:
            name, n = f"{base[:60]}-{n}", n + 1
        out[name] = e.name
    return out


def labels(pool: str, cfg: SessionConfig) -> dict[str, str]:
    return {
        MANAGED_BY[0]: MANAGED_BY[1],
        LABEL_INSTALLATION: cfg.installation,
        LABEL_POOL: label_value(pool),
        APP_LABEL: APP,
    }


def selector(cfg: SessionConfig) -> str:
    """Label selector of this installation's pre-pull DaemonSets and their pods."""
    return f"{APP_LABEL}={APP},{LABEL_INSTALLATION}={cfg.installation}"


def prepull_hash(
    pool: Pool, engines: Sequence[Engine], cfg: SessionConfig, *, openshift: bool = False
) -> str:
    """What the DaemonSet depends on: the pool's nodes and the engines' references."""
    text = json.dumps(
        {
            "nodes": sorted(n.name for n in pool.nodes),
            "images": [e.reference for e in engines],
            "names": list(container_names(engines)),
            "pause": PAUSE_IMAGE,
            "namespace": cfg.platform_namespace,
            "openshift": openshift,
            "version": 1,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def daemonset(
    pool: Pool, engines: Sequence[Engine], cfg: SessionConfig, *, openshift: bool = False
) -> Obj:
    names = container_names(engines)
    security = _SECURITY if openshift else {**_SECURITY, **_FIXED_USER}
    by_name = {e.name: e for e in engines}
    match = {APP_LABEL: APP, LABEL_POOL: label_value(pool.name)}
    digest = prepull_hash(pool, engines, cfg, openshift=openshift)
    terms = {
        "nodeSelectorTerms": [
            {
                "matchExpressions": [
                    {
                        "key": HOSTNAME,
                        "operator": "In",
                        "values": sorted(n.name for n in pool.nodes),
                    }
                ]
            }
        ]
    }
    init = [
        {
            "name": container,
            "image": by_name[engine].reference,
            "imagePullPolicy": "IfNotPresent",
            "command": ["true"],
            "resources": _RESOURCES,
            "securityContext": security,
        }
        for container, engine in names.items()
    ]
    pause = {
        "name": "pause",
        "image": PAUSE_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "resources": _RESOURCES,
        "securityContext": security,
    }
    return obj(
        "apps/v1",
        "DaemonSet",
        {
            "name": daemonset_name(pool.name),
            "namespace": cfg.platform_namespace,
            "labels": labels(pool.name, cfg),
            "annotations": {HASH_ANNOTATION: digest},
        },
        spec={
            "selector": {"matchLabels": match},
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "100%"},
            },
            "template": {
                "metadata": {
                    "labels": {**labels(pool.name, cfg), **match},
                    "annotations": {ENGINES_ANNOTATION: json.dumps(names)},
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 0,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "affinity": {
                        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": terms}
                    },
                    "tolerations": [
                        {"key": key, "operator": "Exists", "effect": "NoSchedule"}
                        for key in TOLERATED_TAINTS
                    ],
                    "initContainers": init,
                    "containers": [pause],
                },
            },
        },
    )


def desired(
    pools: Sequence[Pool], engines: Sequence[Engine], cfg: SessionConfig, *, openshift: bool = False
) -> dict[str, Obj]:
    """Every pre-pull DaemonSet by name: one per pool while the catalog has engines, none else."""
    if not engines:
        return {}
    return {daemonset_name(p.name): daemonset(p, engines, cfg, openshift=openshift) for p in pools}


# OpenShift: CRI-O's image garbage collection may still remove an image the kubelet does not see
# in use; a PinnedImageSet (machineconfiguration.openshift.io/v1) pins and preloads images on the
# nodes of one MachineConfigPool, which it names by the `machineconfiguration.openshift.io/role`
# label. Its images must be referenced by digest (docs/runtime.md cites the API reference).
PINNED_API_VERSION = "machineconfiguration.openshift.io/v1"
MCP_ROLE_LABEL = "machineconfiguration.openshift.io/role"


def pinned_image_set(
    engines: Sequence[Engine], machine_config_pool: str, pools: Sequence[Pool]
) -> tuple[Obj, list[str]]:
    """A PinnedImageSet of the engine images for one MachineConfigPool, and the engines left
    out because the catalog gives no digest for them (a PinnedImageSet takes digests only)."""
    pinned = [e.reference for e in engines if e.digest is not None]
    skipped = [e.name for e in engines if e.digest is None]
    manifest = obj(
        PINNED_API_VERSION,
        "PinnedImageSet",
        {
            "name": f"berth-engines-{machine_config_pool}",
            "labels": {MCP_ROLE_LABEL: machine_config_pool, "app.kubernetes.io/part-of": "berth"},
            "annotations": {"berth.io/pools": ",".join(sorted(p.name for p in pools))},
        },
        spec={"pinnedImages": [{"name": ref} for ref in pinned]},
    )
    return manifest, skipped
