"""The runtime plane on the real control plane: engine images kept on each pool's nodes, the
session's `berth-runtime` ConfigMap, `berth-serve` servers admitted (or refused) by the real
quota and admission policies, and `berth-policy`'s NetworkPolicies with the reachability they
imply checked by two evaluators that are not Berth's: cyclonus (built from the Go module proxy,
pinned in berth.sim.build) and a second one written here from the NetworkPolicy semantics.

berth-serve and berth-policy run in-process with the session owner's identity (impersonated,
as test_guardrails.py does), so they have the namespace's permissions and nothing more. kwok
runs no containers: a pod on a kwok node is marked Ready (and its init containers Completed)
by kwok's pod stage, which is what "ready" means here.
"""

from __future__ import annotations

import json
import random
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_manifests import GPU, MIG, NODE, TENANT, pod
from kube_sessions import provision, remove, session_spec
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from sqlalchemy import text
from test_reconciler import Clock, book, status_of
from tests.conftest import SIM_POOL_FILE

from berth.catalog import load_catalog_file
from berth.config import load_pool_file
from berth.domain.reservation import Mode
from berth.domain.session import SessionConfig, SessionSpec, namespace_name
from berth.kube.adapter import KubeCluster
from berth.kube.prepull import ImageState
from berth.reconciler.loop import Reconciler
from berth.reconciler.plan import ApplyPrepull, DeletePrepull
from berth.runtime import cli, servers
from berth.sim import build as sim_build
from berth.store import catalog as catalog_store
from berth.store import pools as pool_store
from berth.store import reservations, users
from berth.store.db import Database
from conftest import Sim, eventually

pytestmark = pytest.mark.kube

CATALOG = load_catalog_file()
GIB = 2**30
ROLE = "berth.io/role"


@pytest.fixture(scope="module")
def admin(sim: Sim) -> Iterator[KubeCluster]:
    with KubeCluster.from_kubeconfig(str(sim.kubeconfig)) as kube:
        yield kube


@pytest.fixture
def session(admin: KubeCluster) -> Iterator[Callable[[str, int, Mode], SessionSpec]]:
    """Sessions made from Berth's own steps, as the reconciler makes them; removed after."""
    made: list[SessionSpec] = []

    def make(kind: str, count: int, mode: Mode) -> SessionSpec:
        spec = session_spec(mode, count, kind=kind, catalog=CATALOG)
        made.append(spec)
        provision(admin, spec)
        return spec

    yield make
    for spec in made:
        remove(admin, spec)


@pytest.fixture
def tenant(
    monkeypatch: pytest.MonkeyPatch, impersonate: Callable[[str, list[str]], client.ApiClient]
) -> KubeCluster:
    """berth-serve and berth-policy act as the session's owner."""
    kube = KubeCluster(impersonate(TENANT, ["system:authenticated"]))
    monkeypatch.setattr(cli, "connect", lambda kubeconfig, context: kube)
    return kube


def run(
    capsys: pytest.CaptureFixture[str], main: Callable[[list[str]], int], *args: str
) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def serve(capsys: pytest.CaptureFixture[str], ns: str, *args: str) -> tuple[int, str, str]:
    return run(capsys, cli.serve_main, *args, "--namespace", ns, "--timeout", "120")


def servers_in(core: client.CoreV1Api, ns: str) -> list[str]:
    apps = client.AppsV1Api(core.api_client)
    found = apps.list_namespaced_deployment(ns, label_selector="berth.io/server").items
    return sorted(d.metadata.name for d in found)


def compatible_pairs() -> list[tuple[str, str]]:
    return [
        (e.name, m.id) for e in CATALOG.engines for m in CATALOG.models if m.format in e.formats
    ]


# -- engine images on the pools' nodes --------------------------------------------------------


def test_a_prepull_daemonset_per_pool_keeps_the_engine_images_on_its_nodes(
    db: Database, kube: KubeCluster, core: client.CoreV1Api, tmp_path: Path
) -> None:
    platform = f"plat-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=platform)))
    apps = client.AppsV1Api(core.api_client)
    try:
        spare = tmp_path / "pools.yaml"
        spare.write_text(
            SIM_POOL_FILE.read_text()
            + "  - name: spare\n    nodes:\n      - name: ghost-01\n        cpu: 8\n"
            "        memory: 64Gi\n        storage_class: lvms-vg1\n        gpus:\n"
            "          - {index: 0, model: RTX PRO 6000 Blackwell, memory: 96Gi}\n"
        )
        with db.transaction() as tx:
            catalog_store.sync(tx, CATALOG)
            pool_store.sync(tx, load_pool_file(spare))
        now = datetime.now(UTC)
        rec = Reconciler(db, kube, SessionConfig(platform_namespace=platform))
        actions = rec.keep_engine_images(now, verify=False)
        assert sorted(a.name for a in actions if isinstance(a, ApplyPrepull)) == [
            "berth-prepull-c845a",
            "berth-prepull-spare",
        ]
        ds = apps.read_namespaced_daemon_set("berth-prepull-c845a", platform)
        pod = ds.spec.template.spec
        assert [c.image for c in pod.init_containers] == [e.reference for e in CATALOG.engines]
        assert {c.image_pull_policy for c in pod.init_containers} == {"IfNotPresent"}
        term = pod.affinity.node_affinity.required_during_scheduling_ignored_during_execution
        assert term.node_selector_terms[0].match_expressions[0].values == [NODE]

        def scheduled_on_the_node() -> None:
            pods = core.list_namespaced_pod(platform, label_selector="berth.io/pool=c845a").items
            assert [p.spec.node_name for p in pods] == [NODE]
            assert pods[0].status.phase == "Running"

        eventually(scheduled_on_the_node, timeout=60)
        images = rec.record_engine_images()
        assert {(i.node, i.engine) for i in images} == {(NODE, e.name) for e in CATALOG.engines}
        assert {i.state for i in images} == {ImageState.PRESENT}

        # nothing changed: no request at all
        before = kube.requests
        assert rec.keep_engine_images(now, verify=False) == []
        assert kube.requests == before

        # the spare pool goes away: its DaemonSet goes too
        with db.transaction() as tx:
            tx.execute(text("DELETE FROM pools WHERE name = 'spare'"))
        actions = rec.keep_engine_images(now, verify=False)
        assert actions == [DeletePrepull("berth-prepull-spare", platform)]

        def spare_gone() -> None:
            names = [d.metadata.name for d in apps.list_namespaced_daemon_set(platform).items]
            assert names == ["berth-prepull-c845a"]

        eventually(spare_gone)

        # its pool moved to another cluster (docs/scale.md): this cluster's DaemonSet goes
        with db.transaction() as tx:
            tx.execute(text("UPDATE pools SET cluster = 'east' WHERE name = 'c845a'"))
        actions = rec.keep_engine_images(now, verify=False)
        assert actions == [DeletePrepull("berth-prepull-c845a", platform)]
        east = Reconciler(db, kube, SessionConfig(platform_namespace=platform), cluster_name="east")
        assert [a.name for a in east.keep_engine_images(now, verify=False)] == [
            "berth-prepull-c845a"
        ]
    finally:
        core.delete_collection_namespaced_pod(platform, grace_period_seconds=0)
        core.delete_namespace(platform)


def test_the_reconciler_writes_each_sessions_runtime_from_the_stored_catalog(
    db: Database, kube: KubeCluster, core: client.CoreV1Api
) -> None:
    """The whole path: the catalog in the database, a booking, reconciler cycles; the session's
    berth-runtime holds the catalog and the booked GPU resource, and the pool's pre-pull
    DaemonSet is there."""
    with db.transaction() as tx:
        catalog_store.sync(tx, CATALOG)
    clock = Clock()
    rid = book(db, clock, kind="gpu", count=1, mode=Mode.INFERENCE)
    platform = f"plat-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=platform)))
    try:
        rec = Reconciler(db, kube, SessionConfig(platform_namespace=platform), clock=clock)

        def active() -> None:
            rec.cycle()
            assert status_of(db, rid) == "ACTIVE"

        eventually(active, timeout=90, interval=0.5)
        found = core.read_namespaced_config_map("berth-runtime", namespace_name(rid))
        rt = servers.parse_runtime({"data": found.data})
        assert (rt.gpu_resource, rt.gpu_slots) == (GPU, 4)
        assert [e.image for e in rt.engines] == [e.reference for e in CATALOG.engines]
        apps = client.AppsV1Api(core.api_client)
        assert apps.read_namespaced_daemon_set("berth-prepull-c845a", platform)
    finally:
        core.delete_collection_namespaced_pod(platform, grace_period_seconds=0)
        core.delete_namespace(platform)


def test_a_platform_namespace_being_deleted_never_holds_sessions_back(
    db: Database, kube: KubeCluster, core: client.CoreV1Api
) -> None:
    """The pre-pull DaemonSets cannot be written (the API server refuses new content in a
    terminating namespace, a 403 it classes as transient): sessions still open, each cycle
    completes, and the DaemonSets are made once the namespace is usable again."""
    with db.transaction() as tx:
        catalog_store.sync(tx, CATALOG)
    platform = f"plat-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=platform)))
    hold = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="hold", finalizers=["berth.io/test-hold"])
    )
    core.create_namespaced_config_map(platform, hold)
    core.delete_namespace(platform)  # Terminating until the ConfigMap's finalizer is gone
    apps = client.AppsV1Api(core.api_client)
    clock = Clock()
    rids = [book(db, clock, kind="mig-1g.24gb", count=1) for _ in range(2)]
    try:
        rec = Reconciler(db, kube, SessionConfig(platform_namespace=platform), clock=clock)

        def active() -> None:
            rec.cycle()  # never raises for the DaemonSets
            assert [status_of(db, rid) for rid in rids] == ["ACTIVE", "ACTIVE"]

        eventually(active, timeout=120, interval=0.5)
        assert not apps.list_namespaced_daemon_set(platform).items
    finally:
        core.patch_namespaced_config_map("hold", platform, {"metadata": {"finalizers": None}})
        with db.transaction() as tx:
            for rid in rids:
                reservations.cancel(tx, users.principal(users.get(tx, "alice")), rid, clock.now)
        Reconciler(db, kube, SessionConfig(), clock=clock).cycle()

    def gone() -> None:
        assert not core.list_namespace(field_selector=f"metadata.name={platform}").items

    eventually(gone, timeout=60)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=platform)))
    try:
        rec.cycle()  # the namespace is usable again: the DaemonSet of the pool is made
        assert apps.read_namespaced_daemon_set("berth-prepull-c845a", platform)
    finally:
        core.delete_namespace(platform)


# -- the session's runtime ConfigMap and servers ----------------------------------------------


def test_the_session_holds_its_runtime_config_map_readable_not_writable_by_the_tenant(
    session: Callable[[str, int, Mode], SessionSpec], tenant: KubeCluster
) -> None:
    spec = session("mig-1g.24gb", 1, Mode.INFERENCE)
    found = tenant.get("v1", "ConfigMap", "berth-runtime", spec.namespace)
    rt = servers.parse_runtime(found)
    assert rt.gpu_resource == MIG
    assert rt.gpu_slots == 2
    assert [e.name for e in rt.engines] == [e.name for e in CATALOG.engines]
    assert {m.directory for m in rt.models} == {f"/cache/models/{m.id}" for m in CATALOG.models}
    core = client.CoreV1Api(tenant.api_client)
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_config_map(
            "berth-runtime", spec.namespace, {"data": {"runtime.json": "{}"}}
        )
    assert refused.value.status == 403


def test_a_mig_session_serves_on_its_mig_slices_and_is_refused_a_whole_gpu(
    session: Callable[[str, int, Mode], SessionSpec],
    tenant: KubeCluster,
    core: client.CoreV1Api,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = session("mig-1g.24gb", 1, Mode.INFERENCE)
    ns = spec.namespace
    code, out, err = serve(capsys, ns, "vllm", "demo-hf-tiny", "--name", "chat")
    assert code == 0, err
    assert f"ready: http://chat.{ns}.svc:8000/v1" in out
    apps = client.AppsV1Api(core.api_client)
    container = apps.read_namespaced_deployment("chat", ns).spec.template.spec.containers[0]
    assert container.resources.limits == {MIG: "1"}
    assert container.image_pull_policy == "IfNotPresent"
    assert container.volume_mounts[0].read_only is True
    env = {e.name: e.value for e in container.env}
    assert env["HF_HUB_OFFLINE"] == "1"
    assert "/cache/models/demo-hf-tiny" in container.command

    code, out, err = serve(capsys, ns, "vllm", "demo-hf-tiny", "--name", "big", "--resource", GPU)
    assert code == cli.EXIT_REFUSED
    assert err.count("\n") == 1, err
    assert f"this booking has no {GPU}" in err
    assert "Traceback" not in err
    assert servers_in(core, ns) == ["chat"]  # the refused server is removed

    code, _, err = serve(capsys, ns, "vllm", "demo-ollama-tiny")
    assert code == cli.EXIT_INPUT
    assert err.strip() == (
        "berth: vllm serves huggingface models; demo-ollama-tiny is a ollama model "
        "(served by: ollama)"
    )
    # kwok runs no containers, so there is no log to read: still one line, no traceback
    code, out, err = run(capsys, cli.serve_main, "logs", "chat", "--namespace", ns)
    assert code == 0 or (err.count("\n") == 1 and "Traceback" not in err), err
    code, _, err = run(capsys, cli.serve_main, "logs", "nobody", "--namespace", ns)
    assert (code, err) == (cli.EXIT_INPUT, "berth: no pod of server nobody (berth-serve list)\n")
    code, _, err = serve(capsys, ns, "vllm", "qwen-not-here")
    assert code == cli.EXIT_INPUT
    assert "is not in the catalog" in err
    assert err.count("\n") == 1


def test_a_server_the_node_has_no_room_for_waits_with_the_schedulers_reason(
    session: Callable[[str, int, Mode], SessionSpec],
    tenant: KubeCluster,
    namespace: str,
    core: client.CoreV1Api,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Within the quota, but another namespace holds every MIG slot of the node: the wait shows
    the scheduler's message, and the budget ends it (exit 4, the server left for `logs`)."""
    # earlier tests' pods may hold slots: once none is on its way out, take every free one
    eventually(lambda: _settled(core), timeout=120)
    free = _free_on_node(core, MIG)
    if free > 0:
        core.create_namespaced_pod(namespace, pod("hog", {MIG: str(free)}))
        eventually(lambda: _running(core, namespace, "hog"), timeout=60)
    spec = session("mig-1g.24gb", 1, Mode.INFERENCE)
    code, out, err = run(
        capsys,
        cli.serve_main,
        *("vllm", "demo-hf-tiny", "--name", "late", "--namespace", spec.namespace),
        *("--timeout", "8"),
    )
    assert code == cli.EXIT_TIMEOUT, err
    assert "late not ready after 8 s: pod late-" in err
    assert f"Insufficient {MIG}" in err
    assert out.count(f"Insufficient {MIG}") == 1  # shown while it waited, once (not a tty)
    assert servers_in(core, spec.namespace) == ["late"]


def _pods_on_node(core: client.CoreV1Api) -> list[Any]:
    listed = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={NODE}")
    return [p for p in listed.items if p.status.phase not in ("Succeeded", "Failed")]


def _settled(core: client.CoreV1Api) -> None:
    leaving = [p.metadata.name for p in _pods_on_node(core) if p.metadata.deletion_timestamp]
    assert not leaving, f"pods still terminating on {NODE}: {leaving}"


def _free_on_node(core: client.CoreV1Api, resource: str) -> int:
    allocatable = int(core.read_node(NODE).status.allocatable[resource])
    used = sum(
        int((c.resources.requests or {}).get(resource, 0))
        for p in _pods_on_node(core)
        for c in p.spec.containers
        if c.resources is not None
    )
    return allocatable - used


def _running(core: client.CoreV1Api, ns: str, name: str) -> None:
    assert core.read_namespaced_pod(name, ns).status.phase == "Running"


def test_four_time_sliced_servers_fit_a_whole_gpu_booking_the_fifth_is_refused(
    session: Callable[[str, int, Mode], SessionSpec],
    tenant: KubeCluster,
    core: client.CoreV1Api,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = session("gpu", 1, Mode.INFERENCE)  # one whole GPU, 4 time-sliced replicas
    ns = spec.namespace
    rng = random.Random(11)
    pairs = compatible_pairs()
    for round_ in range(2):
        names = [f"r{round_}-s{i}-{uuid.uuid4().hex[:4]}" for i in range(5)]
        for name in names[:4]:
            engine, model = rng.choice(pairs)
            code, out, err = serve(capsys, ns, engine, model, "--name", name)
            assert code == 0, err
            assert f"http://{name}.{ns}.svc:" in out
        engine, model = rng.choice(pairs)
        code, _, err = serve(capsys, ns, engine, model, "--name", names[4])
        assert code == cli.EXIT_REFUSED, err
        assert err.count("\n") == 1, err
        assert f"it allows 4 {GPU}, 4 in use" in err
        assert names[4] not in servers_in(core, ns)
        code, out, _ = run(capsys, cli.serve_main, "list", "--namespace", ns)
        assert code == 0
        assert sorted(line.split()[0] for line in out.splitlines()[1:]) == sorted(names[:4])
        # stop one at random: the fifth fits now
        stopped = rng.choice(names[:4])
        assert run(capsys, cli.serve_main, "stop", stopped, "--namespace", ns)[0] == 0

        def slot_free(stopped: str = stopped) -> None:
            pods = core.list_namespaced_pod(ns, label_selector=f"berth.io/server={stopped}")
            assert not pods.items

        eventually(slot_free, timeout=60)
        code, _, err = serve(capsys, ns, engine, model, "--name", names[4])
        assert code == 0, err
        for name in servers_in(core, ns):
            assert run(capsys, cli.serve_main, "stop", name, "--namespace", ns)[0] == 0
        eventually(lambda: _no_server_pods(core, ns), timeout=60)


def _no_server_pods(core: client.CoreV1Api, ns: str) -> None:
    assert not core.list_namespaced_pod(ns, label_selector="berth.io/server").items


def test_the_workspaces_service_account_serves_and_manages_policies_too(
    session: Callable[[str, int, Mode], SessionSpec],
    monkeypatch: pytest.MonkeyPatch,
    impersonate: Callable[[str, list[str]], client.ApiClient],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What code in the IDE runs as: the ServiceAccount `workspace`, namespace admin only."""
    spec = session("mig-1g.24gb", 1, Mode.INFERENCE)
    ns = spec.namespace
    account = f"system:serviceaccount:{ns}:workspace"
    kube = KubeCluster(impersonate(account, ["system:serviceaccounts"]))
    monkeypatch.setattr(cli, "connect", lambda kubeconfig, context: kube)
    code, out, err = serve(capsys, ns, "tgi", "demo-hf-tiny", "--role", "tools", "--gpus", "0")
    assert code == 0, err
    assert f"ready: http://tgi-demo-hf-tiny.{ns}.svc:8080/v1" in out
    code, out, err = run(capsys, cli.policy_main, "allow", "tools", "tools", "--namespace", ns)
    assert (code, out) == (0, "tools may reach tools on every port\n"), err
    # another session's namespace is not the workspace's
    code, _, err = run(capsys, cli.serve_main, "list", "--namespace", "kube-system")
    assert code != 0
    assert err.count("\n") == 1, err


def test_the_cache_is_admitted_read_only_and_refused_read_write(
    session: Callable[[str, int, Mode], SessionSpec],
    tenant: KubeCluster,
) -> None:
    spec = session("mig-1g.24gb", 1, Mode.INFERENCE)
    rt = servers.parse_runtime(tenant.get("v1", "ConfigMap", "berth-runtime", spec.namespace))
    plan = servers.plan(rt, servers.Request("vllm", "demo-hf-tiny", gpus=0), spec.namespace)
    template = plan.deployment["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ro"}, "spec": template["spec"]}
    core = client.CoreV1Api(tenant.api_client)
    core.create_namespaced_pod(spec.namespace, pod)  # admitted
    writable = json.loads(json.dumps(pod))
    writable["metadata"]["name"] = "rw"
    writable["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = False
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(spec.namespace, writable)
    assert refused.value.status == 403
    assert "berth-artifacts-readonly" in json.loads(refused.value.body)["message"]


# -- agent policies -----------------------------------------------------------------------------


def independent_allows(
    policies: list[dict[str, Any]],
    src: dict[str, str],
    dst: dict[str, str],
    port: int,
    ns_labels: dict[str, str],
) -> bool:
    """A second reading of NetworkPolicy semantics, written apart from berth.runtime.policy:
    for pods of one namespace, TCP. A direction is open unless some policy of that type
    selects the pod; then some rule of one of those policies must match peer and port."""

    def match(sel: dict[str, Any] | None, labels: dict[str, str]) -> bool:
        if sel is None:
            return False
        ok = all(labels.get(k) == v for k, v in (sel.get("matchLabels") or {}).items())
        for e in sel.get("matchExpressions") or []:
            present, value = e["key"] in labels, labels.get(e["key"])
            ok = (
                ok
                and {
                    "In": present and value in e.get("values", []),
                    "NotIn": not present or value not in e.get("values", []),
                    "Exists": present,
                    "DoesNotExist": not present,
                }[e["operator"]]
            )
        return ok

    def peer_ok(peer: dict[str, Any], labels: dict[str, str]) -> bool:
        if "ipBlock" in peer:
            return False
        if "namespaceSelector" in peer and not match(peer["namespaceSelector"], ns_labels):
            return False
        return match(peer.get("podSelector", {}), labels)

    def port_ok(ports: list[dict[str, Any]] | None) -> bool:
        return not ports or any(
            p.get("protocol", "TCP") == "TCP"
            and ("port" not in p or p["port"] <= port <= p.get("endPort", p["port"]))
            for p in ports
        )

    def side(kind: str, me: dict[str, str], other: dict[str, str]) -> bool:
        field, peers = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
        mine = [
            p["spec"]
            for p in policies
            if kind in p["spec"].get("policyTypes", ["Ingress"])
            and match(p["spec"]["podSelector"], me)
        ]
        return not mine or any(
            port_ok(r.get("ports"))
            and (not r.get(peers) or any(peer_ok(x, other) for x in r[peers]))
            for s in mine
            for r in s.get(field) or []
        )

    return side("Egress", src, dst) and side("Ingress", dst, src)


def cyclonus_allows(
    policies: list[dict[str, Any]],
    probes: list[tuple[dict[str, str], dict[str, str], int]],
    ns: str,
    ns_labels: dict[str, str],
    work: Path,
) -> list[bool]:
    """cyclonus's verdict for each (source labels, target labels, port), in order."""
    folder = work / f"policies-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    for i, p in enumerate(policies):
        (folder / f"{i:03d}.yaml").write_text(yaml.safe_dump(p))
    traffic = [
        {
            "Source": {
                "Internal": {"PodLabels": s, "NamespaceLabels": ns_labels, "Namespace": ns},
                "IP": "10.244.0.10",
            },
            "Destination": {
                "Internal": {"PodLabels": d, "NamespaceLabels": ns_labels, "Namespace": ns},
                "IP": "10.244.0.20",
            },
            "Protocol": "TCP",
            "ResolvedPort": port,
        }
        for s, d, port in probes
    ]
    path = work / f"traffic-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(traffic))
    result = subprocess.run(
        [
            str(sim_build.cyclonus_path()),
            "analyze",
            "--mode",
            "query-traffic",
            "--policy-path",
            str(folder),
            "--traffic-path",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    verdicts = [
        "TRUE" in line for line in result.stdout.splitlines() if line.startswith("| IS ALLOWED?")
    ]
    assert len(verdicts) == len(probes), result.stdout[-2000:]
    return verdicts


def clean_policy(p: client.V1NetworkPolicy, api: client.ApiClient) -> dict[str, Any]:
    raw = api.sanitize_for_serialization(p)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": raw["metadata"]["name"], "namespace": raw["metadata"]["namespace"]},
        "spec": raw["spec"],
    }


@pytest.fixture(scope="module")
def cyclonus() -> Path:
    return sim_build.build_cyclonus(print)


@pytest.mark.parametrize("seed", [7, 31])
def test_agent_policies_give_the_reachability_two_other_evaluators_agree_on(
    seed: int,
    session: Callable[[str, int, Mode], SessionSpec],
    tenant: KubeCluster,
    core: client.CoreV1Api,
    api: client.ApiClient,
    capsys: pytest.CaptureFixture[str],
    cyclonus: Path,
    tmp_path: Path,
) -> None:
    spec = session("mig-1g.24gb", 1, Mode.INFERENCE)
    ns = spec.namespace
    rng = random.Random(seed)
    roles = rng.sample(["orchestrator", "retriever", "tools", "judge", "critic"], 4)
    pairs = compatible_pairs()
    for role in roles:
        engine, model = rng.choice(pairs)
        code, _, err = serve(
            capsys, ns, engine, model, "--name", role, "--role", role, "--gpus", "0"
        )
        assert code == 0, err
    net = client.NetworkingV1Api(core.api_client)
    ns_labels = dict(core.read_namespace(ns).metadata.labels)

    def labels_of(selector: str) -> dict[str, str]:
        (pod,) = core.list_namespaced_pod(ns, label_selector=selector).items
        return dict(pod.metadata.labels)

    pods = {"workspace": labels_of("app.kubernetes.io/name=workspace")}
    pods |= {role: labels_of(f"berth.io/server={role}") for role in roles}
    pods[cli.OTHERS] = {"run": "scratch"}
    engine_ports = {
        role: next(e.port for e in CATALOG.engines if e.name == labels["berth.io/engine"])
        for role, labels in pods.items()
        if role in roles
    }

    allowed: dict[tuple[str, str], set[int] | None] = {}  # None: every port
    managed = False
    for step in range(10):
        if step == 0:
            pass  # open: the first --role server opened the agents to each other
        elif rng.random() < 0.7 or not allowed:
            a, b = rng.choice(roles), rng.choice(roles)
            port = rng.choice([None, engine_ports[b], 7000 + step])
            args = ["allow", a, b, "--namespace", ns] + (
                [] if port is None else ["--port", str(port)]
            )
            code, _, err = run(capsys, cli.policy_main, *args)
            assert code == 0, err
            managed = True
            before = allowed.get((a, b), set())
            allowed[(a, b)] = None if port is None or before is None else before | {port}
        else:
            a, b = rng.choice(sorted(allowed))
            assert run(capsys, cli.policy_main, "deny", a, b, "--namespace", ns)[0] == 0
            del allowed[(a, b)]

        def expected(src: str, dst: str, port: int, managed: bool = managed) -> bool:
            if src not in roles or not managed:
                return True  # the workspace and plain pods reach all; open agents too
            if dst not in roles:
                return False
            ports = allowed.get((src, dst), set())
            return ports is None or port in ports

        policies = [clean_policy(p, api) for p in net.list_namespaced_network_policy(ns).items]
        probe_ports = sorted({*engine_ports.values(), 7000 + step, 7001, 65000})
        probes = [(s, d, p) for s in pods for d in pods for p in probe_ports]
        verdicts = cyclonus_allows(
            policies, [(pods[s], pods[d], p) for s, d, p in probes], ns, ns_labels, tmp_path
        )
        for (s, d, p), by_cyclonus in zip(probes, verdicts, strict=True):
            want = expected(s, d, p)
            mine = independent_allows(policies, pods[s], pods[d], p, ns_labels)
            assert (mine, by_cyclonus) == (want, want), (step, s, d, p, allowed)

        # berth-policy show says the same: "all", the ports among those named anywhere, or "-"
        code, out, err = run(capsys, cli.policy_main, "show", "--namespace", ns)
        assert code == 0, err
        print(out)
        named = {
            int(port["port"])
            for pol in policies
            for direction in ("ingress", "egress")
            for rule in pol["spec"].get(direction) or []
            for port in rule.get("ports") or []
            if isinstance(port.get("port"), int)
        } | set(engine_ports.values())
        header, *rows = (line.split() for line in out.splitlines()[2:])
        columns = header[3:]  # after 'from \\ to'
        assert sorted(columns) == sorted(pods)
        assert sorted(r[0] for r in rows) == sorted(pods)
        for row in rows:
            for dst, cell in zip(columns, row[1:], strict=True):
                if expected(row[0], dst, 65000):
                    want_cell = "all"
                else:
                    ok = sorted(q for q in named if expected(row[0], dst, q))
                    want_cell = ",".join(map(str, ok)) or "-"
                assert cell == want_cell, (step, row[0], dst)
