"""The reconciler's plan: a pure function of desired state, observed state and time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain.reservation import Mode, Reserved, Status
from berth.domain.session import LABEL_RESERVATION, SessionState, Work, namespace_name
from berth.kube.cluster import NamespaceInfo, ObjectRef
from berth.reconciler.plan import (
    WAITING,
    CheckReady,
    DeleteLeftover,
    DeleteOrphan,
    Diagnose,
    Fail,
    Finish,
    Limits,
    Provision,
    Recreate,
    Refence,
    Teardown,
    Unstick,
    drift_due,
    found_reservations,
    garbage,
    plan,
)

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
LIMITS = Limits(
    max_attempts=3, ready_timeout=timedelta(minutes=10), stuck_after=timedelta(minutes=10)
)


def work(
    status: Status, start_h: float = -1, end_h: float = 2, session: SessionState | None = None
) -> Work:
    rid = uuid.uuid4()
    r = Reserved(
        reservation_id=rid,
        owner="alice",
        pool="c845a",
        start=NOW + timedelta(hours=start_h),
        end=NOW + timedelta(hours=end_h),
        gpu_kind="gpu",
        gpu_count=1,
        mode=Mode.INTERACTIVE,
        cpu_millicores=1000,
        memory_bytes=2**30,
    )
    return Work(r, status, session)


def state(
    phase: str = "provisioning",
    step: str | None = None,
    attempts: int = 0,
    retry: datetime | None = None,
    updated: datetime = NOW,
    error: str | None = None,
    failing_since: datetime | None = None,
) -> SessionState:
    started = NOW - timedelta(hours=1)
    return SessionState("ns", phase, step, attempts, retry, updated, started, error, failing_since)


def ns(name: str, phase: str = "Active", since: datetime | None = None) -> NamespaceInfo:
    return NamespaceInfo(name, {}, phase, since)


def test_an_open_window_is_provisioned() -> None:
    w = work(Status.APPROVED)
    assert plan([w], {}, {}, NOW, LIMITS) == [Provision(w)]


def test_an_ended_active_session_is_torn_down_then_completed() -> None:
    w = work(Status.ACTIVE, -3, 0, state("ready", "ready"))
    assert plan([w], {w.namespace: ns(w.namespace)}, {}, NOW, LIMITS) == [
        Teardown(w.reservation.reservation_id, w.namespace, Status.COMPLETED, None)
    ]


def test_an_approved_window_that_passed_unprovisioned_fails_without_cluster_calls() -> None:
    w = work(Status.APPROVED, -3, -1)
    (action,) = plan([w], {}, {}, NOW, LIMITS)
    assert isinstance(action, Finish)
    assert action.final is Status.FAILED
    assert action.gone


def test_canceled_session_is_torn_down_and_marked_gone_once_the_namespace_is_absent() -> None:
    w = work(Status.CANCELED, session=state("ready"))
    assert plan([w], {w.namespace: ns(w.namespace)}, {}, NOW, LIMITS) == [
        Teardown(w.reservation.reservation_id, w.namespace, None, None)
    ]
    assert plan([w], {w.namespace: ns(w.namespace, "Terminating", NOW)}, {}, NOW, LIMITS) == []
    assert plan([w], {}, {}, NOW, LIMITS) == [
        Finish(w.reservation.reservation_id, None, None, gone=True)
    ]


def test_waiting_for_the_workspace_checks_readiness_until_its_deadline_then_diagnoses() -> None:
    deadline = NOW + timedelta(minutes=9)
    w = work(Status.APPROVED, session=state(step=WAITING, retry=deadline))
    assert plan([w], {w.namespace: ns(w.namespace)}, {}, NOW, LIMITS) == [CheckReady(w)]
    at = deadline
    assert plan([w], {w.namespace: ns(w.namespace)}, {}, at, LIMITS) == [Diagnose(w)]


def test_a_wait_recorded_without_a_deadline_ends_ready_timeout_after_it_began() -> None:
    w = work(Status.APPROVED, session=state(step=WAITING, updated=NOW - timedelta(minutes=1)))
    assert plan([w], {w.namespace: ns(w.namespace)}, {}, NOW, LIMITS) == [CheckReady(w)]
    late = work(Status.APPROVED, session=state(step=WAITING, updated=NOW - timedelta(minutes=11)))
    assert plan([late], {late.namespace: ns(late.namespace)}, {}, NOW, LIMITS) == [Diagnose(late)]


def test_a_diagnosed_session_backs_off_then_is_applied_again() -> None:
    retry = NOW + timedelta(seconds=5)
    w = work(Status.APPROVED, session=state(step=None, attempts=1, retry=retry))
    assert plan([w], {w.namespace: ns(w.namespace)}, {}, NOW, LIMITS) == []
    assert plan([w], {w.namespace: ns(w.namespace)}, {}, retry, LIMITS) == [Provision(w)]


def test_giving_up_names_the_last_diagnosis() -> None:
    why = "pod workspace-1 cannot be scheduled: 0/2 nodes are available"
    w = work(Status.APPROVED, session=state(attempts=3, error=why))
    (action,) = plan([w], {}, {}, NOW, LIMITS)
    assert isinstance(action, Fail)
    assert action.reason == f"gave up after 3 failed attempts: {why}"


def test_backoff_is_respected_and_attempts_are_bounded() -> None:
    waiting = work(Status.APPROVED, session=state(attempts=1, retry=NOW + timedelta(seconds=10)))
    assert plan([waiting], {}, {}, NOW, LIMITS) == []
    exhausted = work(Status.APPROVED, session=state(attempts=3))
    (action,) = plan([exhausted], {}, {}, NOW, LIMITS)
    assert isinstance(action, Fail)


def test_server_errors_of_one_session_fail_it_only_after_their_time_budget() -> None:
    limits = Limits(server_error_budget=timedelta(minutes=15))
    why = "the cluster answered: PATCH ...: HTTP 500: failed calling webhook"
    early = state(retry=NOW, error=why, failing_since=NOW - timedelta(minutes=14))
    w = work(Status.APPROVED, session=early)
    assert plan([w], {}, {}, NOW, limits) == [Provision(w)]  # retried, no attempt counted
    late = work(
        Status.APPROVED, session=state(error=why, failing_since=NOW - timedelta(minutes=15))
    )
    (action,) = plan([late], {}, {}, NOW, limits)
    assert action == Fail(
        late.reservation.reservation_id,
        f"the cluster failed this session's requests for 15 min: {why}",
    )


def test_a_vanished_active_namespace_is_recreated() -> None:
    rid = uuid.uuid4()
    name = namespace_name(rid)
    assert plan([], {}, {name: rid}, NOW, LIMITS) == [Recreate(rid)]
    assert plan([], {name: ns(name)}, {name: rid}, NOW, LIMITS) == []


def test_order_is_stop_then_repair_then_start() -> None:
    start = work(Status.APPROVED)
    stop = work(Status.CANCELED, session=state("ready"))
    fail = work(Status.APPROVED, session=state(attempts=3))
    actions = plan([start, stop, fail], {stop.namespace: ns(stop.namespace)}, {}, NOW, LIMITS)
    assert [type(a) for a in actions] == [Teardown, Fail, Provision]


def labelled(rid: uuid.UUID) -> dict[str, str]:
    return {LABEL_RESERVATION: str(rid)}


def legacy_volume_name(rid: uuid.UUID) -> str:
    """The name older versions gave a session's artifact PersistentVolume."""
    return f"{namespace_name(rid)}-artifacts"


def volume(rid: uuid.UUID) -> ObjectRef:
    """A Berth-labelled artifact volume left by an older version."""
    return ObjectRef("v1", "PersistentVolume", legacy_volume_name(rid), labels=labelled(rid))


def test_garbage_deletes_unkept_and_unsticks_long_terminating() -> None:
    kept, gone, stuck, going = (uuid.uuid4() for _ in range(4))
    observed = {
        namespace_name(kept): ns(namespace_name(kept)),
        namespace_name(gone): ns(namespace_name(gone)),
        namespace_name(stuck): ns(
            namespace_name(stuck), "Terminating", NOW - timedelta(minutes=30)
        ),
        namespace_name(going): ns(namespace_name(going), "Terminating", NOW - timedelta(minutes=1)),
    }
    assert set(garbage(observed, [], {kept}, NOW, LIMITS)) == {
        DeleteOrphan(namespace_name(gone)),
        Unstick(namespace_name(stuck)),
    }


def test_garbage_keeps_every_object_of_a_kept_reservation_and_deletes_the_rest() -> None:
    kept, gone = uuid.uuid4(), uuid.uuid4()
    unlabelled = ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", "x", labels={})
    scoped = [volume(kept), volume(gone), unlabelled]
    actions = garbage({}, scoped, {kept}, NOW, LIMITS)
    assert actions == [DeleteLeftover(unlabelled), DeleteLeftover(volume(gone))]


def test_found_reservations_reads_the_labels_of_namespaces_and_cluster_scoped_objects() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    observed = {"berth-x": NamespaceInfo("berth-x", labelled(a), "Active")}
    bad = ObjectRef("v1", "PersistentVolume", "y", labels={LABEL_RESERVATION: "not-a-uuid"})
    assert found_reservations(observed, [volume(b), bad]) == {a, b}


def test_a_ready_session_without_a_berth_volume_is_left_alone() -> None:
    """The artifact cache's volume is the cache agent's, not Berth-labelled: a ready session
    with nothing cluster-scoped is whole, and the sweep repairs nothing."""
    rid = uuid.uuid4()
    name = namespace_name(rid)
    assert garbage({name: ns(name)}, [], {rid}, NOW, LIMITS) == []


def test_an_upgrade_sweeps_the_artifact_volumes_of_older_versions_once_their_session_ends() -> None:
    ended, running = uuid.uuid4(), uuid.uuid4()
    scoped = [volume(ended), volume(running)]
    assert garbage({}, scoped, {running}, NOW, LIMITS) == [DeleteLeftover(volume(ended))]


@settings(max_examples=300, deadline=None)
@given(
    kept=st.sets(st.uuids(), max_size=8),
    others=st.sets(st.uuids(), max_size=8),
)
def test_garbage_never_touches_a_kept_reservation(
    kept: set[uuid.UUID], others: set[uuid.UUID]
) -> None:
    """Whatever mix of objects is found, nothing of a kept reservation is deleted."""
    everything = kept | others
    observed = {
        namespace_name(r): NamespaceInfo(namespace_name(r), labelled(r), "Active")
        for r in everything
    }
    scoped = [volume(r) for r in everything]
    actions = garbage(observed, scoped, kept, NOW, LIMITS)
    deleted_ns = {a.namespace for a in actions if isinstance(a, DeleteOrphan)}
    deleted_refs = {a.ref.name for a in actions if isinstance(a, DeleteLeftover)}
    assert deleted_ns == {namespace_name(r) for r in others - kept}
    assert deleted_refs == {legacy_volume_name(r) for r in others - kept}


# -- drift repair ----------------------------------------------------------------------------

EVERY = timedelta(minutes=30)


def active_sessions(n: int) -> tuple[dict[str, uuid.UUID], dict[str, NamespaceInfo]]:
    ready = {
        namespace_name(rid): rid
        for rid in (uuid.uuid5(uuid.NAMESPACE_DNS, str(i)) for i in range(n))
    }
    observed = {ns: NamespaceInfo(ns, {}, "Active") for ns in ready}
    return ready, observed


def test_every_active_session_is_refenced_once_per_interval_spread_over_the_cycles() -> None:
    ready, observed = active_sessions(1000)
    cycle = timedelta(seconds=30)
    counts: dict[uuid.UUID, int] = {}
    per_cycle = []
    at = NOW
    while at < NOW + EVERY:
        due = drift_due(ready, observed, set(), at, at + cycle, EVERY)
        assert all(isinstance(a, Refence) for a in due)
        per_cycle.append(len(due))
        for a in due:
            assert isinstance(a, Refence)
            assert ready[a.namespace] == a.reservation_id
            counts[a.reservation_id] = counts.get(a.reservation_id, 0) + 1
        at += cycle
    assert counts == {rid: 1 for rid in ready.values()}  # each exactly once per interval
    assert len(per_cycle) == 60
    assert max(per_cycle) <= 2 * 1000 / 60  # spread: no cycle takes everything


def test_refence_turns_do_not_depend_on_how_time_is_cut_into_cycles() -> None:
    ready, observed = active_sessions(50)
    one_go = drift_due(ready, observed, set(), NOW, NOW + EVERY / 3, EVERY)
    step = EVERY / 30
    in_steps = [
        a
        for k in range(10)
        for a in drift_due(ready, observed, set(), NOW + k * step, NOW + (k + 1) * step, EVERY)
    ]
    assert sorted(map(str, one_go)) == sorted(map(str, in_steps))


def test_nothing_is_due_on_a_first_cycle_a_disabled_interval_or_a_busy_session() -> None:
    ready, observed = active_sessions(100)
    assert drift_due(ready, observed, set(), NOW, NOW, EVERY) == []  # first cycle: since == now
    assert drift_due(ready, observed, set(), NOW, NOW + EVERY, timedelta(0)) == []
    everyone = drift_due(ready, observed, set(), NOW, NOW + EVERY, EVERY)
    assert len(everyone) == 100
    busy = {rid for rid in list(ready.values())[:10]}
    gone = list(ready)[10]
    terminating = list(ready)[11]
    seen = {ns: info for ns, info in observed.items() if ns != gone}
    seen[terminating] = NamespaceInfo(terminating, {}, "Terminating")
    left = drift_due(ready, seen, busy, NOW, NOW + EVERY, EVERY)
    assert len(left) == 88
    assert {a.namespace for a in left if isinstance(a, Refence)}.isdisjoint({gone, terminating})
