"""The session's volumes: its disk, a claim of the pool's StorageClass, and the node's artifact
cache.

The disk is one claim (`workspace`, `SessionConfig.disk_bytes`); the workspace mounts its
directories `home`, `data` and `models` at the IDE's home, /data and /models (subPath mounts:
the kubelet makes each directory on first mount, in the volume's group that fsGroup set). It was
three claims, one per directory, until 2026-12-03: every claim costs the control plane about
eight requests while it binds (the volume binder's updates of the claim and its status, the
provisioner's volume and its status), a third of the requests the API server served for a
session opening; one disk takes a fifth off them (it did not make openings on the 2-core sim
faster: docs/benchmarks.md), and lets the space go where the session needs it.

The artifact cache (model weights and engine images staged by the cache agent) is a directory
on every GPU node. It reaches the workspace through the claim `artifacts` of the StorageClass
`berth-cache` (`SessionConfig.cache_storage_class`), never through a hostPath volume in the pod:
Pod Security `baseline` refuses hostPath pods, which is what keeps a namespace admin off the
node. The reconciler makes only this namespaced claim; the cache agent of the node the
workspace is scheduled to makes the hostPath PersistentVolume of the node's read-only view of
the cache and deletes it once Released (`berth.cache.provisioner`). Pods mount the claim
read-only: the admission policy `berth-artifacts-readonly` (`berth.kube.admission`) refuses any
pod of a session that mounts it otherwise, and only the reconciler may make claims of the class.
"""

from __future__ import annotations

from berth.domain.quantity import format_bytes
from berth.domain.session import SessionSpec
from berth.kube.manifests.common import ARTIFACTS, DISK, Obj, meta, obj

ARTIFACTS_BYTES = 2**30  # nominal: the cache's hostPath volume has no real size


def disk_claim(spec: SessionSpec) -> Obj:
    return obj(
        "v1",
        "PersistentVolumeClaim",
        meta(spec, DISK),
        spec={
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": spec.storage_class,
            "resources": {"requests": {"storage": format_bytes(spec.config.disk_bytes)}},
        },
    )


def artifacts_claim(spec: SessionSpec) -> Obj:
    """The session's claim on the node's artifact cache. Its volume is made by the cache agent
    of the node the workspace is scheduled to (class `berth-cache`, WaitForFirstConsumer)."""
    return obj(
        "v1",
        "PersistentVolumeClaim",
        meta(spec, ARTIFACTS),
        spec={
            "accessModes": ["ReadOnlyMany"],
            "storageClassName": spec.config.cache_storage_class,
            "resources": {"requests": {"storage": format_bytes(ARTIFACTS_BYTES)}},
        },
    )


def volumes(spec: SessionSpec) -> list[Obj]:
    return [disk_claim(spec), artifacts_claim(spec)]
