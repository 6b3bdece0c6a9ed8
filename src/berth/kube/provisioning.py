"""What an external volume provisioner of a `WaitForFirstConsumer` class does, in one place.

Two provisioners share it: the sim's stand-in for LVMS/TopoLVM (`berth.sim.provisioner`) and
the cache agent's provisioner of the artifact cache (`berth.cache.provisioner`). The scheduler
picks a node for a pod, writes it on each unbound claim as `volume.kubernetes.io/selected-node`
and waits; the provisioner then creates a hostPath PersistentVolume pinned to that node and
pre-bound to the claim (`claimRef` with the claim's uid), which the PV controller binds. When
the claim is deleted its volume is Released and, its reclaim policy being Delete, the
provisioner deletes the PersistentVolume object; neither provisioner ever touches node files.

`provision_pass` talks to the API server through anything with `get`, `create` and `delete`
on REST paths (`RestApi`): the sim's small httpx client, or the cache agent's `KubeRest` on
the adapter; `serve` runs passes until SIGTERM. This module has no client of its own.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
HOSTNAME = "kubernetes.io/hostname"

Json = dict[str, Any]


class RestApi(Protocol):
    def get(self, path: str) -> Any: ...
    def create(self, path: str, body: Json) -> Any: ...
    def delete(self, path: str) -> None: ...


@dataclass(frozen=True)
class Provisioner:
    """One provisioner: its name, the node(s) it serves (None: any node) and, for a claim, the
    host path of its volume. `restores_lost`: a claim whose volume (one this provisioner named)
    was deleted under it is `Lost`; make the volume again, pre-bound to the same claim uid, and
    the PV controller binds the two again. Right for a cache whose content is the node's; wrong
    for a disk, whose data a new volume would not have."""

    name: str
    host_path: Callable[[Json], str]
    nodes: frozenset[str] | None = None
    path_type: str = "DirectoryOrCreate"
    restores_lost: bool = False

    def storage_class(self, name: str, *, expandable: bool = False) -> Json:
        sc: Json = {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name},
            "provisioner": self.name,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer",
        }
        if expandable:
            sc["allowVolumeExpansion"] = True
        return sc

    def owns_claim(self, classes: Iterable[str], claim: Json) -> bool:
        """A claim this provisioner must provision: of one of its classes, not yet bound (or,
        with `restores_lost`, bound to a volume of its naming), not being deleted, and placed by
        the scheduler on a node it serves. (Whether the volume exists is the caller's check.)"""
        meta = claim["metadata"]
        node = (meta.get("annotations") or {}).get(SELECTED_NODE)
        bound_to = claim["spec"].get("volumeName")
        return (
            claim["spec"].get("storageClassName") in set(classes)
            and (not bound_to or (self.restores_lost and bound_to == volume_name(claim)))
            and not meta.get("deletionTimestamp")
            and node is not None
            and (self.nodes is None or node in self.nodes)
        )

    def owns_volume(self, pv: Json) -> bool:
        annotations = pv["metadata"].get("annotations") or {}
        if annotations.get(PROVISIONED_BY) != self.name:
            return False
        if self.nodes is None:
            return True
        return volume_node(pv) in self.nodes

    def volume_for(self, claim: Json) -> Json:
        """The PersistentVolume that satisfies one claim on its selected node."""
        meta = claim["metadata"]
        spec = claim["spec"]
        node = meta["annotations"][SELECTED_NODE]
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": volume_name(claim), "annotations": {PROVISIONED_BY: self.name}},
            "spec": {
                "capacity": {"storage": spec["resources"]["requests"]["storage"]},
                "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
                "volumeMode": spec.get("volumeMode", "Filesystem"),
                "storageClassName": spec["storageClassName"],
                "persistentVolumeReclaimPolicy": "Delete",
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
                "hostPath": {"path": self.host_path(claim), "type": self.path_type},
                "nodeAffinity": {"required": node_selector(node)},
            },
        }


def volume_name(claim: Json) -> str:
    return f"pvc-{claim['metadata']['uid']}"


def node_selector(node: str) -> Json:
    term = {"key": HOSTNAME, "operator": "In", "values": [node]}
    return {"nodeSelectorTerms": [{"matchExpressions": [term]}]}


def volume_node(pv: Json) -> str | None:
    """The one node a volume made by `volume_for` is pinned to."""
    try:
        terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
        values: list[str] = terms[0]["matchExpressions"][0]["values"]
    except (KeyError, IndexError, TypeError):
        return None
    return values[0] if len(values) == 1 else None


def provision_pass(api: RestApi, provisioner: Provisioner) -> int:
    """One pass: provision waiting claims, delete released volumes. Returns changes made."""
    classes = {
        sc["metadata"]["name"]
        for sc in api.get("/apis/storage.k8s.io/v1/storageclasses")["items"]
        if sc.get("provisioner") == provisioner.name
    }
    volumes = api.get("/api/v1/persistentvolumes")["items"]
    existing = {pv["metadata"]["name"] for pv in volumes}
    changes = 0
    for claim in api.get("/api/v1/persistentvolumeclaims")["items"]:
        if provisioner.owns_claim(classes, claim) and volume_name(claim) not in existing:
            api.create("/api/v1/persistentvolumes", provisioner.volume_for(claim))
            changes += 1
    for pv in volumes:
        released = (pv.get("status") or {}).get("phase") in ("Released", "Failed")
        deletes = pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete"
        if released and deletes and provisioner.owns_volume(pv):
            api.delete(f"/api/v1/persistentvolumes/{pv['metadata']['name']}")
            changes += 1
    return changes


def serve(
    api: RestApi,
    provisioner: Provisioner,
    *,
    poll: float,
    errors: tuple[type[BaseException], ...],
    name: str,
) -> None:
    """Run `provision_pass` every `poll` seconds until SIGTERM or SIGINT. `errors` (the
    client's) are printed as `name: error` and the next pass tries again."""
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stopping:
        try:
            provision_pass(api, provisioner)
        except errors as err:
            print(f"{name}: {err}", file=sys.stderr, flush=True)
        time.sleep(poll)
