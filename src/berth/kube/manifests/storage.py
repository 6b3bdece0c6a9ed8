"""The session's volumes: three claims of the pool's StorageClass and the node's artifact cache.

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
from berth.kube.manifests.common import ARTIFACTS, CLAIMS, Obj, meta, obj

ARTIFACTS_BYTES = 2**30  # nominal: the cache's hostPath volume has no real size


def claim_sizes(spec: SessionSpec) -> dict[str, int]:
    cfg = spec.config
    return dict(zip(CLAIMS, (cfg.home_bytes, cfg.data_bytes, cfg.models_bytes), strict=True))


def claim(spec: SessionSpec, name: str, size: int) -> Obj:
    return obj(
        "v1",
        "PersistentVolumeClaim",
        meta(spec, name),
        spec={
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": spec.storage_class,
            "resources": {"requests": {"storage": format_bytes(size)}},
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
    claims = [claim(spec, name, size) for name, size in claim_sizes(spec).items()]
    return [*claims, artifacts_claim(spec)]
