"""A session's objects on the real control plane, applied through KubeCluster.

What the builders promise only the API server can confirm: server-side apply of every step is
accepted and a second apply changes nothing; the quota refuses the other GPU kind and admits the
booked one; LimitRange fills in a bare pod; Pod Security refuses a privileged pod; the workspace
schedules with its claims bound (the artifact cache's through the cache agent) and turns Ready;
deleting the namespace removes everything, the cache agent deleting the artifact volume once
Released. Also the adapter's error translation against real answers.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kube_manifests import GPU, MIG, NODE, assert_gone, pod
from kube_sessions import namespace_gone, provision, remove, session_spec
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from berth.domain.reservation import Mode
from berth.domain.session import SessionSpec
from berth.kube.adapter import KubeCluster
from berth.kube.cluster import ObjectRef
from berth.kube.errors import NotFound, Terminal, Transient
from berth.kube.manifests import MANAGED_SELECTOR, session_selector
from conftest import Sim, eventually

pytestmark = pytest.mark.kube


def _versions(cluster: KubeCluster, objects: list[dict[str, Any]]) -> dict[str, str]:
    out = {}
    for o in objects:
        meta = o["metadata"]
        found = cluster.get(o["apiVersion"], o["kind"], meta["name"], meta.get("namespace"))
        out[f"{o['kind']}/{meta['name']}"] = found["metadata"]["resourceVersion"]
    return out


@pytest.fixture(scope="module")
def cluster(sim: Sim) -> Iterator[KubeCluster]:
    with KubeCluster.from_kubeconfig(str(sim.kubeconfig)) as kube:
        yield kube


@pytest.fixture(scope="module")
def session(cluster: KubeCluster) -> Iterator[tuple[SessionSpec, list[dict[str, Any]]]]:
    """One interactive session of 2 MIG slices, provisioned and Ready, shared by this module."""
    spec = session_spec()
    applied = provision(cluster, spec)
    try:
        eventually(lambda: _assert(cluster.workspace_state(spec.namespace).ready), timeout=120)
        yield spec, applied
    finally:
        remove(cluster, spec)


def _assert(condition: bool) -> None:
    assert condition


def test_workspace_schedules_on_the_pool_node_with_its_claims_bound(
    session: tuple[SessionSpec, list[dict[str, Any]]], core: client.CoreV1Api
) -> None:
    spec, _ = session
    (workspace,) = core.list_namespaced_pod(
        spec.namespace, label_selector="app.kubernetes.io/name=workspace"
    ).items
    assert workspace.spec.node_name == NODE
    assert {c.type: c.status for c in workspace.status.conditions}["Ready"] == "True"
    limits = workspace.spec.containers[0].resources.limits
    assert limits == {"cpu": "4", "memory": "16Gi", MIG: "1"}
    claims = {
        c.metadata.name: (c.status.phase, c.status.capacity["storage"])
        for c in core.list_namespaced_persistent_volume_claim(spec.namespace).items
    }
    assert claims == {
        "workspace": ("Bound", "6Gi"),  # the disk: home, data and models in one claim
        "artifacts": ("Bound", "1Gi"),
    }


def test_second_apply_of_every_step_changes_nothing(
    session: tuple[SessionSpec, list[dict[str, Any]]],
    cluster: KubeCluster,
    core: client.CoreV1Api,
) -> None:
    spec, applied = session

    def quota_settled() -> None:  # the quota controller writes status as pods come and go
        used = core.read_namespaced_resource_quota("berth-quota", spec.namespace).status.used
        assert used[f"requests.{MIG}"] == "1"

    eventually(quota_settled)
    before = _versions(cluster, applied)
    requests = cluster.requests
    provision(cluster, spec)
    assert cluster.requests - requests == len(applied)  # discovery is cached: one PATCH each
    assert _versions(cluster, applied) == before


def test_quota_refuses_the_other_gpu_kind_and_admits_a_booked_slot(
    session: tuple[SessionSpec, list[dict[str, Any]]], core: client.CoreV1Api
) -> None:
    spec, _ = session
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(spec.namespace, pod("whole-gpu", {GPU: "1"}))
    assert refused.value.status == 403
    assert f"exceeded quota: berth-quota, requested: requests.{GPU}=1" in refused.value.body

    core.create_namespaced_pod(spec.namespace, pod("mig-slot", {MIG: "1"}))
    too_many = pod("too-many-slots", {MIG: "3"})  # the workspace and mig-slot hold 2 of 4
    with pytest.raises(ApiException) as over:
        core.create_namespaced_pod(spec.namespace, too_many)
    assert f"requests.{MIG}" in over.value.body
    core.delete_namespaced_pod("mig-slot", spec.namespace)


def test_a_bare_pod_gets_the_limitrange_defaults(
    session: tuple[SessionSpec, list[dict[str, Any]]], core: client.CoreV1Api
) -> None:
    spec, _ = session
    core.create_namespaced_pod(spec.namespace, pod("bare"))
    resources = core.read_namespaced_pod("bare", spec.namespace).spec.containers[0].resources
    assert resources.requests == {"cpu": "1", "memory": "2Gi"}
    assert resources.limits == {"cpu": "2", "memory": "4Gi"}
    core.delete_namespaced_pod("bare", spec.namespace)


def test_pod_security_refuses_privileged_and_host_path_pods(
    session: tuple[SessionSpec, list[dict[str, Any]]], core: client.CoreV1Api
) -> None:
    spec, _ = session
    privileged = pod("privileged")
    privileged["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    host = pod("host", volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    for manifest in (privileged, host):
        with pytest.raises(ApiException) as refused:
            core.create_namespaced_pod(spec.namespace, manifest)
        assert refused.value.status == 403
        assert 'violates PodSecurity "baseline:latest"' in json.loads(refused.value.body)["message"]


def test_the_session_is_listed_by_its_labels(
    session: tuple[SessionSpec, list[dict[str, Any]]], cluster: KubeCluster
) -> None:
    spec, _ = session
    found = {ns.name: ns for ns in cluster.namespaces(MANAGED_SELECTOR)}
    assert found[spec.namespace].phase == "Active"
    assert spec.labels.items() <= found[spec.namespace].labels.items()
    assert cluster.cluster_scoped(session_selector(spec.reservation_id)) == []  # nothing


def _cache_volume(core: client.CoreV1Api, namespace: str) -> client.V1PersistentVolume:
    claim = core.read_namespaced_persistent_volume_claim("artifacts", namespace)
    return core.read_persistent_volume(claim.spec.volume_name)


def test_the_cache_agent_provisions_the_artifact_volume_of_the_nodes_read_only_view(
    session: tuple[SessionSpec, list[dict[str, Any]]], core: client.CoreV1Api
) -> None:
    spec, _ = session
    claim = core.read_namespaced_persistent_volume_claim("artifacts", spec.namespace)
    assert claim.spec.storage_class_name == "berth-cache"
    assert claim.metadata.annotations["volume.kubernetes.io/selected-node"] == NODE
    pv = _cache_volume(core, spec.namespace)
    assert pv.metadata.annotations["pv.kubernetes.io/provisioned-by"] == (
        "cache.berth.io/node-cache"
    )
    assert pv.metadata.labels is None  # not Berth's: the reconciler's GC never lists it
    assert pv.spec.host_path.path == "/var/lib/berth/cache-ro"
    assert pv.spec.access_modes == ["ReadOnlyMany"]
    assert pv.spec.persistent_volume_reclaim_policy == "Delete"
    assert pv.spec.claim_ref.uid == claim.metadata.uid
    (term,) = pv.spec.node_affinity.required.node_selector_terms
    assert term.match_expressions[0].values == [NODE]


def test_deleting_the_namespace_removes_everything_and_the_agent_its_cache_volume(
    session: tuple[SessionSpec, list[dict[str, Any]]],
    cluster: KubeCluster,
    core: client.CoreV1Api,
) -> None:
    first, _ = session
    spec = session_spec(Mode.INFERENCE, units=1)
    provision(cluster, spec)
    eventually(lambda: _assert(cluster.workspace_state(spec.namespace).ready), timeout=120)
    workspace = core.list_namespaced_pod(spec.namespace).items[0]
    assert MIG not in workspace.spec.containers[0].resources.limits
    volumes = {
        c.metadata.name: c.spec.volume_name
        for c in core.list_namespaced_persistent_volume_claim(spec.namespace).items
    }
    # a second session on the same node: a volume of its own, onto the same cache directory
    assert workspace.spec.node_name == NODE
    mine, theirs = _cache_volume(core, spec.namespace), _cache_volume(core, first.namespace)
    assert mine.metadata.name != theirs.metadata.name
    assert mine.spec.host_path.path == theirs.spec.host_path.path

    cluster.delete_namespace(spec.namespace)
    cluster.delete_namespace(spec.namespace)  # again, while Terminating: still fine
    eventually(lambda: namespace_gone(cluster, spec.namespace), timeout=120)
    cluster.delete_namespace(spec.namespace)  # and once gone

    # provisioned volumes go with their claims; the artifact volume too: Released, the cache
    # agent deletes the object (never the node's files)
    for claim in ("workspace", "artifacts"):
        name = volumes[claim]
        eventually(
            lambda name=name: assert_gone(lambda: core.read_persistent_volume(name), name),
            timeout=60,
        )
    gone = ObjectRef("v1", "PersistentVolume", volumes["artifacts"])
    cluster.delete(gone)  # already gone is success


def test_a_namespace_stuck_terminating_is_unblocked(
    cluster: KubeCluster, core: client.CoreV1Api
) -> None:
    name = f"t-stuck-{uuid.uuid4().hex[:8]}"
    core.create_namespace(
        {
            "metadata": {"name": name, "labels": {"berth.io/test": name}},
            "spec": {"finalizers": ["example.org/never-done"]},
        }
    )
    cluster.delete_namespace(name)

    def stuck() -> None:
        (info,) = cluster.namespaces(f"berth.io/test={name}")
        assert info.phase == "Terminating"
        assert info.deleting_since is not None
        assert info.finalizers == ("example.org/never-done",)

    eventually(stuck)
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": name},
    }
    with pytest.raises(Transient, match="being terminated"):  # passes once it is gone
        cluster.apply([config_map])
    cluster.clear_namespace_finalizers(name)
    eventually(lambda: namespace_gone(cluster, name))
    cluster.clear_namespace_finalizers(name)  # gone already: nothing to do


def test_errors_are_translated(cluster: KubeCluster) -> None:
    assert cluster.is_openshift() is False
    with pytest.raises(Terminal, match="422"):
        cluster.apply(
            [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "Bad_Name", "namespace": "default"},
                }
            ]
        )
    with pytest.raises(Terminal, match="not served"):
        cluster.apply(
            [
                {
                    "apiVersion": "route.openshift.io/v1",
                    "kind": "Route",
                    "metadata": {"name": "x", "namespace": "default"},
                }
            ]
        )
    with pytest.raises(NotFound):
        cluster.apply(
            [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "c", "namespace": "no-such-namespace"},
                }
            ]
        )
    with pytest.raises(NotFound):
        cluster.get("v1", "ConfigMap", "missing", "default")
    cluster.delete_namespace("no-such-namespace")
    cluster.delete(ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", "no-such-role"))
    assert cluster.workspace_state("no-such-namespace").ready is False


def test_a_cluster_at_a_dead_port_is_transient(sim: Sim) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configuration = client.Configuration()
    configuration.host = f"https://127.0.0.1:{port}"
    configuration.retries = False
    with KubeCluster(client.ApiClient(configuration), timeout=(1.0, 1.0)) as dead:
        with pytest.raises(Transient) as err:
            dead.namespaces(MANAGED_SELECTOR)
        assert err.value.retry_after == 5.0
        assert dead.requests == 1


def test_a_missing_kubeconfig_is_terminal(tmp_path: Path) -> None:
    with pytest.raises(Terminal, match="kubeconfig"):
        KubeCluster.from_kubeconfig(str(tmp_path / "missing"))
