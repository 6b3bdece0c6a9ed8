"""The install manifests (deploy/) on the real control plane, and the reconciler as its own
ServiceAccount with exactly the install's RBAC.

The overlays are built with the pinned kustomize (`berth.sim.build.build_kustomize`, cached like
the sim's binaries) and server-side applied to the sim: the kubernetes overlay for real (its
workloads' pods are created by the ReplicaSet and StatefulSet controllers, so Pod Security
`restricted` judges them), the openshift overlay with dry-run=server. This sim does not serve
the Route kind (test_openshift_install.py applies that overlay for real, Route included, to a
sim started with --openshift); the ServiceMonitor (no Prometheus Operator CRDs) and everything
a real kubelet would do (images, probes, PostgreSQL starting) stay unvalidated. See
docs/install.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_manifests import assert_gone, session_spec
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from test_reconciler import Clock, book, status_of
from tests.conftest import Sim, eventually

from berth.config import Settings, load_pool_file
from berth.domain.session import LABEL_INSTALLATION, MANAGED_BY, SessionConfig, namespace_name
from berth.kube.adapter import KubeCluster
from berth.kube.admission import admission_objects
from berth.kube.cluster import ObjectRef
from berth.kube.errors import KubeError
from berth.kube.manifests import session_steps
from berth.reconciler.loop import Reconciler
from berth.reconciler.plan import Limits
from berth.sim import build, pki
from berth.sim.state import Paths
from berth.store import bootstrap, pools, reservations, users
from berth.store.db import Database

pytestmark = pytest.mark.kube

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# OpenShift's API groups in the openshift overlay: the Route, and the in-cluster build loop's
# BuildConfigs and ImageStreams
OPENSHIFT_GROUPS = {"route.openshift.io", "build.openshift.io", "image.openshift.io"}
PLATFORM = "berth-system"
RECONCILER = "berth-reconciler"
ADMISSION_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
MANAGER = "berth-install-test"


@pytest.fixture(scope="session")
def kustomize() -> Path:
    return build.build_kustomize(on_line=print)


NODE_AGENTS = "berth-node"  # the cache agent's namespace (deploy/base/cache-agent.yaml)
CACHE_AGENT = "berth-cache-agent"


def kustomize_build(kustomize: Path, overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(kustomize), "build", str(DEPLOY / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def apply(cluster: KubeCluster, manifest: dict[str, Any], *, dry_run: bool = False) -> Any:
    """Server-side apply of one object, as `kubectl apply --server-side [--dry-run=server]`."""
    query = {"fieldManager": MANAGER, "force": "true"}
    if dry_run:
        query["dryRun"] = "All"
    return cluster._call(  # the adapter's one HTTP path, with dry-run
        "PATCH",
        cluster._object_path(manifest),
        query=query,
        body=manifest,
        content_type="application/apply-patch+yaml",
    )


def sim_admission() -> list[dict[str, Any]]:
    """The sim's own policies (the admin certificate is its reconciler)."""
    return admission_objects([pki.ADMIN_USER])


@pytest.fixture(scope="module")
def installed(sim: Sim, kustomize: Path) -> Iterator[list[dict[str, Any]]]:
    """The kubernetes overlay applied to the sim for real, but for the admission policies
    (dry-run here: for real they would lock the other tests' admin reconciler out; the test
    that needs them applies them, see `install_admission`). Removed afterwards."""
    objects = kustomize_build(kustomize, "kubernetes")
    with KubeCluster.from_kubeconfig(str(sim.kubeconfig)) as admin:
        for manifest in objects:
            apply(admin, manifest, dry_run=manifest["kind"] in ADMISSION_KINDS)
        yield objects
        for manifest in objects:
            if manifest["kind"] in ("ClusterRole", "ClusterRoleBinding"):
                ref = ObjectRef(
                    manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"]
                )
                admin.delete(ref)
        admin.delete_namespace(PLATFORM)
        admin.delete_namespace(NODE_AGENTS)


@pytest.fixture
def install_admission(
    sim: Sim, core: client.CoreV1Api, installed: list[dict[str, Any]]
) -> Iterator[None]:
    """The install's admission policies (only the reconciler's ServiceAccount may write Berth's
    objects) for the length of one test; the sim's own are put back afterwards. Each change is
    awaited: the API server's admission plugin sees a policy a moment after it is stored."""
    probe = f"berth-probe-{uuid.uuid4().hex[:6]}"
    # another installation's namespace: the test's reconciler (installation default) leaves it
    labels = {MANAGED_BY[0]: MANAGED_BY[1], LABEL_INSTALLATION: "probe"}
    core.create_namespace({"metadata": {"name": probe, "labels": labels}})
    with (
        KubeCluster.from_kubeconfig(str(sim.kubeconfig)) as admin,
        service_account_cluster(sim, core) as reconciler,
    ):

        def writes(who: KubeCluster) -> None:
            config_map = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "probe",
                    "namespace": probe,
                    "labels": {MANAGED_BY[0]: MANAGED_BY[1]},
                },
            }
            try:
                apply(who, config_map, dry_run=True)
            except KubeError as err:
                raise AssertionError(str(err)) from err

        def scoped(who: KubeCluster) -> None:  # the reconciler's lane is in force
            outside = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "probe", "namespace": PLATFORM},
            }
            try:
                apply(who, outside, dry_run=True)
            except KubeError:
                return
            raise AssertionError("the reconciler-scope policies are not in force yet")

        for manifest in installed:
            if manifest["kind"] in ADMISSION_KINDS:
                apply(admin, manifest)
        eventually(lambda: writes(reconciler), timeout=60)
        eventually(lambda: scoped(reconciler), timeout=60)
        try:
            yield
        finally:
            sims = sim_admission()
            for manifest in sims:
                apply(admin, manifest)
            kept = {(m["kind"], m["metadata"]["name"]) for m in sims}
            for manifest in installed:  # the install's own (the reconciler's lane)
                key = (manifest["kind"], manifest["metadata"]["name"])
                if manifest["kind"] in ADMISSION_KINDS and key not in kept:
                    admin.delete(ObjectRef(manifest["apiVersion"], key[0], key[1]))
            eventually(lambda: writes(admin), timeout=60)
            admin.delete_namespace(probe)


def service_account_cluster(sim: Sim, core: client.CoreV1Api) -> KubeCluster:
    """A KubeCluster authenticated as berth-system:berth-reconciler, from a TokenRequest: what
    the reconciler's pod gets, with the install's RBAC and nothing else."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
    )
    token = core.create_namespaced_service_account_token(RECONCILER, PLATFORM, request)
    configuration = client.Configuration()
    configuration.host = sim.state.server
    configuration.ssl_ca_cert = str(Paths(sim.state_dir).pki / "ca.crt")
    configuration.api_key = {"BearerToken": f"Bearer {token.status.token}"}
    return KubeCluster(client.ApiClient(configuration))


@pytest.fixture
def as_reconciler(
    sim: Sim, core: client.CoreV1Api, installed: list[dict[str, Any]]
) -> Iterator[KubeCluster]:
    with service_account_cluster(sim, core) as cluster:
        yield cluster


def test_both_overlays_build_and_the_kubernetes_one_applies(
    installed: list[dict[str, Any]], kustomize: Path, sim: Sim, core: client.CoreV1Api
) -> None:
    kinds = {(m["kind"], m["metadata"]["name"]) for m in installed}
    assert {
        ("Namespace", PLATFORM),
        ("Deployment", "berth-portal"),
        ("Deployment", "berth-reconciler"),
        ("Deployment", "berth-notify"),
        ("StatefulSet", "berth-postgres"),
        ("PodDisruptionBudget", "berth-portal"),
        ("Ingress", "berth-portal"),
        ("ClusterRole", RECONCILER),
        ("ValidatingAdmissionPolicy", "berth-owned-objects"),
    } <= kinds
    assert core.read_namespaced_service_account(RECONCILER, PLATFORM)
    # every namespaced object is in berth-system (the sim's discovery says which are)
    with KubeCluster.from_kubeconfig(str(sim.kubeconfig)) as admin:
        for manifest in installed:
            namespaced = admin.resource(manifest["apiVersion"], manifest["kind"]).namespaced
            where = manifest["metadata"].get("namespace")
            # the privileged cache agent is alone in berth-node; everything else in berth-system
            home = NODE_AGENTS if manifest["metadata"]["name"] == CACHE_AGENT else PLATFORM
            assert where == (home if namespaced else None), manifest["metadata"]["name"]

    # the openshift overlay: everything the sim serves is accepted by the API server (dry-run);
    # the Route, BuildConfig and ImageStream kinds are OpenShift's and are not served here (see
    # test_openshift_install.py)
    openshift = kustomize_build(kustomize, "openshift")
    assert any(m["kind"] == "Route" for m in openshift)
    with KubeCluster.from_kubeconfig(str(sim.kubeconfig)) as admin:
        for manifest in openshift:
            if manifest["apiVersion"].split("/")[0] in OPENSHIFT_GROUPS:
                continue
            apply(admin, manifest, dry_run=True)


def _overlay(
    tmp_path: Path, kustomize: Path, resources: list[str], components: list[str]
) -> list[dict[str, Any]]:
    """Build an overlay as an operator writes one (kustomize takes only relative paths)."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(DEPLOY / r, overlay) for r in resources],
                "components": [os.path.relpath(DEPLOY / c, overlay) for c in components],
            }
        )
    )
    out = subprocess.run(
        [str(kustomize), "build", str(overlay)], check=True, capture_output=True, text=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_the_servicemonitor_component_builds_onto_an_overlay(
    kustomize: Path, tmp_path: Path, sim: Sim, installed: list[dict[str, Any]]
) -> None:
    """As an operator adds it; the ServiceMonitor kind needs the Prometheus Operator's CRDs,
    which the sim lacks: the rest is dry-run applied."""
    objects = _overlay(tmp_path, kustomize, ["overlays/kubernetes"], ["components/servicemonitor"])
    monitors = [o for o in objects if o["kind"] == "ServiceMonitor"]
    assert [m["metadata"]["namespace"] for m in monitors] == [PLATFORM]
    with KubeCluster.from_kubeconfig(str(sim.kubeconfig)) as admin:
        for manifest in objects:
            if manifest["kind"] != "ServiceMonitor":
                apply(admin, manifest, dry_run=True)


def test_the_openshift_monitoring_component_points_the_reconciler_at_thanos_querier(
    kustomize: Path, tmp_path: Path, sim: Sim
) -> None:
    """components/openshift-monitoring on the openshift overlay: the settings Berth reads
    (valid Settings), and the reconciler's ServiceAccount bound to cluster-monitoring-view
    (the binding dry-run applied; the sim has no such ClusterRole, OpenShift does)."""
    objects = _overlay(
        tmp_path, kustomize, ["overlays/openshift"], ["components/openshift-monitoring"]
    )
    (settings_map,) = [
        o for o in objects if o["kind"] == "ConfigMap" and "berth-settings" in o["metadata"]["name"]
    ]
    env = settings_map["data"]
    assert env["BERTH_INGRESS_NAMESPACE"] == "openshift-ingress"  # the overlay's stays
    parsed = Settings(
        prometheus_url=env["BERTH_PROMETHEUS_URL"],
        prometheus_token_file=env["BERTH_PROMETHEUS_TOKEN_FILE"],
        prometheus_ca_file=env["BERTH_PROMETHEUS_CA_FILE"],
    )
    assert parsed.prometheus_url == "https://thanos-querier.openshift-monitoring.svc:9091"
    (binding,) = [o for o in objects if o["metadata"]["name"] == "berth-reconciler-monitoring-view"]
    assert binding["roleRef"]["name"] == "cluster-monitoring-view"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "berth-reconciler", "namespace": PLATFORM}
    ]
    with KubeCluster.from_kubeconfig(str(sim.kubeconfig)) as admin:
        apply(admin, binding, dry_run=True)


def test_the_cloudnativepg_component_gives_berth_a_replicated_database(
    kustomize: Path, tmp_path: Path, sim: Sim, installed: list[dict[str, Any]]
) -> None:
    """components/cloudnativepg instead of components/postgres: a Cluster of a primary and a
    synchronous standby, every container that reads BERTH_DATABASE_URL pointed at the
    operator's Secret, the operator let in. The Cluster kind needs the operator's CRDs, which
    the sim lacks: the rest is dry-run applied."""
    objects = _overlay(tmp_path, kustomize, ["base"], ["components/cloudnativepg"])
    (db,) = [o for o in objects if o["kind"] == "Cluster"]
    assert db["apiVersion"] == "postgresql.cnpg.io/v1"
    assert db["metadata"]["namespace"] == PLATFORM
    assert db["spec"]["instances"] == 2
    assert db["spec"]["postgresql"]["synchronous"]["number"] == 1
    assert not [o for o in objects if o["kind"] == "StatefulSet"]
    readers = [
        (o["metadata"]["name"], env)
        for o in objects
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
        for env in c.get("env", [])
        if env["name"] == "BERTH_DATABASE_URL"
    ]
    assert {name for name, _ in readers} >= {"berth-portal", "berth-reconciler", "berth-notify"}
    for name, env in readers:
        assert env["valueFrom"]["secretKeyRef"] == {"name": "berth-db-app", "key": "uri"}, name
    (policy,) = [o for o in objects if o["metadata"]["name"] == "berth-db-from-operator"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {"cnpg.io/cluster": "berth-db"}
    with KubeCluster.from_kubeconfig(str(sim.kubeconfig)) as admin:
        for manifest in objects:
            if manifest["kind"] != "Cluster":
                apply(admin, manifest, dry_run=True)


def test_the_platform_pods_meet_pod_security_restricted(
    installed: list[dict[str, Any]], core: client.CoreV1Api, api: client.ApiClient
) -> None:
    """berth-system enforces `restricted`: a pod template that breaks it makes its controller
    fail to create pods. Portal, reconciler, notify and PostgreSQL pods are all created."""

    def pods_made() -> None:
        names = [p.metadata.name for p in core.list_namespaced_pod(PLATFORM).items]
        for prefix, want in (
            ("berth-portal-", 2),
            ("berth-reconciler-", 2),
            ("berth-notify-", 1),
            ("berth-postgres-", 1),
        ):
            assert sum(n.startswith(prefix) for n in names) == want, names

    eventually(pods_made, timeout=60)
    events = core.list_namespaced_event(PLATFORM, field_selector="reason=FailedCreate").items
    assert not events, [e.message for e in events]

    # one cache agent per GPU node, admitted by berth-node's `privileged` level only
    gpu_nodes = core.list_node(label_selector="nvidia.com/gpu.present=true").items
    assert gpu_nodes

    def agents_made() -> None:
        pods = core.list_namespaced_pod(NODE_AGENTS).items
        assert sorted(p.spec.node_name for p in pods) == sorted(n.metadata.name for n in gpu_nodes)

    eventually(agents_made, timeout=60)


def test_the_reconcilers_identity_cannot_leave_its_lane(
    sim: Sim, as_reconciler: KubeCluster, core: client.CoreV1Api
) -> None:
    token = as_reconciler.api_client.configuration.api_key["BearerToken"]
    api = as_reconciler.api_client
    rbac = client.RbacAuthorizationV1Api(api)
    sa_core = client.CoreV1Api(api)

    def refused(call: Callable[[], object], what: str) -> None:
        with pytest.raises(ApiException) as denied:
            call()
        assert denied.value.status == 403, what
        print(f"[berth-reconciler] {what}: DENIED")

    refused(
        lambda: rbac.create_cluster_role_binding(
            {
                "metadata": {"name": f"escalate-{uuid.uuid4().hex[:6]}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
                "subjects": [{"kind": "ServiceAccount", "name": RECONCILER, "namespace": PLATFORM}],
            }
        ),
        "create a ClusterRoleBinding to cluster-admin",
    )
    refused(lambda: sa_core.list_namespaced_secret("kube-system"), "list Secrets in kube-system")
    refused(
        lambda: sa_core.read_namespaced_secret("anything", "kube-system"),
        "read a Secret in kube-system",
    )
    refused(
        lambda: sa_core.create_persistent_volume(
            {
                "metadata": {"name": f"host-{uuid.uuid4().hex[:6]}"},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "hostPath": {"path": "/"},
                },
            }
        ),
        "create a hostPath PersistentVolume",
    )
    # a RoleBinding to cluster-admin in a namespace: `bind` is granted on `admin` only
    refused(
        lambda: rbac.create_namespaced_role_binding(
            PLATFORM,
            {
                "metadata": {"name": f"escalate-{uuid.uuid4().hex[:6]}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
                "subjects": [{"kind": "ServiceAccount", "name": RECONCILER, "namespace": PLATFORM}],
            },
        ),
        "bind cluster-admin in a namespace",
    )
    impersonating = client.ApiClient(as_reconciler.api_client.configuration)
    impersonating.set_default_header("Impersonate-User", "system:admin")
    with impersonating:
        refused(
            lambda: client.CoreV1Api(impersonating).list_namespace(), "impersonate system:admin"
        )
    assert token  # the same identity throughout


def test_the_reconcilers_writes_stay_in_session_namespaces(
    as_reconciler: KubeCluster, install_admission: None, core: client.CoreV1Api
) -> None:
    """What RBAC alone allows the ClusterRole (`bind` on admin, RoleBindings and the session
    kinds in every namespace) the install's admission policies refuse outside session
    namespaces."""
    rbac = client.RbacAuthorizationV1Api(as_reconciler.api_client)
    sa_core = client.CoreV1Api(as_reconciler.api_client)
    me = {"kind": "ServiceAccount", "name": RECONCILER, "namespace": PLATFORM}
    admin_role = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"}

    def refused(call: Callable[[], object], what: str) -> None:
        with pytest.raises(ApiException) as denied:
            call()
        assert denied.value.status == 403, what
        assert "the Berth reconciler" in denied.value.body, denied.value.body
        print(f"[berth-reconciler] {what}: DENIED")

    refused(
        lambda: rbac.create_namespaced_role_binding(
            "kube-system",
            {"metadata": {"name": "berth-escape"}, "roleRef": admin_role, "subjects": [me]},
        ),
        "bind itself to admin in kube-system",
    )
    refused(
        lambda: sa_core.create_namespaced_config_map(
            PLATFORM, {"metadata": {"name": "berth-escape"}}
        ),
        "create a ConfigMap in berth-system",
    )
    refused(
        lambda: sa_core.patch_namespace(
            "kube-system", {"metadata": {"labels": {MANAGED_BY[0]: MANAGED_BY[1]}}}
        ),
        "label kube-system as Berth's",
    )
    someone = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace({"metadata": {"name": someone}})
    try:
        refused(lambda: sa_core.delete_namespace(someone), "delete a namespace not Berth's")
    finally:
        core.delete_namespace(someone)


def test_a_session_runs_as_the_reconcilers_service_account(
    db: Database,
    kube: KubeCluster,
    as_reconciler: KubeCluster,
    install_admission: None,
    core: client.CoreV1Api,
    api: client.ApiClient,
) -> None:
    """Book -> every object -> ACTIVE -> cancel -> namespace gone, driven by a reconciler
    that is `berth-system:berth-reconciler` with exactly the install's ClusterRole and
    admission policies."""
    clock = Clock()
    rid = book(db, clock)
    ns = namespace_name(rid)
    rec = Reconciler(db, as_reconciler, SessionConfig(), limits=Limits(max_attempts=3), clock=clock)
    steps = session_steps(session_spec(), openshift=False, password="x")
    makes_volumes = any(o["kind"] == "PersistentVolume" for _, objs in steps for o in objs)

    if makes_volumes:
        # Until the artifact cache is a claim of StorageClass berth-cache (the cache agent's
        # work), the storage step makes a hostPath PersistentVolume, which the install does
        # not allow: everything before it is applied, then the step is refused.
        def refused_at_storage() -> None:
            rec.cycle()
            with db.transaction() as tx:
                error = tx.execute(
                    text("SELECT last_error FROM sessions WHERE reservation_id = :r"), {"r": rid}
                ).scalar()
            assert error is not None
            assert "persistentvolumes" in error, error
            assert "forbidden" in error.lower(), error

        eventually(refused_at_storage, timeout=90, interval=0.5)
        assert core.read_namespaced_resource_quota("berth-quota", ns)
        assert client.NetworkingV1Api(api).list_namespaced_network_policy(ns).items
        assert client.RbacAuthorizationV1Api(api).read_namespaced_role_binding("berth-admin", ns)
    else:

        def active() -> None:
            rec.cycle()
            assert status_of(db, rid) == "ACTIVE"

        eventually(active, timeout=120, interval=0.5)
        for _, objects in steps:
            for o in objects:
                if o["metadata"].get("namespace"):
                    assert as_reconciler.get(o["apiVersion"], o["kind"], o["metadata"]["name"], ns)
        # drift repair reads the session's Secret through berth-admin, as the install allows
        clock.now += timedelta(hours=1)
        rec.cycle()

    with db.transaction() as tx:
        reservations.cancel(tx, users.principal(users.get(tx, "alice")), rid, clock.now)

    def gone() -> None:
        rec.cycle()
        assert_gone(lambda: core.read_namespace(ns), ns)

    eventually(gone, timeout=120, interval=0.5)
    assert status_of(db, rid) == "CANCELED"


@pytest.fixture
def second_db(database_url: str) -> Iterator[Database]:
    """Another installation's database on the same server."""
    url = make_url(database_url)
    name = "berth_test_install_b"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    other = Database(url.set(database=name).render_as_string(hide_password=False))
    bootstrap.prepare(other, load_pool_file())
    with other.transaction() as tx:
        pools.sync(tx, load_pool_file())
    try:
        yield other
    finally:
        other.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_two_installations_on_one_cluster_leave_each_other_alone(
    db: Database,
    second_db: Database,
    kube: KubeCluster,
    core: client.CoreV1Api,
) -> None:
    """Two reconcilers, installations lab-a and lab-b, each with its own database, on one
    cluster: each provisions its own session and collects garbage, and neither deletes the
    other's namespace. A namespace of an older version (no installation label) is the default
    installation's: lab-a leaves it, a default reconciler collects it."""
    clock = Clock()

    def reconciler(database: Database, installation: str) -> Reconciler:
        cfg = SessionConfig(installation=installation)
        return Reconciler(database, kube, cfg, limits=Limits(max_attempts=3), clock=clock)

    a, b = reconciler(db, "lab-a"), reconciler(second_db, "lab-b")
    rid_a, rid_b = book(db, clock), book(second_db, clock)
    ns_a, ns_b = namespace_name(rid_a), namespace_name(rid_b)

    legacy = f"berth-{uuid.uuid4().hex[:12]}"
    core.create_namespace(
        {
            "metadata": {
                "name": legacy,
                "labels": {
                    "app.kubernetes.io/managed-by": "berth",
                    "berth.io/reservation": str(uuid.uuid4()),
                },
            }
        }
    )

    def both_provisioned() -> None:
        a.cycle(gc=True)
        b.cycle(gc=True)
        for ns, installation in ((ns_a, "lab-a"), (ns_b, "lab-b")):
            labels = core.read_namespace(ns).metadata.labels
            assert labels["berth.io/installation"] == installation

    eventually(both_provisioned, timeout=90, interval=0.5)
    for _ in range(2):  # garbage collection in both, twice: nothing of the other is touched
        a.cycle(gc=True)
        b.cycle(gc=True)
    for ns in (ns_a, ns_b, legacy):
        assert core.read_namespace(ns).status.phase == "Active", ns

    # the default installation (a reconciler of an older version's database) owns the legacy one
    default = reconciler(db, "default")
    default.cycle(gc=True)
    assert core.read_namespace(ns_a).status.phase == "Active"
    assert core.read_namespace(ns_b).status.phase == "Active"
    eventually(lambda: assert_gone(lambda: core.read_namespace(legacy), legacy), timeout=90)


def test_reconcile_once_deletes_nothing_without_gc(
    sim: Sim,
    database_url: str,
    db: Database,
    kube: KubeCluster,
    core: client.CoreV1Api,
    tmp_path: Path,
) -> None:
    """An orphan namespace stays through `berth reconcile --once`; `--once --gc` collects it."""
    orphan = f"berth-{uuid.uuid4().hex[:12]}"
    core.create_namespace(
        {
            "metadata": {
                "name": orphan,
                "labels": {
                    "app.kubernetes.io/managed-by": "berth",
                    "berth.io/reservation": str(uuid.uuid4()),
                },
            }
        }
    )
    berth = Path(sys.executable).with_name("berth")
    env = {
        **os.environ,
        "BERTH_DATABASE_URL": database_url,
        "BERTH_KUBECONFIG": str(sim.kubeconfig),
        "BERTH_DATA_DIR": str(tmp_path),
    }

    def once(*extra: str) -> str:
        done = subprocess.run(
            [str(berth), "reconcile", "--once", *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert orphan not in once()
    assert core.read_namespace(orphan).status.phase == "Active"
    assert f"DeleteOrphan(namespace='{orphan}')" in once("--gc")
    eventually(lambda: assert_gone(lambda: core.read_namespace(orphan), orphan), timeout=90)


def test_the_clusters_component_mounts_the_other_clusters_kubeconfigs_into_the_reconciler(
    kustomize: Path, tmp_path: Path, sim: Sim
) -> None:
    """components/clusters (docs/scale.md): the Secret berth-clusters, read-only, at the path
    the pool file names, in the reconciler only; dry-run applied beside such a Secret."""
    objects = _overlay(tmp_path, kustomize, ["overlays/kubernetes"], ["components/clusters"])
    by_name = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    spec = by_name["berth-reconciler"]["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == "clusters"]
    assert volume["secret"]["secretName"] == "berth-clusters"
    (mount,) = [m for c in spec["containers"] for m in c["volumeMounts"] if m["name"] == "clusters"]
    assert (mount["mountPath"], mount["readOnly"]) == ("/etc/berth-clusters", True)
    portal = by_name["berth-portal"]["spec"]["template"]["spec"]
    assert "clusters" not in {v["name"] for v in portal["volumes"]}  # credentials: reconciler only
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "berth-clusters", "namespace": PLATFORM},
        "stringData": {"east": "apiVersion: v1\nkind: Config\n"},
    }
    with KubeCluster.from_kubeconfig(str(sim.kubeconfig)) as admin:
        for manifest in [secret, by_name["berth-reconciler"]]:
            apply(admin, manifest, dry_run=True)
