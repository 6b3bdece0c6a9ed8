"""The openshift overlay applied for real to a sim of its own started with `--openshift`: the
Route and SecurityContextConstraints kinds are CRDs from the pinned github.com/openshift/api
module, so the API server judges the overlay's Route, and a session's, with OpenShift's own
schema.

A second sim (not the session's): registering route.openshift.io makes `is_openshift()` true,
and the rest of the suite's reconciler must keep writing Ingresses. BuildConfig and ImageStream
are not registered (no CRD manifests in the module; the API server would refuse the kinds): the
overlay's BuildConfigs and ImageStreams (builds.yaml, the in-cluster build loop) are the only
objects not applied, and are checked here against the Deployments that use them instead;
see docs/install.md.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kube_sessions import provision, remove, session_spec
from kubernetes import client, config
from test_install import ADMISSION_KINDS, NODE_AGENTS, PLATFORM, apply, kustomize_build
from tests.conftest import SIM_POOL_FILE, eventually

from berth.config import Settings, load_pool_file
from berth.kube.adapter import KubeCluster
from berth.kube.errors import KubeError
from berth.sim import build, cluster
from berth.sim.nodes import storage_classes
from berth.sim.state import Paths

pytestmark = pytest.mark.kube


@pytest.fixture(scope="module")
def openshift_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A sim with the OpenShift CRDs, on free ports, dying with this pytest; its kubeconfig."""
    build.fetch_openshift_crds(on_line=print)
    state_dir = tmp_path_factory.mktemp("openshift-sim")
    try:
        cluster.up(SIM_POOL_FILE, 1, state_dir=state_dir, die_with_parent=True, with_openshift=True)
        yield Paths(state_dir).kubeconfig
    finally:
        cluster.down(state_dir)


DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
# served by OpenShift's own API server, not CRDs: the sim does not know them
UNSERVED_KINDS = ("BuildConfig", "ImageStream")
REGISTRY = "image-registry.openshift-image-registry.svc:5000"


@pytest.fixture(scope="module")
def installed(openshift_sim: Path) -> list[dict[str, Any]]:
    """The openshift overlay server-side applied for real (the admission policies dry-run, as
    for the kubernetes overlay: for real they would lock the admin certificate out). The pool's
    StorageClass is made the default first, as LVMS is on single-node OpenShift: the PostgreSQL
    claim names no class."""
    with config.new_client_from_config(str(openshift_sim)) as api:
        [lvms] = storage_classes(load_pool_file(SIM_POOL_FILE))
        body = {"metadata": {"annotations": {DEFAULT_CLASS: "true"}}}
        client.StorageV1Api(api).patch_storage_class(lvms, body)
    objects = kustomize_build(build.build_kustomize(on_line=print), "openshift")
    with KubeCluster.from_kubeconfig(str(openshift_sim)) as admin:
        for manifest in objects:
            if manifest["kind"] in UNSERVED_KINDS:
                continue
            apply(admin, manifest, dry_run=manifest["kind"] in ADMISSION_KINDS)
    return objects


@pytest.fixture
def core(openshift_sim: Path) -> Iterator[client.CoreV1Api]:
    with config.new_client_from_config(str(openshift_sim)) as api:
        yield client.CoreV1Api(api)


def route_of(installed: list[dict[str, Any]]) -> dict[str, Any]:
    [route] = [m for m in installed if m["kind"] == "Route"]
    return route


def test_the_overlays_route_is_stored_as_openshift_defines_it(
    openshift_sim: Path, installed: list[dict[str, Any]]
) -> None:
    route = route_of(installed)
    with KubeCluster.from_kubeconfig(str(openshift_sim)) as admin:
        stored = admin._call(  # the adapter's one HTTP path
            "GET", admin._object_path(route)
        )
        assert stored["spec"]["to"] == {"kind": "Service", "name": "berth-portal", "weight": 100}
        assert stored["spec"]["tls"]["termination"] == "edge"
        # the group Berth detects OpenShift by is served: a reconciler here writes Routes
        assert admin.is_openshift()
        # the reconciler's garbage collection lists SecurityContextConstraints on OpenShift
        assert admin.cluster_scoped("app.kubernetes.io/managed-by=berth") == []


@pytest.mark.parametrize(
    ("tls", "refusal"),
    [
        # an enum of the schema
        ({"termination": "bogus"}, "spec.tls.termination"),
        # one of the CRD's CEL rules
        (
            {"termination": "passthrough", "insecureEdgeTerminationPolicy": "Allow"},
            "passthrough",
        ),
    ],
)
def test_an_invalid_route_is_refused_by_the_crds_schema(
    openshift_sim: Path, installed: list[dict[str, Any]], tls: dict[str, str], refusal: str
) -> None:
    route = copy.deepcopy(route_of(installed))
    route["spec"]["tls"] = tls
    with (
        KubeCluster.from_kubeconfig(str(openshift_sim)) as admin,
        pytest.raises(KubeError, match=refusal),
    ):
        apply(admin, route, dry_run=True)


def test_the_platform_pods_are_scheduled(
    installed: list[dict[str, Any]], core: client.CoreV1Api
) -> None:
    def scheduled() -> None:
        names = [
            p.metadata.name for p in core.list_namespaced_pod(PLATFORM).items if p.spec.node_name
        ]
        for prefix, want in (
            ("berth-portal-", 2),
            ("berth-reconciler-", 2),
            ("berth-postgres-", 1),
        ):
            assert sum(n.startswith(prefix) for n in names) == want, names
        agents = core.list_namespaced_pod(NODE_AGENTS).items
        assert agents
        assert all(p.spec.node_name for p in agents)

    eventually(scheduled, timeout=60)


def test_a_session_on_openshift_gets_a_route_the_crd_accepts(openshift_sim: Path) -> None:
    """The reconciler's view of this sim: OpenShift (route.openshift.io is served), so a
    session's steps carry a Route instead of an Ingress, and the API server accepts it."""
    spec = session_spec()
    with KubeCluster.from_kubeconfig(str(openshift_sim)) as admin:
        applied = provision(admin, spec)
        try:
            kinds = {m["kind"] for m in applied}
            assert "Route" in kinds
            assert "Ingress" not in kinds
            [route] = [m for m in applied if m["kind"] == "Route"]
            stored = admin.get(
                route["apiVersion"], "Route", route["metadata"]["name"], spec.namespace
            )
            assert stored["spec"]["host"] == route["spec"]["host"]
        finally:
            remove(admin, spec)


def test_the_portals_service_account_is_the_oauth_client_of_berths_own_callback(
    installed: list[dict[str, Any]], core: client.CoreV1Api
) -> None:
    """Sign-in with OpenShift (docs/identity.md): the annotation admits exactly Berth's callback
    on its public URL, the settings the overlay gives make a valid configuration, and the
    client secret is a token the cluster's token controller fills in."""
    [account] = [
        m
        for m in installed
        if m["kind"] == "ServiceAccount" and m["metadata"]["name"] == "berth-portal"
    ]
    [settings_map] = [
        m for m in installed
        if m["kind"] == "ConfigMap" and m["metadata"]["name"].startswith("berth-settings")
    ]  # fmt: skip
    env = settings_map["data"]
    redirect = account["metadata"]["annotations"][
        "serviceaccounts.openshift.io/oauth-redirecturi.berth"
    ]
    assert redirect == env["BERTH_PUBLIC_URL"] + "/api/v1/auth/openshift/callback"
    settings = Settings(**{k.removeprefix("BERTH_").lower(): v for k, v in env.items()})
    assert settings.openshift_client_id == "system:serviceaccount:berth-system:berth-portal"
    assert account.get("automountServiceAccountToken") is False  # the token is only the secret

    def filled() -> None:
        secret = core.read_namespaced_secret("berth-portal-oauth-client", PLATFORM)
        assert (secret.data or {}).get("token"), "the token controller has not filled it"

    eventually(filled, timeout=60)


def test_the_build_loop_feeds_the_deployments_it_triggers(installed: list[dict[str, Any]]) -> None:
    """What no API server here judges: each BuildConfig builds from an uploaded directory
    (`oc start-build --from-dir`) with the Containerfile `berth image context` writes, into an
    ImageStream of the overlay; the platform's containers run that stream's image from the
    internal registry, and each image trigger names a container the Deployment has."""
    streams = {m["metadata"]["name"] for m in installed if m["kind"] == "ImageStream"}
    builds = {m["metadata"]["name"]: m["spec"] for m in installed if m["kind"] == "BuildConfig"}
    assert streams == set(builds) == {"berth", "berth-workspace"}
    for name, spec in builds.items():
        assert spec["source"] == {"type": "Binary", "binary": {}}
        assert spec["strategy"]["dockerStrategy"]["dockerfilePath"] == "Containerfile"
        assert spec["output"]["to"] == {"kind": "ImageStreamTag", "name": f"{name}:latest"}
    berth_image = f"{REGISTRY}/{PLATFORM}/berth:latest"
    # portal, reconciler, cache agent (PostgreSQL is a StatefulSet of its own image)
    for workload in [m for m in installed if m["kind"] in ("Deployment", "DaemonSet")]:
        [container] = workload["spec"]["template"]["spec"]["containers"]
        assert container["image"] == berth_image, workload["metadata"]["name"]
        if workload["kind"] == "Deployment":
            annotations = workload["metadata"]["annotations"]
            [trigger] = json.loads(annotations["image.openshift.io/triggers"])
            assert trigger["from"] == {"kind": "ImageStreamTag", "name": "berth:latest"}
            want = f'spec.template.spec.containers[?(@.name=="{container["name"]}")].image'
            assert trigger["fieldPath"] == want
    [settings] = [
        m for m in installed if m["kind"] == "ConfigMap" and "BERTH_WORKSPACE_IMAGE" in m["data"]
    ]
    assert (
        settings["data"]["BERTH_WORKSPACE_IMAGE"] == f"{REGISTRY}/{PLATFORM}/berth-workspace:latest"
    )
