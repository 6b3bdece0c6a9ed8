"""The session's volumes: three claims of the pool's StorageClass and the node's artifact cache.

The artifact cache (model weights and engine images staged by the cache daemon) is a directory
on every GPU node. It reaches the workspace through a hostPath PersistentVolume pre-bound to a
claim of this namespace, never through a hostPath volume in the pod: Pod Security `baseline`
refuses hostPath pods, which is what keeps a namespace admin off the node. The volume is
cluster-scoped and outlives the namespace (reclaim policy Retain, so nothing ever deletes the
node's files); garbage collection removes it by its labels. Pods mount the claim read-only:
the admission policy `berth-artifacts-readonly` (`berth.kube.admission`) refuses any pod of a
session that mounts it otherwise; the node should still expose the directory as a read-only
bind mount, as a second line.
"""

from __future__ import annotations

from berth.domain.quantity import format_bytes
from berth.domain.session import SessionSpec
from berth.kube.manifests.common import ARTIFACTS, CLAIMS, Obj, meta, node_terms, obj

ARTIFACTS_BYTES = 2**30  # nominal: a hostPath volume has no real size


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


def artifacts_volume_for(namespace: str) -> str:
    return f"{namespace}-{ARTIFACTS}"


def artifacts_volume_name(spec: SessionSpec) -> str:
    return artifacts_volume_for(spec.namespace)


def artifacts_volume(spec: SessionSpec, claim_uid: str | None = None) -> Obj:
    """The pre-bound volume. Once the claim exists a re-apply names its uid (`claim_uid`, read
    from the cluster): that is the repair of a claim whose volume was deleted. A claim that
    was bound to a deleted volume is `Lost`, and the PV controller binds it again only to a
    volume whose `claimRef` carries its uid; without the uid the new volume stays `Available`
    and the claim `Lost` for good (both checked on the sim)."""
    claim_ref = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": spec.namespace,
        "name": ARTIFACTS,
    }
    if claim_uid is not None:
        claim_ref["uid"] = claim_uid
    return obj(
        "v1",
        "PersistentVolume",
        meta(spec, artifacts_volume_name(spec), namespaced=False),
        spec={
            "capacity": {"storage": format_bytes(ARTIFACTS_BYTES)},
            "accessModes": ["ReadOnlyMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "volumeMode": "Filesystem",
            "hostPath": {"path": spec.config.artifact_cache_path, "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": node_terms(spec)},
            "claimRef": claim_ref,
        },
    )


def artifacts_claim(spec: SessionSpec) -> Obj:
    return obj(
        "v1",
        "PersistentVolumeClaim",
        meta(spec, ARTIFACTS),
        spec={
            "accessModes": ["ReadOnlyMany"],
            "storageClassName": "",
            "volumeName": artifacts_volume_name(spec),
            "resources": {"requests": {"storage": format_bytes(ARTIFACTS_BYTES)}},
        },
    )


def volumes(spec: SessionSpec, artifacts_claim_uid: str | None = None) -> list[Obj]:
    claims = [claim(spec, name, size) for name, size in claim_sizes(spec).items()]
    return [*claims, artifacts_volume(spec, artifacts_claim_uid), artifacts_claim(spec)]
