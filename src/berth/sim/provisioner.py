"""A local-storage provisioner for the sim, standing in for LVMS/TopoLVM on the real node.

The pool's StorageClass binds `WaitForFirstConsumer`, as LVMS does: the scheduler picks a node
for the pod, writes it on the claim as `volume.kubernetes.io/selected-node`, and waits for the
claim to bind. On the real node the CSI provisioner then carves a logical volume; here this loop
creates a hostPath PersistentVolume pinned to that node and pre-bound to the claim, and the real
PV controller binds the two. When a claim is deleted its volume is Released and, with reclaim
policy Delete, this loop deletes it, as an external provisioner must. No kubelet runs, so the
host path is never touched. The pattern is `berth.kube.provisioning`, shared with the cache
agent's provisioner of the artifact cache.

Run as `python -m berth.sim.provisioner <state-dir>`; it stops on SIGTERM.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx

from berth.kube.provisioning import Provisioner, provision_pass, serve, volume_name
from berth.sim.apiclient import ApiClient, ApiError
from berth.sim.pki import Pki
from berth.sim.state import Paths, SimState

PROVISIONER = "sim.berth.dev/local-storage"
VOLUME_ROOT = "/var/lib/berth-sim/volumes"
POLL_SECONDS = 0.5

LOCAL_STORAGE = Provisioner(
    PROVISIONER, host_path=lambda claim: f"{VOLUME_ROOT}/{volume_name(claim)}"
)


def storage_class(name: str) -> dict[str, Any]:
    return LOCAL_STORAGE.storage_class(name, expandable=True)


def reconcile(api: ApiClient) -> int:
    """One pass of the local-storage provisioner. Returns changes made."""
    return provision_pass(api, LOCAL_STORAGE)


def run(state_dir: Path) -> None:
    paths = Paths(state_dir)
    state = SimState.load(paths)
    if state is None:
        raise SystemExit(f"no sim state in {state_dir}")
    pki = Pki(paths.pki)
    with ApiClient(state.server, pki.ca_cert, pki.admin_cert, pki.admin_key) as api:
        errors = (ApiError, httpx.HTTPError, OSError)
        serve(api, LOCAL_STORAGE, poll=POLL_SECONDS, errors=errors, name="provisioner")


if __name__ == "__main__":
    run(Path(sys.argv[1]))
