"""What an external volume provisioner of a `WaitForFirstConsumer` class does, in one place.

Two provisioners share it: the sim's stand-in for LVMS/TopoLVM (`berth.sim.provisioner`) and
the cache agent's provisioner of the artifact cache (`berth.cache.provisioner`). The scheduler
picks a node for a pod, writes it on each unbound claim as `volume.kubernetes.io/selected-node`
and waits; the provisioner then creates a hostPath PersistentVolume pinned to that node and
pre-bound to the claim (`claimRef` with the claim's uid), which the PV controller binds. When
the claim is deleted its volume is Released and, its reclaim policy being Delete, the
provisioner deletes the PersistentVolume object; neither provisioner ever touches node files.

`provision_pass` talks to the API server through anything with `get`, `create` and `delete`
on REST paths (`Lists`): the sim's small httpx client, or the cache agent's `KubeRest` on the
adapter. `serve` runs passes until SIGTERM: one at the start and then one whenever a watch
(storage classes, volumes, claims; `watch` of `RestApi`) reports a change, at most every
`poll` seconds and at least every `resync`. It used to list all three every half second:
at 1,000 sessions that was 4,000 volumes and 4,000 claims listed four times a second by
each provisioner, and a cache agent runs on every GPU node. This module has no client of its
own.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
HOSTNAME = "kubernetes.io/hostname"

Json = dict[str, Any]


class Lists(Protocol):
    """What one pass needs of the API server: lists, and creating and deleting volumes."""

    def get(self, path: str) -> Any: ...
    def create(self, path: str, body: Json) -> Any: ...
    def delete(self, path: str) -> None: ...


class RestApi(Lists, Protocol):
    """What `serve` needs: a pass's calls, and watches."""

    def watch(self, path: str, resource_version: str, seconds: int) -> Iterator[Json]:
        """The events (JSON objects) of a watch of `path` from `resource_version`, bookmarks
        asked for, for up to `seconds`."""
        ...


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


CLASSES = "/apis/storage.k8s.io/v1/storageclasses"
VOLUMES = "/api/v1/persistentvolumes"
CLAIMS = "/api/v1/persistentvolumeclaims"
WATCHED = (CLASSES, VOLUMES, CLAIMS)
WATCH_SECONDS = 300  # one watch request's length; the server ends it, and the next resumes
RESYNC_SECONDS = 60.0  # a pass at least this often, whatever the watches said


def watch_query(resource_version: str, seconds: int) -> dict[str, str]:
    """The query of a watch from `resource_version`, bookmarks asked for, that the server
    ends after `seconds` (both clients' `watch` send it)."""
    return {
        "watch": "1",
        "resourceVersion": resource_version,
        "allowWatchBookmarks": "true",
        "timeoutSeconds": str(seconds),
    }


def provision_pass(api: Lists, provisioner: Provisioner) -> int:
    """One pass: provision waiting claims, delete released volumes. Returns changes made."""
    return _pass(api, provisioner)[0]


def _pass(api: Lists, provisioner: Provisioner) -> tuple[int, dict[str, str]]:
    """`provision_pass`, and the resourceVersion of each list it read (a watch resumes there)."""
    listed = {path: api.get(path) for path in WATCHED}
    versions = {
        path: str(found.get("metadata", {}).get("resourceVersion") or "")
        for path, found in listed.items()
    }
    classes = {
        sc["metadata"]["name"]
        for sc in listed[CLASSES]["items"]
        if sc.get("provisioner") == provisioner.name
    }
    volumes = listed[VOLUMES]["items"]
    existing = {pv["metadata"]["name"] for pv in volumes}
    changes = 0
    for claim in listed[CLAIMS]["items"]:
        if provisioner.owns_claim(classes, claim) and volume_name(claim) not in existing:
            api.create(VOLUMES, provisioner.volume_for(claim))
            changes += 1
    for pv in volumes:
        released = (pv.get("status") or {}).get("phase") in ("Released", "Failed")
        deletes = pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete"
        if released and deletes and provisioner.owns_volume(pv):
            api.delete(f"{VOLUMES}/{pv['metadata']['name']}")
            changes += 1
    return changes, {path: v for path, v in versions.items() if v}


class _Watches:
    """One thread per watched list, each waking the loop (`changed`) on any event. A watch
    resumes from the last resourceVersion it saw; one that fails (the version expired, the
    connection dropped) waits for the next pass's lists and resumes from theirs."""

    def __init__(
        self, api: RestApi, errors: tuple[type[BaseException], ...], changed: threading.Event
    ) -> None:
        self.api, self.errors, self.changed = api, errors, changed
        self.stopping = threading.Event()
        self._lock = threading.Condition()
        self._listed: dict[str, str] = {}
        self._passes = 0
        self._threads: list[threading.Thread] = []

    def listed(self, versions: dict[str, str]) -> None:
        """A pass read its lists at these versions; start the watches after the first."""
        with self._lock:
            self._listed.update(versions)
            self._passes += 1
            self._lock.notify_all()
        if not self._threads:
            for path in WATCHED:
                thread = threading.Thread(target=self._watch, args=(path,), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _resume_point(self, path: str, seen: int) -> tuple[str | None, int]:
        """Wait for a pass later than the `seen`-th: the version its list of `path` was read
        at, and the pass's number."""
        with self._lock:
            self._lock.wait_for(lambda: self._passes > seen or self.stopping.is_set())
            return self._listed.get(path), self._passes

    def _passes_so_far(self) -> int:
        with self._lock:
            return self._passes

    def _watch(self, path: str) -> None:
        seen = 0
        version: str | None = None
        while not self.stopping.is_set():
            if version is None:
                version, seen = self._resume_point(path, seen)
                continue
            try:
                for event in self.api.watch(path, version, WATCH_SECONDS):
                    if event.get("type") == "ERROR":  # e.g. 410 Gone: the version expired
                        version = None
                        break
                    meta = (event.get("object") or {}).get("metadata") or {}
                    version = meta.get("resourceVersion") or version
                    if event.get("type") != "BOOKMARK":
                        self.changed.set()
            except self.errors as err:
                print(f"watch {path}: {err}", file=sys.stderr, flush=True)
                version = None
                self.stopping.wait(1.0)
            if version is None:  # resume from the lists of a pass made from now on
                seen = self._passes_so_far()
                self.changed.set()

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            self._lock.notify_all()


def serve(
    api: RestApi,
    provisioner: Provisioner,
    *,
    poll: float,
    errors: tuple[type[BaseException], ...],
    name: str,
    resync: float = RESYNC_SECONDS,
    stop: threading.Event | None = None,
) -> None:
    """Run `provision_pass` whenever a watched list (storage classes, volumes, claims)
    changed, at most every `poll` seconds, and at least every `resync` seconds, until `stop`
    is set (by default: SIGTERM or SIGINT). An idle cluster costs three open watches, not
    three lists every `poll`. `errors` (the client's) are printed as `name: error` and the
    next pass tries again."""
    if stop is None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    changed = threading.Event()
    watches = _Watches(api, errors, changed)
    try:
        while not stop.is_set():
            changed.clear()
            try:
                _, versions = _pass(api, provisioner)
                watches.listed(versions)
            except errors as err:
                print(f"{name}: {err}", file=sys.stderr, flush=True)
                changed.set()  # try again after `poll`
            stop.wait(poll)
            due = time.monotonic() + resync
            # woken by a change, the resync or `stop` (looked at each second: no request)
            while not stop.is_set() and not changed.wait(min(1.0, due - time.monotonic())):
                if time.monotonic() >= due:
                    break
    finally:
        watches.stop()
