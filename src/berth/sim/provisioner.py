"""A local-storage provisioner for the sim, standing in for LVMS/TopoLVM on the real node.

The pool's StorageClass binds `WaitForFirstConsumer`, as LVMS does: the scheduler picks a node
for the pod, writes it on the claim as `volume.kubernetes.io/selected-node`, and waits for the
claim to bind. On the real node the CSI provisioner then carves a logical volume; here this loop
creates a hostPath PersistentVolume pinned to that node and pre-bound to the claim, and the real
PV controller binds the two. When a claim is deleted its volume is Released and, with reclaim
policy Delete, this loop deletes it, as an external provisioner must. No kubelet runs, so the
host path is never touched.

Run as `python -m berth.sim.provisioner <state-dir>`; it stops on SIGTERM.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from berth.sim.apiclient import ApiClient, ApiError
from berth.sim.pki import Pki
from berth.sim.state import Paths, SimState

PROVISIONER = "sim.berth.dev/local-storage"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
VOLUME_ROOT = "/var/lib/berth-sim/volumes"
POLL_SECONDS = 0.5


def storage_class(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }


def volume_for(claim: dict[str, Any]) -> dict[str, Any]:
    """The PersistentVolume that satisfies one claim on its selected node."""
    meta = claim["metadata"]
    spec = claim["spec"]
    node = meta["annotations"][SELECTED_NODE]
    name = f"pvc-{meta['uid']}"
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
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
            "hostPath": {"path": f"{VOLUME_ROOT}/{name}", "type": "DirectoryOrCreate"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [node],
                                }
                            ]
                        }
                    ]
                }
            },
        },
    }


def _ours(classes: set[str], claim: dict[str, Any]) -> bool:
    return claim["spec"].get("storageClassName") in classes


def reconcile(api: ApiClient) -> int:
    """One pass: provision waiting claims, delete released volumes. Returns changes made."""
    classes = {
        sc["metadata"]["name"]
        for sc in api.get("/apis/storage.k8s.io/v1/storageclasses")["items"]
        if sc.get("provisioner") == PROVISIONER
    }
    volumes = api.get("/api/v1/persistentvolumes")["items"]
    existing = {pv["metadata"]["name"] for pv in volumes}
    changes = 0
    for claim in api.get("/api/v1/persistentvolumeclaims")["items"]:
        meta = claim["metadata"]
        waiting = (
            _ours(classes, claim)
            and not claim["spec"].get("volumeName")
            and SELECTED_NODE in meta.get("annotations", {})
            and not meta.get("deletionTimestamp")
        )
        if waiting and f"pvc-{meta['uid']}" not in existing:
            api.create("/api/v1/persistentvolumes", volume_for(claim))
            changes += 1
    for pv in volumes:
        released = pv.get("status", {}).get("phase") in ("Released", "Failed")
        mine = pv["metadata"].get("annotations", {}).get(PROVISIONED_BY) == PROVISIONER
        if mine and released and pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
            api.delete(f"/api/v1/persistentvolumes/{pv['metadata']['name']}")
            changes += 1
    return changes


def run(state_dir: Path) -> None:
    paths = Paths(state_dir)
    state = SimState.load(paths)
    if state is None:
        raise SystemExit(f"no sim state in {state_dir}")
    pki = Pki(paths.pki)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with ApiClient(state.server, pki.ca_cert, pki.admin_cert, pki.admin_key) as api:
        while not stopping:
            try:
                reconcile(api)
            except (ApiError, httpx.HTTPError, OSError) as err:
                print(f"provisioner: {err}", file=sys.stderr, flush=True)
            time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    run(Path(sys.argv[1]))
