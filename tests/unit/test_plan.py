"""The reconciler's plan: a pure function of desired state, observed state and time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from berth.domain.reservation import Mode, Status
from berth.domain.session import SessionInput, namespace_name
from berth.kube.cluster import NamespaceInfo
from berth.reconciler.plan import (
    WAITING,
    CheckReady,
    DeleteOrphan,
    Fail,
    Finish,
    Limits,
    Provision,
    Recreate,
    Teardown,
    Unstick,
    garbage,
    plan,
)
from berth.store.sessions import SessionState, Work

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
LIMITS = Limits(
    max_attempts=3, ready_timeout=timedelta(minutes=10), stuck_after=timedelta(minutes=10)
)


def work(
    status: Status, start_h: float = -1, end_h: float = 2, session: SessionState | None = None
) -> Work:
    rid = uuid.uuid4()
    r = SessionInput(
        rid,
        "alice",
        "c845a",
        NOW + timedelta(hours=start_h),
        NOW + timedelta(hours=end_h),
        "gpu",
        1,
        Mode.INTERACTIVE,
        1000,
        2**30,
    )
    return Work(r, status, session)


def state(
    phase: str = "provisioning",
    step: str | None = None,
    attempts: int = 0,
    retry: datetime | None = None,
    updated: datetime = NOW,
) -> SessionState:
    return SessionState("ns", phase, step, attempts, retry, updated, NOW - timedelta(hours=1))


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


def test_waiting_for_the_workspace_checks_readiness_then_times_out() -> None:
    w = work(Status.APPROVED, session=state(step=WAITING, updated=NOW - timedelta(minutes=1)))
    assert plan([w], {w.namespace: ns(w.namespace)}, {}, NOW, LIMITS) == [CheckReady(w)]
    late = work(Status.APPROVED, session=state(step=WAITING, updated=NOW - timedelta(minutes=11)))
    assert plan([late], {late.namespace: ns(late.namespace)}, {}, NOW, LIMITS) == [Provision(late)]


def test_backoff_is_respected_and_attempts_are_bounded() -> None:
    waiting = work(Status.APPROVED, session=state(attempts=1, retry=NOW + timedelta(seconds=10)))
    assert plan([waiting], {}, {}, NOW, LIMITS) == []
    exhausted = work(Status.APPROVED, session=state(attempts=3))
    (action,) = plan([exhausted], {}, {}, NOW, LIMITS)
    assert isinstance(action, Fail)


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


def test_garbage_deletes_unowned_and_unsticks_long_terminating() -> None:
    owned = {"berth-aaa": uuid.uuid4()}
    observed = {
        "berth-aaa": ns("berth-aaa"),
        "berth-bbb": ns("berth-bbb"),
        "berth-ccc": ns("berth-ccc", "Terminating", NOW - timedelta(minutes=30)),
        "berth-ddd": ns("berth-ddd", "Terminating", NOW - timedelta(minutes=1)),
    }
    assert garbage(observed, owned, NOW, LIMITS) == [
        DeleteOrphan("berth-bbb"),
        Unstick("berth-ccc"),
    ]
