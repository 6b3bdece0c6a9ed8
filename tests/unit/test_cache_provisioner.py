"""The cache agent's provisioner of the artifact cache, without a cluster: which claims and
volumes are its own, the volume it makes for a claim, one pass against a fake API, and the
bind mount it would run (never run here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from berth.cache.provisioner import (
    PROVISIONER,
    READ_ONLY_VIEW,
    cache_provisioner,
    mount_read_only_view,
    read_only_view_commands,
    storage_class,
)
from berth.kube.provisioning import PROVISIONED_BY, SELECTED_NODE, Json, provision_pass
from berth.sim.provisioner import LOCAL_STORAGE

CLASSES = {"berth-cache"}


def claim(
    node: str | None = "gpu-1",
    *,
    cls: str = "berth-cache",
    uid: str = "u-1",
    ns: str = "berth-5f0c9a4e1b2d",
    **spec: Any,
) -> Json:
    annotations = {SELECTED_NODE: node} if node else {}
    return {
        "metadata": {"name": "artifacts", "namespace": ns, "uid": uid, "annotations": annotations},
        "spec": {
            "accessModes": ["ReadOnlyMany"],
            "storageClassName": cls,
            "resources": {"requests": {"storage": "1Gi"}},
            **spec,
        },
    }


def test_the_storage_class_binds_on_first_consumer_and_deletes() -> None:
    assert storage_class("berth-cache") == {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "berth-cache"},
        "provisioner": "cache.berth.io/node-cache",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def test_the_volume_is_the_nodes_read_only_view_pre_bound_to_the_claim() -> None:
    pv = cache_provisioner(["gpu-1"]).volume_for(claim())
    assert pv["metadata"] == {"name": "pvc-u-1", "annotations": {PROVISIONED_BY: PROVISIONER}}
    assert pv["spec"]["hostPath"] == {"path": READ_ONLY_VIEW, "type": "Directory"}
    assert READ_ONLY_VIEW == "/var/lib/berth/cache-ro"
    assert pv["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["spec"]["storageClassName"] == "berth-cache"
    assert pv["spec"]["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "berth-5f0c9a4e1b2d",
        "name": "artifacts",
        "uid": "u-1",
    }
    terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms == [
        {
            "matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["gpu-1"]}
            ]
        }
    ]
    assert "labels" not in pv["metadata"]  # not Berth's: the reconciler's GC never sees it


def test_an_agent_provisions_only_waiting_claims_of_its_class_on_its_own_node() -> None:
    agent = cache_provisioner(["gpu-1"])
    assert agent.owns_claim(CLASSES, claim())
    assert not agent.owns_claim(CLASSES, claim("gpu-2"))  # another node's agent
    assert not agent.owns_claim(CLASSES, claim(None))  # not scheduled yet
    assert not agent.owns_claim(CLASSES, claim(cls="lvms-vg1"))  # the pool's class
    assert not agent.owns_claim(CLASSES, claim(volumeName="someone-elses"))  # bound elsewhere
    assert agent.owns_claim(CLASSES, claim(volumeName="pvc-u-1"))  # its own: restored if Lost
    assert not LOCAL_STORAGE.owns_claim({"lvms-vg1"}, claim(cls="lvms-vg1", volumeName="pvc-u-1"))
    deleting = claim()
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert not agent.owns_claim(CLASSES, deleting)
    assert cache_provisioner(["gpu-1", "gpu-2"]).owns_claim(CLASSES, claim("gpu-2"))


def test_an_agent_deletes_only_its_own_nodes_volumes() -> None:
    one, two = cache_provisioner(["gpu-1"]), cache_provisioner(["gpu-2"])
    pv = one.volume_for(claim())
    assert one.owns_volume(pv)
    assert not two.owns_volume(pv)
    assert not LOCAL_STORAGE.owns_volume(pv)
    assert not one.owns_volume(LOCAL_STORAGE.volume_for(claim(cls="lvms-vg1")))


class FakeApi:
    def __init__(self, classes: list[Json], claims: list[Json], volumes: list[Json]) -> None:
        self.objects = {
            "/apis/storage.k8s.io/v1/storageclasses": classes,
            "/api/v1/persistentvolumeclaims": claims,
            "/api/v1/persistentvolumes": volumes,
        }
        self.created: list[Json] = []
        self.deleted: list[str] = []

    def get(self, path: str) -> Any:
        return {"items": self.objects[path]}

    def create(self, path: str, body: Json) -> Any:
        assert path == "/api/v1/persistentvolumes"
        self.created.append(body)
        return body

    def delete(self, path: str) -> None:
        self.deleted.append(path)


def test_one_pass_makes_a_volume_per_claim_onto_the_same_path_and_deletes_released_ones() -> None:
    agent = cache_provisioner(["gpu-1"])
    released = agent.volume_for(claim(uid="old"))
    released["status"] = {"phase": "Released"}
    bound = agent.volume_for(claim(uid="u-0"))
    bound["status"] = {"phase": "Bound"}
    api = FakeApi(
        [storage_class("berth-cache"), LOCAL_STORAGE.storage_class("lvms-vg1")],
        [
            claim(uid="u-1"),
            claim(uid="u-2", ns="berth-000000000002"),  # a second session on the node
            claim(uid="u-0", volumeName="pvc-u-0"),  # bound: its volume exists
            claim(uid="u-5", volumeName="pvc-u-5", ns="berth-000000000005"),  # Lost: restored
            claim("gpu-2", uid="u-3"),  # another node's
            claim(cls="lvms-vg1", uid="u-4"),  # the sim's local storage
        ],
        [released, bound],
    )
    assert provision_pass(api, agent) == 4
    assert [pv["metadata"]["name"] for pv in api.created] == ["pvc-u-1", "pvc-u-2", "pvc-u-5"]
    assert {pv["spec"]["hostPath"]["path"] for pv in api.created} == {READ_ONLY_VIEW}
    assert api.deleted == ["/api/v1/persistentvolumes/pvc-old"]


def test_the_read_only_view_is_a_bind_mount_remounted_read_only(tmp_path: Path) -> None:
    """The commands only: mounting needs root on a node, and the sim runs no kubelet, so the
    bind mount itself is not exercised by any test."""
    cache, view = str(tmp_path / "cache"), str(tmp_path / "cache-ro")
    assert read_only_view_commands(cache, view) == [
        ["mount", "--bind", cache, view],
        ["mount", "-o", "remount,bind,ro", view],
    ]
    ran: list[list[str]] = []
    mount_read_only_view(cache, view, run=ran.append)
    assert ran == read_only_view_commands(cache, view)
    assert (tmp_path / "cache").is_dir()
    assert (tmp_path / "cache-ro").is_dir()
