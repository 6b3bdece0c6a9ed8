"""The reconciler against the real control plane and the real database.

Time is a parameter of the reconciler, so a test moves the clock past a window's end instead
of waiting for it; everything Kubernetes does (admission, scheduling, namespace deletion) is
real.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kube_manifests import GPU, MIG, assert_gone, pod
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from prometheus_client import REGISTRY
from sqlalchemy import text

from berth.domain.policy import BookingPolicy
from berth.domain.reservation import Mode, Request
from berth.domain.session import SessionConfig, namespace_name
from berth.kube.adapter import KubeCluster
from berth.kube.cluster import Manifest
from berth.kube.errors import Transient
from berth.reconciler.loop import Cadence, Reconciler
from berth.reconciler.plan import Limits, Refence
from berth.store import heartbeats, reservations, sessions, users
from berth.store.db import Database
from berth.store.leader import Leadership

# Every test gets the cluster fixture, which removes its sessions afterwards.
pytestmark = [pytest.mark.kube, pytest.mark.usefixtures("kube")]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_reconciler(
    db: Database, cluster: Any, clock: Clock, cadence: Cadence | None = None
) -> Reconciler:
    return Reconciler(
        db, cluster, SessionConfig(), limits=Limits(max_attempts=3), cadence=cadence, clock=clock
    )


def book(
    db: Database,
    clock: Clock,
    kind: str = "mig-1g.24gb",
    count: int = 1,
    mode: Mode = Mode.INTERACTIVE,
) -> uuid.UUID:
    with db.transaction() as tx:
        try:
            who = users.principal(users.get(tx, "alice"))
        except Exception:
            who = users.principal(users.create(tx, "alice", "pw-alice-long", "user", actor="t"))
    end = (clock.now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    req = Request("c845a", clock.now, end, kind, count, mode, 2000, 8 * 2**30)
    with db.transaction() as tx:
        return reservations.book(tx, who, req, BookingPolicy(), clock.now).id


def status_of(db: Database, rid: uuid.UUID) -> str:
    with db.transaction() as tx:
        return str(
            tx.execute(text("SELECT status FROM reservations WHERE id = :i"), {"i": rid}).scalar()
        )


def converge(
    rec: Reconciler, db: Database, rid: uuid.UUID, want: str, eventually: Callable[..., Any]
) -> None:
    def check() -> None:
        rec.cycle()
        assert status_of(db, rid) == want

    eventually(check, timeout=90, interval=0.5)


def messages(db: Database, rid: uuid.UUID) -> list[tuple[str, list[str]]]:
    """The notifications recorded about `rid`: (kind, actions), oldest first."""
    with db.transaction() as tx:
        rows = tx.execute(
            text("SELECT kind, actions FROM notifications WHERE reservation_id = :i ORDER BY id"),
            {"i": rid},
        )
        return [(kind, list(actions)) for kind, actions in rows]


def test_open_window_becomes_active_with_every_object_then_completes(
    db: Database,
    kube: KubeCluster,
    core: client.CoreV1Api,
    api: client.ApiClient,
    clock: Clock,
    eventually: Callable[..., Any],
) -> None:
    rid = book(db, clock, count=2)
    rec = make_reconciler(db, kube, clock)
    converge(rec, db, rid, "ACTIVE", eventually)
    ns = namespace_name(rid)
    assert messages(db, rid) == [("ready", ["open"])]  # recorded with the phase change, once

    labels = core.read_namespace(ns).metadata.labels
    assert labels["app.kubernetes.io/managed-by"] == "berth"
    assert labels["berth.io/reservation"] == str(rid)
    quota = core.read_namespaced_resource_quota("berth-quota", ns)
    assert quota.spec.hard[f"requests.{MIG}"] == "4"  # 2 slices x 2 replicas
    assert quota.spec.hard[f"requests.{GPU}"] == "0"
    assert core.read_namespaced_limit_range("berth-defaults", ns)
    assert core.read_namespaced_config_map("berth-proxy", ns)
    assert core.read_namespaced_service_account("workspace", ns)
    assert {p.metadata.name for p in core.list_namespaced_persistent_volume_claim(ns).items} == {
        "workspace",  # the disk
        "artifacts",
    }
    assert client.NetworkingV1Api(api).list_namespaced_network_policy(ns).items
    assert (
        client.AppsV1Api(api).read_namespaced_deployment("workspace", ns).status.available_replicas
        == 1
    )

    with db.transaction() as tx:
        ws = sessions.workspace(tx, rid)
        (beat,) = heartbeats.all_beats(tx)
    assert ws is not None
    assert ws.url == f"https://{ns}.berth.localhost/"
    assert beat.component == "reconciler"
    assert beat.details["sessions"] == {"ready": 1}

    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(
            ns, pod("whole-gpu", {GPU: "1", "cpu": "100m", "memory": "128Mi"})
        )
    assert refused.value.status == 403
    assert "exceeded quota" in refused.value.body

    clock.now += timedelta(hours=3)
    rec.cycle()
    assert status_of(db, rid) == "COMPLETED"
    eventually(lambda: assert_gone(lambda: core.read_namespace(ns), ns), timeout=90)
    rec.cycle()
    with db.transaction() as tx:
        gone = sessions.workspace(tx, rid)
    assert gone is not None
    assert gone.phase == "gone"
    assert messages(db, rid) == [("ready", ["open"])]  # the window's end sends none


def test_canceled_session_is_torn_down(
    db: Database,
    kube: KubeCluster,
    core: client.CoreV1Api,
    clock: Clock,
    eventually: Callable[..., Any],
) -> None:
    rid = book(db, clock)
    rec = make_reconciler(db, kube, clock)
    converge(rec, db, rid, "ACTIVE", eventually)
    with db.transaction() as tx:
        reservations.cancel(tx, users.principal(users.get(tx, "alice")), rid, clock.now)
    rec.cycle()
    ns = namespace_name(rid)
    eventually(lambda: assert_gone(lambda: core.read_namespace(ns), ns), timeout=90)


@pytest.mark.parametrize(("mode", "gpu_limit"), [(Mode.INTERACTIVE, "1"), (Mode.INFERENCE, None)])
def test_modes_give_the_workspace_a_slot_or_none(
    db: Database,
    kube: KubeCluster,
    api: client.ApiClient,
    clock: Clock,
    eventually: Callable[..., Any],
    mode: Mode,
    gpu_limit: str | None,
) -> None:
    rid = book(db, clock, kind="gpu", mode=mode)
    converge(make_reconciler(db, kube, clock), db, rid, "ACTIVE", eventually)
    dep = client.AppsV1Api(api).read_namespaced_deployment("workspace", namespace_name(rid))
    limits = dep.spec.template.spec.containers[0].resources.limits
    assert limits.get(GPU) == gpu_limit
    with db.transaction() as tx:
        reservations.cancel(tx, users.principal(users.get(tx, "alice")), rid, clock.now)
    make_reconciler(db, kube, clock).cycle()


class Crash(BaseException):
    """The process dies: not an error the reconciler handles."""


class CrashAfter:
    """A cluster that dies after `n` successful applies (a kill between provisioning phases)."""

    def __init__(self, real: KubeCluster, n: int) -> None:
        self.real, self.left = real, n

    def apply_together(self, objects: Sequence[Manifest]) -> None:
        if self.left == 0:
            self.real.apply_together(objects[: len(objects) // 2])  # dies halfway through
            raise Crash()
        self.left -= 1
        self.real.apply_together(objects)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_killed_between_any_two_steps_converges_without_orphans_or_duplicates(
    db: Database,
    kube: KubeCluster,
    core: client.CoreV1Api,
    clock: Clock,
    eventually: Callable[..., Any],
) -> None:
    from berth.kube.manifests import STEP_NAMES, session_phases

    phases = session_phases([(name, []) for name in STEP_NAMES])
    rid = book(db, clock)
    for done in range(1, len(phases)):  # die after each phase but the last
        with pytest.raises(Crash):
            make_reconciler(db, CrashAfter(kube, done), clock).cycle()
        with db.transaction() as tx:
            ws = sessions.workspace(tx, rid)
        assert ws is not None
        assert ws.step == phases[done - 1][-1][0]
    converge(make_reconciler(db, kube, clock), db, rid, "ACTIVE", eventually)
    managed = core.list_namespace(label_selector=f"berth.io/reservation={rid}").items
    assert [n.metadata.name for n in managed] == [namespace_name(rid)]
    with db.transaction() as tx:
        assert (
            tx.execute(
                text("SELECT count(*) FROM sessions WHERE reservation_id = :i"), {"i": rid}
            ).scalar()
            == 1
        )
        reservations.cancel(tx, users.principal(users.get(tx, "alice")), rid, clock.now)
    make_reconciler(db, kube, clock).cycle()


class HoldApplies:
    """A session whose applies wait until `go` is set: slow to provision, beside a fast one."""

    def __init__(self, real: KubeCluster, held: str) -> None:
        self.real, self.held, self.go = real, held, threading.Event()

    def apply_together(self, objects: Sequence[Manifest]) -> None:
        meta = objects[0]["metadata"]
        if meta.get("namespace", meta["name"]) == self.held:
            assert self.go.wait(120), "the held session was never let go"
        self.real.apply_together(objects)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_workspace_that_is_up_is_active_while_the_cycle_still_provisions_others(
    db: Database, kube: KubeCluster, clock: Clock, eventually: Callable[..., Any]
) -> None:
    """A hundred windows opening together make a cycle of many seconds. A session applied
    early in it is checked while the others are still being provisioned, and becomes ACTIVE
    as soon as its workspace is up: not after the cycle's last session."""
    fast, slow = book(db, clock), book(db, clock)
    cluster = HoldApplies(kube, namespace_name(slow))
    cadence = Cadence(ready_poll=timedelta(seconds=0.5))
    rec = make_reconciler(db, cluster, clock, cadence)
    failed: list[BaseException] = []

    def run_cycle() -> None:
        try:
            rec.cycle()
        except BaseException as exc:  # shown below, not lost in the thread
            failed.append(exc)

    cycle = threading.Thread(target=run_cycle)
    cycle.start()
    try:

        def fast_is_active() -> None:
            assert status_of(db, fast) == "ACTIVE"

        eventually(fast_is_active, timeout=90, interval=0.5)
        assert cycle.is_alive(), "the cycle ended: the slow session was not held"
        assert status_of(db, slow) == "APPROVED"
    finally:
        cluster.go.set()
        cycle.join(120)
    assert not failed
    assert not cycle.is_alive()
    converge(make_reconciler(db, kube, clock), db, slow, "ACTIVE", eventually)
    with db.transaction() as tx:
        ws = sessions.workspace(tx, fast)
    assert ws is not None
    assert ws.url


class ApplyTo:
    """Reads from the real cluster, writes to another (a dead one: an outage mid-provisioning)."""

    def __init__(self, real: KubeCluster, writes: KubeCluster) -> None:
        self.real, self.writes = real, writes

    def apply_together(self, objects: Sequence[Manifest]) -> None:
        self.writes.apply_together(objects)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_an_unreachable_api_server_means_retries_not_failure(
    db: Database, kube: KubeCluster, clock: Clock, eventually: Callable[..., Any]
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    conf = client.Configuration()
    conf.host = f"https://127.0.0.1:{dead}"
    conf.verify_ssl = False
    down = KubeCluster(client.ApiClient(conf), timeout=(1, 1))
    rid = book(db, clock)
    try:
        for _ in range(5):  # more cycles than max_attempts, the whole API down
            with pytest.raises(Transient):
                make_reconciler(db, down, clock).cycle()
            clock.now += timedelta(minutes=1)
        for _ in range(5):  # the API goes away between the list and the writes
            with pytest.raises(Transient):
                make_reconciler(db, ApplyTo(kube, down), clock).cycle()
            clock.now += timedelta(minutes=1)
    finally:
        down.close()
    assert status_of(db, rid) == "APPROVED"
    with db.transaction() as tx:
        ws = sessions.workspace(tx, rid)
        assert ws is not None
        assert ws.attempts == 0
        assert ws.last_error is not None
        assert ws.last_error.startswith("cluster unavailable")
    converge(make_reconciler(db, kube, clock), db, rid, "ACTIVE", eventually)
    with db.transaction() as tx:
        reservations.cancel(tx, users.principal(users.get(tx, "alice")), rid, clock.now)
    make_reconciler(db, kube, clock).cycle()


def test_garbage_collection_removes_unowned_namespaces_and_leftovers(
    db: Database,
    kube: KubeCluster,
    core: client.CoreV1Api,
    api: client.ApiClient,
    clock: Clock,
    eventually: Callable[..., Any],
) -> None:
    stray = f"berth-{uuid.uuid4().hex[:12]}"
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(
                name=stray, labels={"app.kubernetes.io/managed-by": "berth"}
            )
        )
    )
    rbac = client.RbacAuthorizationV1Api(api)
    role = f"berth-leftover-{uuid.uuid4().hex[:6]}"
    rbac.create_cluster_role(
        client.V1ClusterRole(
            metadata=client.V1ObjectMeta(
                name=role,
                labels={
                    "app.kubernetes.io/managed-by": "berth",
                    "berth.io/reservation": str(uuid.uuid4()),
                },
            ),
            rules=[],
        )
    )
    make_reconciler(db, kube, clock).cycle(gc=True)
    eventually(lambda: assert_gone(lambda: core.read_namespace(stray), stray), timeout=90)
    assert_gone(lambda: rbac.read_cluster_role(role), role)


def test_a_second_reconciler_stands_by(db: Database, eventually: Callable[..., Any]) -> None:
    first, second = Leadership(db.engine), Leadership(db.engine)
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        assert first.still_leader()
        first.close()  # the server releases the lock when the backend exits, a moment later

        def takes_over() -> None:
            assert second.try_acquire()

        eventually(takes_over, timeout=10)
    finally:
        first.close()
        second.close()


def test_a_booking_wakes_the_running_reconciler_at_once(
    db: Database, kube: KubeCluster, eventually: Callable[..., Any]
) -> None:
    """The loop sleeps for its full interval unless NOTIFY (sent by the booking) wakes it."""
    import threading

    from berth.reconciler.loop import Cadence

    rec = Reconciler(db, kube, SessionConfig(), cadence=Cadence(interval=timedelta(hours=1)))
    stop = threading.Event()
    runner = threading.Thread(target=rec.run, args=(stop,))
    runner.start()
    try:
        eventually(lambda: _assert_leader(), timeout=30)
        rid = book(db, Clock())  # a window from now: the reconciler must not wait an hour
        eventually(lambda: _assert_status(db, rid, "ACTIVE"), timeout=60, interval=0.5)
        with db.transaction() as tx:
            reservations.cancel(tx, users.principal(users.get(tx, "alice")), rid, datetime.now(UTC))
        eventually(lambda: _assert_phase(db, rid, "tearing_down"), timeout=60, interval=0.5)
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive()


def _assert_leader() -> None:
    from berth.reconciler import metrics

    assert metrics.LEADER.labels("default")._value.get() == 1


def _assert_status(db: Database, rid: uuid.UUID, want: str) -> None:
    assert status_of(db, rid) == want


def _assert_phase(db: Database, rid: uuid.UUID, want: str) -> None:
    with db.transaction() as tx:
        ws = sessions.workspace(tx, rid)
    assert ws is not None
    assert ws.phase == want


def _drift_repairs(kind: str) -> float:
    labels = {"cluster": "default", "kind": kind}
    return REGISTRY.get_sample_value("berth_drift_repairs_total", labels) or 0.0


def test_a_fence_changed_behind_berths_back_is_put_back_on_the_sessions_turn(
    db: Database,
    kube: KubeCluster,
    core: client.CoreV1Api,
    clock: Clock,
    eventually: Callable[..., Any],
) -> None:
    """The tenant cannot touch the quota or the network policies any more (test_guardrails.py);
    a cluster admin still can, and drift repair puts Berth's objects back."""
    rid = book(db, clock)
    every = timedelta(minutes=1)
    rec = make_reconciler(db, kube, clock, Cadence(drift_interval=every))
    converge(rec, db, rid, "ACTIVE", eventually)
    ns = namespace_name(rid)
    rec.cycle()  # the clock stands still: no session's turn comes
    networking = client.NetworkingV1Api(core.api_client)
    core.patch_namespaced_resource_quota(
        "berth-quota", ns, {"spec": {"hard": {f"requests.{GPU}": "4"}}}
    )
    networking.delete_namespaced_network_policy("berth-egress", ns)
    before = {k: _drift_repairs(k) for k in ("ResourceQuota", "NetworkPolicy", "Secret")}

    clock.now += every  # the session's turn falls within the next interval
    actions = rec.cycle().actions
    assert Refence(rid, ns) in actions

    assert (
        core.read_namespaced_resource_quota("berth-quota", ns).spec.hard[f"requests.{GPU}"] == "0"
    )
    assert networking.read_namespaced_network_policy("berth-egress", ns)
    assert _drift_repairs("ResourceQuota") == before["ResourceQuota"] + 1
    assert _drift_repairs("NetworkPolicy") == before["NetworkPolicy"] + 1
    assert _drift_repairs("Secret") == before["Secret"]  # untouched objects do not count
    with db.transaction() as tx:
        details = tx.execute(
            text("SELECT details FROM audit_log WHERE action = 'session.drift'")
        ).scalar_one()
    assert sorted(details["objects"]) == ["NetworkPolicy/berth-egress", "ResourceQuota/berth-quota"]

    clock.now += every  # the next turn finds nothing changed
    assert Refence(rid, ns) in rec.cycle().actions
    assert _drift_repairs("ResourceQuota") == before["ResourceQuota"] + 1
    assert _drift_repairs("NetworkPolicy") == before["NetworkPolicy"] + 1
