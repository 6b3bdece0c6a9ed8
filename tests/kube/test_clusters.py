"""Three clusters, one `berth reconcile` process driving all of them, one of them frozen.

Three sims side by side, each with a small pool of its own; bookings spread over the three
pools; the API server of one cluster is stopped (SIGSTOP, as a hung control plane looks from
outside: it accepts connections and never answers) while the sessions open. The other two
clusters' sessions become ACTIVE while it is still frozen; its sessions wait, which /status and
the metrics show; once it is resumed they converge too; cancelling everything leaves nothing on
any cluster. Every check is on end states; the seed is printed for a replay.
"""

from __future__ import annotations

import base64
import contextlib
import os
import random
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from kubernetes import client, config
from test_reconciler_faults import (
    assert_all_active_and_whole,
    assert_nothing_left,
    book_many,
    cancel_all,
    statuses,
)
from tests.conftest import Sim, _ensure_built, eventually

from berth.api.app import create_app
from berth.cli.clusters import connect
from berth.config import Settings, check_pool_layout, load_pool_file
from berth.domain.session import SessionConfig
from berth.kube.adapter import KubeCluster
from berth.reconciler.loop import Reconciler
from berth.sim import build
from berth.sim import cluster as sim_cluster
from berth.sim.state import Paths
from berth.store import pools, users
from berth.store.db import Database

pytestmark = [pytest.mark.kube]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CLUSTERS = ("a", "b", "c")
FROZEN = "c"
KIND = "mig-1g.24gb"


def _pool(cluster: str, *, named: bool) -> str:
    """Pool `p<cluster>`: two nodes, each one GPU of four MIG slices (8 sessions at most)."""
    gpu = (
        "{index: 0, model: RTX PRO 6000 Blackwell, memory: 96Gi, mig: {profile: 1g.24gb, count: 4}}"
    )
    nodes = "".join(
        f"      - {{name: {cluster}-gpu-{i}, cpu: 32, memory: 256Gi, storage_class: lvms-vg1, "
        f"gpus: [{gpu}]}}\n"
        for i in (1, 2)
    )
    where = f"    cluster: {cluster}\n" if named else ""
    return (
        f"  - name: p{cluster}\n{where}    nodes:\n{nodes}"
        f"    defaults:\n      {KIND}: {{cpu: 1, memory: 2Gi}}\n"
    )


@pytest.fixture(scope="module")
def sims(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Sim]]:
    """Three sims on free ports, each with its own pool's nodes; they die with this pytest."""
    _ensure_built()
    started: dict[str, Sim] = {}
    try:
        for name in CLUSTERS:
            folder = tmp_path_factory.mktemp(f"cluster-{name}")
            pool_file = folder / "pool.yaml"
            pool_file.write_text("pools:\n" + _pool(name, named=False))
            state_dir = folder / "sim"
            state = sim_cluster.up(
                pool_file, 1, state_dir=state_dir, die_with_parent=True, name=f"scale-{name}"
            )
            started[name] = Sim(state_dir, state)
        yield started
    finally:
        for s in started.values():
            _signal_apiserver(s, signal.SIGCONT)  # a stopped process would outlive `down`
            sim_cluster.down(s.state_dir)


def _signal_apiserver(s: Sim, sig: signal.Signals) -> None:
    """Only the sim's own kube-apiserver, by the pid its state recorded."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(s.state.pids["kube-apiserver"], sig)


def _berth_pool_file(folder: Path, sims: dict[str, Sim]) -> Path:
    declared = "".join(f"  - {{name: {n}, kubeconfig: {s.kubeconfig}}}\n" for n, s in sims.items())
    path = folder / "pools.yaml"
    path.write_text(
        "clusters:\n" + declared + "pools:\n" + "".join(_pool(n, named=True) for n in sims)
    )
    return path


def _reconciler(
    pool_file: Path, database_url: str, port: int, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BERTH_DATABASE_URL": database_url,
        "BERTH_POOL_FILE": str(pool_file),
        "BERTH_RECONCILE_INTERVAL": "2",
        "BERTH_KUBE_TIMEOUT": "5",  # a frozen cluster counts as unavailable within ~20 s
    }
    env.pop("BERTH_KUBECONFIG", None)
    berth = Path(sys.executable).with_name("berth")
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(berth), "reconcile", "--metrics-port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _metric(port: int, name: str, cluster: str) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    prefix = f'{name}{{cluster="{cluster}"}} '
    found = [line[len(prefix) :] for line in text.splitlines() if line.startswith(prefix)]
    return float(found[0]) if found else None


def _status(api: TestClient, headers: dict[str, str]) -> dict[str, dict[str, object]]:
    body = api.get("/api/v1/status", headers=headers).json()
    return {c["name"]: c for c in body["clusters"]}


def test_a_frozen_cluster_delays_only_its_own_sessions_and_converges_when_it_is_back(
    db: Database, database_url: str, sims: dict[str, Sim], tmp_path: Path
) -> None:
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    pool_file = _berth_pool_file(tmp_path, sims)
    with db.transaction() as tx:
        pools.sync(tx, load_pool_file(pool_file))
        users.create(tx, "watcher", "pw-watcher-long-enough", "admin", actor="test")
    cores = {
        n: client.CoreV1Api(config.new_client_from_config(config_file=str(s.kubeconfig)))
        for n, s in sims.items()
    }
    api = TestClient(create_app(Settings(data_dir=tmp_path), db))
    login = api.post(
        "/api/v1/auth/login", json={"username": "watcher", "password": "pw-watcher-long-enough"}
    )
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    port = _free_port()
    log = tmp_path / "reconciler.log"
    proc = _reconciler(pool_file, database_url, port, log)
    ids: dict[str, list[uuid.UUID]] = {}
    try:
        # some of the frozen cluster's sessions are booked before it stops, some while stopped
        before = rng.randint(1, 3)
        ids[FROZEN] = book_many(db, before, pool=f"p{FROZEN}", kind=KIND)
        for name in CLUSTERS:
            if name != FROZEN:
                ids[name] = book_many(db, rng.randint(3, 6), pool=f"p{name}", kind=KIND)
        _signal_apiserver(sims[FROZEN], signal.SIGSTOP)
        ids[FROZEN] += book_many(db, rng.randint(2, 4), pool=f"p{FROZEN}", kind=KIND)
        print({n: len(v) for n, v in ids.items()}, datetime.now(UTC).isoformat())

        # the two healthy clusters open every session while the third is still frozen
        for name in CLUSTERS:
            if name != FROZEN:
                eventually(
                    lambda n=name: assert_all_active_and_whole(db, cores[n], ids[n]),  # type: ignore[misc]
                    timeout=240,
                    interval=1.0,
                )

        def frozen_is_visible() -> None:
            seen = _status(api, headers)
            assert seen[FROZEN]["state"] == "failing", seen[FROZEN]
            assert "unavailable" in str(seen[FROZEN]["details"]), seen[FROZEN]
            assert seen[FROZEN]["pools"] == [f"p{FROZEN}"]
            waiting = sum(1 for s in statuses(db, ids[FROZEN]).values() if s != "ACTIVE")
            assert waiting > 0
            assert seen[FROZEN]["waiting"] == waiting, (seen[FROZEN], waiting)
            assert _metric(port, "berth_cluster_up", FROZEN) == 0.0
            for name in CLUSTERS:
                if name != FROZEN:
                    assert seen[name]["state"] == "running", seen[name]
                    assert _metric(port, "berth_cluster_up", name) == 1.0

        eventually(frozen_is_visible, timeout=120, interval=1.0)
        assert proc.poll() is None  # one process drives all three, the frozen one included

        _signal_apiserver(sims[FROZEN], signal.SIGCONT)
        eventually(
            lambda: assert_all_active_and_whole(db, cores[FROZEN], ids[FROZEN]),
            timeout=240,
            interval=1.0,
        )
        eventually(lambda: _assert_running(_status(api, headers)[FROZEN]), timeout=60, interval=1.0)

        every = [rid for group in ids.values() for rid in group]
        cancel_all(db, every)
        for name in CLUSTERS:
            eventually(
                lambda n=name: assert_nothing_left(db, cores[n], ids[n]),  # type: ignore[misc]
                timeout=240,
                interval=1.0,
            )
    except AssertionError:
        print(log.read_text()[-6000:])
        raise
    finally:
        _signal_apiserver(sims[FROZEN], signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        for core in cores.values():
            core.api_client.close()


def _assert_running(status: dict[str, object]) -> None:
    assert status["state"] == "running", status
    assert status["waiting"] == 0, status


def test_a_member_cluster_from_its_overlay_is_driven_through_its_service_account_token(
    db: Database, sims: dict[str, Sim], tmp_path: Path
) -> None:
    """docs/scale.md, "Adding a cluster": `deploy/overlays/member` applied to a cluster (here
    sim b, after the test above), the kubeconfig made from the token Secret it creates, the pool
    file naming it: a session opens as that ServiceAccount, under the install's admission
    policies, and is torn down when cancelled. (The sims die with this module, so the member's
    policies are left on b.)"""
    member = sims["b"]
    out = subprocess.run(
        [str(build.build_kustomize(on_line=print)), "build", str(DEPLOY / "overlays" / "member")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    objects = [d for d in yaml.safe_load_all(out) if d]
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"Deployment", "StatefulSet", "Ingress", "ConfigMap"}, kinds
    core = client.CoreV1Api(config.new_client_from_config(config_file=str(member.kubeconfig)))
    try:
        with KubeCluster.from_kubeconfig(str(member.kubeconfig)) as admin:
            for o in sorted(objects, key=lambda o: o["kind"] != "Namespace"):
                admin.apply([o], manager="kubectl")

        def token() -> str:
            secret = core.read_namespaced_secret("berth-reconciler-token", "berth-system")
            data = secret.data or {}
            assert data.get("token"), "no token yet"
            return base64.b64decode(data["token"]).decode()

        kubeconfig = tmp_path / "member.kubeconfig"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "member",
                    "clusters": [
                        {
                            "name": "member",
                            "cluster": {
                                "server": member.state.server,
                                "certificate-authority": str(
                                    Paths(member.state_dir).pki / "ca.crt"
                                ),
                            },
                        }
                    ],
                    "users": [{"name": "reconciler", "user": {"token": eventually(token)}}],
                    "contexts": [
                        {"name": "member", "context": {"cluster": "member", "user": "reconciler"}}
                    ],
                }
            )
        )
        pool_file = tmp_path / "pools.yaml"
        pool_file.write_text(
            f"clusters:\n  - {{name: b, kubeconfig: {kubeconfig.name}}}\npools:\n"
            + _pool("b", named=True)
        )
        layout = check_pool_layout(pool_file)
        with db.transaction() as tx:
            pools.sync(tx, layout.pools)
        found = connect(layout.clusters["b"], Settings(data_dir=tmp_path))
        assert found is not None
        rec = Reconciler(db, found.cluster, SessionConfig(), cluster_name="b")
        whoami = found.cluster.request(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "SelfSubjectReview",
            },
        )
        assert whoami["status"]["userInfo"]["username"] == (
            "system:serviceaccount:berth-system:berth-reconciler"
        )
        ids = book_many(db, 2, pool="pb", kind=KIND)

        def active() -> None:
            rec.cycle()
            assert_all_active_and_whole(db, core, ids)

        eventually(active, timeout=180, interval=1.0)
        cancel_all(db, ids)

        def gone() -> None:
            rec.cycle()
            assert_nothing_left(db, core, ids)

        eventually(gone, timeout=180, interval=1.0)
        found.cluster.close()
    finally:
        core.api_client.close()
