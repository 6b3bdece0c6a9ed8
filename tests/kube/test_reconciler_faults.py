"""The reconciler under the faults an operator meets: many windows already open when it starts,
garbage collection in every cycle, the process killed at random moments, a workspace that can
never start, a node's cache agent down, and a cache volume deleted under its claim. Each ends
in a stated end state, checked on the real control plane and the real database, and every
randomized case runs several rounds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kubernetes import client
from sqlalchemy import text

from berth.config import load_pool_file
from berth.domain.policy import BookingPolicy
from berth.domain.reservation import Mode, Request
from berth.domain.session import SessionConfig, namespace_name
from berth.kube.adapter import KubeCluster
from berth.kube.provisioning import SELECTED_NODE
from berth.reconciler.loop import Reconciler
from berth.reconciler.plan import Limits
from berth.store import pools, reservations, sessions, users
from berth.store.db import Database
from conftest import Sim, eventually

pytestmark = [pytest.mark.kube, pytest.mark.usefixtures("kube")]  # sessions removed after each

FAULT_POOLS = Path(__file__).parent / "faults_pools.yaml"
SELECTOR = "app.kubernetes.io/managed-by=berth"
SESSIONS = 12
ROUNDS = 3


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fault_db(db: Database) -> Database:
    with db.transaction() as tx:
        pools.sync(tx, load_pool_file(FAULT_POOLS))
    return db


def book_many(
    db: Database, n: int, pool: str = "wide", kind: str = "mig-1g.24gb"
) -> list[uuid.UUID]:
    """`n` one-unit inference reservations whose window is open now (booked by an admin, whom
    the per-user limit does not restrict)."""
    now = datetime.now(UTC)
    end = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    with db.transaction() as tx:
        who = users.principal(
            users.create(tx, f"ops-{uuid.uuid4().hex[:6]}", "pw-ops-long-1", "admin", actor="t")
        )
    ids = []
    for _ in range(n):
        req = Request(pool, now, end, kind, 1, Mode.INFERENCE, 500, 2**30)
        with db.transaction() as tx:
            ids.append(reservations.book(tx, who, req, BookingPolicy(), now).id)
    return ids


def statuses(db: Database, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    with db.transaction() as tx:
        rows = tx.execute(
            text("SELECT id, status FROM reservations WHERE id = ANY(:ids)"), {"ids": ids}
        )
        return {rid: status for rid, status in rows}


def phases(db: Database, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    with db.transaction() as tx:
        rows = tx.execute(
            text("SELECT reservation_id, phase FROM sessions WHERE reservation_id = ANY(:ids)"),
            {"ids": ids},
        )
        return {rid: phase for rid, phase in rows}


def assert_all_active_and_whole(db: Database, core: client.CoreV1Api, ids: list[uuid.UUID]) -> None:
    """Every reservation ACTIVE, with exactly one namespace, one session row, and an artifact
    claim bound to a volume that exists and is not being deleted."""
    found = statuses(db, ids)
    assert found == {rid: "ACTIVE" for rid in ids}, found
    with db.transaction() as tx:
        rows = tx.execute(
            text(
                "SELECT reservation_id, count(*) FROM sessions "
                "WHERE reservation_id = ANY(:ids) GROUP BY reservation_id"
            ),
            {"ids": ids},
        )
        assert {rid: int(n) for rid, n in rows} == {rid: 1 for rid in ids}
    for rid in ids:
        named = core.list_namespace(label_selector=f"berth.io/reservation={rid}").items
        assert [n.metadata.name for n in named] == [namespace_name(rid)]
        ns = namespace_name(rid)
        claim = core.read_namespaced_persistent_volume_claim("artifacts", ns)
        assert claim.status.phase == "Bound", (ns, claim.status.phase)
        pv = core.read_persistent_volume(claim.spec.volume_name)
        assert pv.metadata.deletion_timestamp is None, f"{ns}: its artifact volume is being deleted"
        assert pv.spec.claim_ref.uid == claim.metadata.uid


def cancel_all(db: Database, ids: list[uuid.UUID]) -> None:
    now = datetime.now(UTC)
    with db.transaction() as tx:
        owner = tx.execute(
            text(
                "SELECT u.username FROM reservations r JOIN users u ON u.id = r.owner_id "
                "WHERE r.id = :i"
            ),
            {"i": ids[0]},
        ).scalar_one()
        who = users.principal(users.get(tx, owner))
        for rid in ids:
            reservations.cancel(tx, who, rid, now)


def assert_nothing_left(db: Database, core: client.CoreV1Api, ids: list[uuid.UUID]) -> None:
    assert phases(db, ids) == {rid: "gone" for rid in ids}
    wanted = {str(rid) for rid in ids}
    left = [
        n.metadata.name
        for n in core.list_namespace(label_selector=SELECTOR).items
        if n.metadata.labels.get("berth.io/reservation") in wanted
    ]
    namespaces = {namespace_name(rid) for rid in ids}
    left += [  # the cache agent's volumes (and any a pool's provisioner left)
        pv.metadata.name
        for pv in core.list_persistent_volume().items
        if pv.spec.claim_ref is not None and pv.spec.claim_ref.namespace in namespaces
    ]
    assert not left, left


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_many_open_windows_with_gc_in_every_cycle_all_become_active_then_leave_nothing(
    fault_db: Database, kube: KubeCluster, core: client.CoreV1Api, round_: int
) -> None:
    """The reported hang: GC used to read its keep-list before the cycle provisioned, then
    delete the artifact volumes the cycle had just made (older versions made them; GC still
    runs in every cycle here)."""
    rng = random.Random(round_)
    ids = book_many(fault_db, rng.randint(SESSIONS - 2, SESSIONS + 2))
    rec = Reconciler(fault_db, kube, SessionConfig(), limits=Limits(max_attempts=3))

    def all_active() -> None:
        rec.cycle(gc=True)
        assert_all_active_and_whole(fault_db, core, ids)

    eventually(all_active, timeout=240, interval=0.5)
    cancel_all(fault_db, ids)

    def all_gone() -> None:
        rec.cycle(gc=True)
        assert_nothing_left(fault_db, core, ids)

    eventually(all_gone, timeout=240, interval=1.0)


def _reconciler_process(sim: Sim, database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BERTH_DATABASE_URL": database_url,
        "BERTH_KUBECONFIG": str(sim.kubeconfig),
        "BERTH_RECONCILE_INTERVAL": "2",
    }
    berth = Path(sys.executable).with_name("berth")
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(berth), "reconcile", "--metrics-port", "0"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_reconciler_killed_at_random_moments_converges_and_cleans_up(
    fault_db: Database,
    database_url: str,
    sim: Sim,
    core: client.CoreV1Api,
    tmp_path: Path,
    round_: int,
) -> None:
    """`kill -9` of the real `berth reconcile` process while a dozen sessions provision (and
    while they are torn down); each restart starts with a GC cycle."""
    rng = random.Random(1000 + round_)
    ids = book_many(fault_db, SESSIONS)
    log = tmp_path / "reconciler.log"

    def kill_randomly(times: int) -> None:
        for _ in range(times):
            proc = _reconciler_process(sim, database_url, log)
            time.sleep(rng.uniform(1.0, 5.0))  # imports take ~1 s: some kills land before work
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

    kill_randomly(rng.randint(3, 6))
    proc = _reconciler_process(sim, database_url, log)
    try:
        eventually(
            lambda: assert_all_active_and_whole(fault_db, core, ids), timeout=240, interval=1.0
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        cancel_all(fault_db, ids)
        kill_randomly(2)
        proc = _reconciler_process(sim, database_url, log)
        eventually(lambda: assert_nothing_left(fault_db, core, ids), timeout=240, interval=1.0)
    except AssertionError:
        print(log.read_text()[-6000:])
        raise
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def _fail_past_the_budget(db: Database, rec: Reconciler, clock: Clock, rid: uuid.UUID) -> str:
    """Cycles, each past the wait's deadline, until the reservation FAILS; its reason."""

    def failed() -> None:
        clock.now += timedelta(seconds=31)
        rec.cycle()
        assert statuses(db, [rid]) == {rid: "FAILED"}

    eventually(failed, timeout=90)
    with db.transaction() as tx:
        reason: str = tx.execute(
            text("SELECT reason FROM reservations WHERE id = :i"), {"i": rid}
        ).scalar_one()
        told = tx.execute(
            text("SELECT kind, body FROM notifications WHERE reservation_id = :i"), {"i": rid}
        ).all()
    assert [kind for kind, _ in told] == ["failed"]  # recorded with the FAILED status, once
    assert reason in told[0][1]
    return reason


def test_a_workspace_that_never_starts_is_diagnosed_retried_then_failed_with_the_reason(
    fault_db: Database, kube: KubeCluster, core: client.CoreV1Api
) -> None:
    (rid,) = book_many(fault_db, 1, pool="ghost", kind="gpu")
    clock = Clock()
    limits = Limits(max_attempts=2, ready_timeout=timedelta(seconds=30))
    rec = Reconciler(fault_db, kube, SessionConfig(), limits=limits, clock=clock)
    ns = namespace_name(rid)
    rec.cycle()

    def unschedulable() -> None:
        (pod,) = core.list_namespaced_pod(ns).items
        scheduled = {c.type: c for c in pod.status.conditions or []}.get("PodScheduled")
        assert scheduled is not None
        assert scheduled.status == "False"

    eventually(unschedulable, timeout=60)
    with fault_db.transaction() as tx:
        waiting = sessions.workspace(tx, rid)
    assert waiting is not None
    assert waiting.step == "workspace-wait"
    assert waiting.next_attempt_at is not None  # the wait's deadline, shown to the owner

    def first_diagnosis() -> None:
        clock.now += timedelta(seconds=31)
        rec.cycle()
        with fault_db.transaction() as tx:
            row = sessions.workspace(tx, rid)
        assert row is not None
        assert row.attempts == 1

    eventually(first_diagnosis, timeout=30)
    with fault_db.transaction() as tx:
        row = sessions.workspace(tx, rid)
    assert row is not None
    assert row.last_error is not None
    assert "cannot be scheduled" in row.last_error
    assert "node affinity" in row.last_error or "didn't match" in row.last_error

    reason = _fail_past_the_budget(fault_db, rec, clock, rid)
    assert reason.startswith("gave up after 2 failed attempts: workspace not ready")
    assert "cannot be scheduled" in reason
    rec.cycle()
    eventually(lambda: _namespace_gone(core, ns), timeout=120)


def _namespace_gone(core: client.CoreV1Api, ns: str) -> None:
    names = [n.metadata.name for n in core.list_namespace(label_selector=SELECTOR).items]
    assert ns not in names


@contextmanager
def cache_agent_down(sim: Sim) -> Iterator[None]:
    """The sim's cache agent stopped (SIGSTOP), as on a node whose agent is down; resumed after."""
    pid = sim.state.pids["cache-agent"]
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _waits_for_the_cache_agent(core: client.CoreV1Api, ns: str) -> None:
    claim = core.read_namespaced_persistent_volume_claim("artifacts", ns)
    assert claim.status.phase == "Pending"
    assert SELECTED_NODE in (claim.metadata.annotations or {})  # scheduled: the agent's turn
    events = core.list_namespaced_event(
        ns, field_selector="involvedObject.kind=PersistentVolumeClaim,involvedObject.name=artifacts"
    ).items
    assert any(e.reason == "ExternalProvisioning" for e in events)  # the PV controller says so


def _diagnosis(db: Database, rid: uuid.UUID) -> str:
    with db.transaction() as tx:
        row = sessions.workspace(tx, rid)
    assert row is not None
    assert row.attempts >= 1
    assert row.last_error is not None
    return row.last_error


def _waiting_session(
    db: Database, kube: KubeCluster, core: client.CoreV1Api, max_attempts: int
) -> tuple[uuid.UUID, Clock, Reconciler]:
    """One session provisioned (with the agent down) whose claim waits for the agent."""
    (rid,) = book_many(db, 1)
    clock = Clock()
    limits = Limits(max_attempts=max_attempts, ready_timeout=timedelta(seconds=30))
    rec = Reconciler(db, kube, SessionConfig(), limits=limits, clock=clock)
    rec.cycle()
    eventually(lambda: _waits_for_the_cache_agent(core, namespace_name(rid)), timeout=60)
    return rid, clock, rec


def test_with_the_cache_agent_down_the_claim_is_unbound_diagnosed_and_binds_once_it_is_back(
    fault_db: Database, kube: KubeCluster, core: client.CoreV1Api, sim: Sim
) -> None:
    with cache_agent_down(sim):
        rid, clock, rec = _waiting_session(fault_db, kube, core, max_attempts=3)
        clock.now += timedelta(seconds=31)  # past the wait's deadline
        rec.cycle()
        diagnosed = _diagnosis(fault_db, rid)
        print(f"\ndiagnosed: {diagnosed}")
        assert "claim artifacts is unbound" in diagnosed
        assert "cache.berth.io/node-cache" in diagnosed  # the provisioning event: whom it awaits
    clock.now += timedelta(seconds=6)  # past the backoff: everything is applied again

    def active() -> None:
        rec.cycle()
        assert_all_active_and_whole(fault_db, core, [rid])

    eventually(active, timeout=120, interval=0.5)
    with fault_db.transaction() as tx:
        row = sessions.workspace(tx, rid)
    assert row is not None
    assert row.attempts == 1  # one diagnosed wait
    assert row.last_error is None  # cleared when ready


def test_with_the_cache_agent_down_past_the_budget_the_reservation_fails_with_the_reason(
    fault_db: Database, kube: KubeCluster, core: client.CoreV1Api, sim: Sim
) -> None:
    with cache_agent_down(sim):
        rid, clock, rec = _waiting_session(fault_db, kube, core, max_attempts=2)
        reason = _fail_past_the_budget(fault_db, rec, clock, rid)
    print(f"\nfailed: {reason}")
    assert reason.startswith("gave up after 2 failed attempts: workspace not ready")
    assert "claim artifacts is unbound" in reason


def test_a_claim_whose_cache_volume_was_deleted_gets_it_back_from_the_agent(
    fault_db: Database, kube: KubeCluster, core: client.CoreV1Api
) -> None:
    """An admin deletes a bound artifact volume (it waits on its pv-protection finalizer) and
    forces it: the claim is Lost, and the cache agent makes the volume again for the same
    claim uid; the reconciler has nothing to repair, and a new workspace pod mounts it."""
    (rid,) = book_many(fault_db, 1)
    rec = Reconciler(fault_db, kube, SessionConfig(), limits=Limits(max_attempts=3))
    ns = namespace_name(rid)

    def active() -> None:
        rec.cycle()
        assert_all_active_and_whole(fault_db, core, [rid])

    eventually(active, timeout=120, interval=0.5)
    volume = core.read_namespaced_persistent_volume_claim("artifacts", ns).spec.volume_name
    old_uid = core.read_persistent_volume(volume).metadata.uid
    core.delete_persistent_volume(volume)
    core.patch_persistent_volume(volume, [{"op": "remove", "path": "/metadata/finalizers"}])

    def restored() -> None:
        rec.cycle(gc=True)
        assert core.read_persistent_volume(volume).metadata.uid != old_uid
        assert_all_active_and_whole(fault_db, core, [rid])
        assert phases(fault_db, [rid]) == {rid: "ready"}

    eventually(restored, timeout=120, interval=1.0)
    core.delete_collection_namespaced_pod(ns, grace_period_seconds=0)

    def restarted() -> None:
        pods = [p for p in core.list_namespaced_pod(ns).items if not p.metadata.deletion_timestamp]
        assert pods
        assert all(p.status.phase == "Running" for p in pods), [p.status.phase for p in pods]

    eventually(restarted, timeout=120)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_session_the_healthy_cluster_keeps_refusing_with_5xx_fails_after_its_budget(
    fault_db: Database, kube: KubeCluster, api: client.ApiClient, core: client.CoreV1Api
) -> None:
    """A broken admission webhook for one namespace: the API server answers 500 to that
    session's writes while /readyz is fine. That session FAILS after the time budget with the
    server's message; its neighbour opens; no attempt is counted meanwhile."""
    broken, fine = book_many(fault_db, 2)
    hook = f"berth-test-broken-{uuid.uuid4().hex[:6]}"
    admission = client.AdmissionregistrationV1Api(api)
    admission.create_validating_webhook_configuration(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": hook},
            "webhooks": [
                {
                    "name": "broken.berth.test",
                    "clientConfig": {"url": f"https://127.0.0.1:{_closed_port()}/validate"},
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "resources": ["serviceaccounts"],
                            "operations": ["CREATE", "UPDATE"],
                        }
                    ],
                    "namespaceSelector": {"matchLabels": {"berth.io/reservation": str(broken)}},
                    "failurePolicy": "Fail",
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "timeoutSeconds": 2,
                }
            ],
        }
    )
    try:
        clock = Clock()
        limits = Limits(max_attempts=3, server_error_budget=timedelta(seconds=60))
        rec = Reconciler(fault_db, kube, SessionConfig(), limits=limits, clock=clock)

        def neighbour_active() -> None:
            rec.cycle()
            assert statuses(fault_db, [fine]) == {fine: "ACTIVE"}

        eventually(neighbour_active, timeout=120, interval=0.5)
        with fault_db.transaction() as tx:
            row = sessions.workspace(tx, broken)
        assert row is not None
        assert row.attempts == 0
        assert row.failing_since is not None
        assert row.last_error is not None
        print("last error:", row.last_error)
        assert "HTTP 500" in row.last_error
        assert "webhook" in row.last_error

        def failed() -> None:
            clock.now += timedelta(seconds=61)
            rec.cycle()
            assert statuses(fault_db, [broken]) == {broken: "FAILED"}

        eventually(failed, timeout=60, interval=0.5)
        with fault_db.transaction() as tx:
            reason = tx.execute(
                text("SELECT reason FROM reservations WHERE id = :i"), {"i": broken}
            ).scalar_one()
        print("reason:", reason)
        assert reason.startswith("the cluster failed this session's requests for ")
        assert statuses(fault_db, [fine]) == {fine: "ACTIVE"}
    finally:
        admission.delete_validating_webhook_configuration(hook)
