"""Idle reclaim end to end on the sim: a real reconciler provisions sessions, a real Prometheus
scrapes the stand-in DCGM exporter (tests/dcgm_standin.py) serving the sessions' real pods with
scripted activity, and the reconciler warns, keeps, releases and deletes.

Each seeded round opens five sessions at once (every MIG slice and the whole GPU of the pool)
and deals them roles at random, with random activity levels:

- idle: opened, its GPU under the noise floor -> warned -> no answer -> COMPLETED `idle`,
  namespace gone;
- busy (two of them): activity above the floor -> never warned, stays ACTIVE;
- kept: opened and idle -> warned -> the owner keeps it -> stays ACTIVE through the keep
  window, then is warned again once the keep ran out;
- no-show: never opened, its GPU idle -> warned -> COMPLETED `no-show`, namespace gone.

The policy's minutes are fractions (seconds), so a round takes well under a minute; nothing
asserts a duration, only the order of events.
"""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes import client
from sqlalchemy import select
from tests.dcgm_standin import StandInDcgmExporter

from berth.config import load_pool_file
from berth.domain.idle import IdlePolicy
from berth.domain.policy import BookingPolicy
from berth.domain.reservation import Mode, Request
from berth.domain.session import SessionConfig, namespace_name
from berth.kube.adapter import KubeCluster
from berth.reconciler.activity import ActivityCollector
from berth.reconciler.loop import Reconciler
from berth.reconciler.plan import Limits
from berth.reconciler.prometheus import Prometheus
from berth.store import idle, pools, reservations, users
from berth.store.db import Database
from berth.store.errors import NotFound
from berth.store.models import AuditEntry, Reservation, SessionActivity, SessionIdle

pytestmark = [pytest.mark.kube]

POLICY = IdlePolicy(
    threshold=0.01, idle_minutes=0.1, answer_minutes=0.1, keep_minutes=0.2, no_show_minutes=0.1
)
INTERVAL = timedelta(seconds=2)
ROLES = ["idle", "busy", "busy", "kept", "no-show"]
KINDS = ["mig-1g.24gb"] * 4 + ["gpu"]
FLOOR = POLICY.threshold


def _with_policy(db: Database) -> None:
    (pool,) = load_pool_file()
    with db.transaction() as tx:
        pools.sync(tx, [dataclasses.replace(pool, idle={"gpu": POLICY, "mig-1g.24gb": POLICY})])


def _user(db: Database, name: str) -> users.Principal:
    with db.transaction() as tx:
        try:
            return users.principal(users.get(tx, name))
        except NotFound:
            return users.principal(
                users.create(tx, name, f"pw-{name}-long-enough", "user", actor="t")
            )


def _book(db: Database, who: users.Principal, kind: str) -> uuid.UUID:
    now = datetime.now(UTC)
    end = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    req = Request("c845a", now, end, kind, 1, Mode.INTERACTIVE, 2000, 8 * 2**30)
    with db.transaction() as tx:
        return reservations.book(tx, who, req, BookingPolicy(), now).id


def _state(db: Database, rid: uuid.UUID) -> tuple[str, str | None, SessionIdle | None]:
    with db.transaction() as tx:
        r = tx.get(Reservation, rid)
        assert r is not None
        found = tx.get(SessionIdle, rid)
        tx.expunge_all()
        return r.status, r.reason, found


class Driver:
    """Cycles the reconciler (with its collector) until a condition holds, or fails naming it."""

    def __init__(self, rec: Reconciler) -> None:
        self.rec = rec

    def until(self, what: str, check: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, f"not reached within {timeout} s: {what}"
            self.rec.cycle()
            time.sleep(0.3)


def _round(
    seed: int,
    db: Database,
    kube: KubeCluster,
    core: client.CoreV1Api,
    standin: StandInDcgmExporter,
    driver: Driver,
) -> None:
    rng = random.Random(seed)
    roles = ROLES[:]
    rng.shuffle(roles)
    people = [_user(db, "alice"), _user(db, "bob")]  # four live bookings each at most
    owners = {_book(db, people[i % 2], kind): people[i % 2] for i, kind in enumerate(KINDS)}
    booked = dict(zip(owners, roles, strict=True))
    by_role: dict[str, list[uuid.UUID]] = {}
    for rid, role in booked.items():
        by_role.setdefault(role, []).append(rid)
        level = rng.uniform(0.05, 1.0) if role == "busy" else rng.uniform(0.0, FLOOR)
        standin.script(namespace_name(rid), level)

    def active_and_opened() -> bool:
        """Every session ACTIVE; the idle and kept ones opened by their owner as soon as they
        are (the no-show ones never)."""
        with db.transaction() as tx:
            for rid in [*by_role["idle"], *by_role["kept"]]:
                row = tx.get(Reservation, rid)
                assert row is not None
                idle.opened(tx, owners[rid], row, datetime.now(UTC))
        return all(_state(db, r)[0] == "ACTIVE" for r in booked)

    driver.until("every session ACTIVE", active_and_opened)

    (kept,) = by_role["kept"]
    driver.until("the kept one warned", lambda: _warned(db, kept))
    keep_from = datetime.now(UTC)
    with db.transaction() as tx:
        idle.keep(tx, owners[kept], kept, keep_from, None)

    (idle_one,), (no_show,) = by_role["idle"], by_role["no-show"]
    driver.until(
        "the idle and the no-show released",
        lambda: _state(db, idle_one)[0] == "COMPLETED" and _state(db, no_show)[0] == "COMPLETED",
    )
    assert _state(db, idle_one)[:2] == ("COMPLETED", "idle"), _trail(db, idle_one)
    assert _state(db, no_show)[:2] == ("COMPLETED", "no-show"), _trail(db, no_show)
    # warned first, released after: the audit log holds both, in that order
    for rid, reason in ((idle_one, "idle"), (no_show, "no-show")):
        assert _audit(db, rid) == [
            ("reservation.idle_warning", reason),
            ("reservation.idle_release", reason),
        ]
    for rid in (idle_one, no_show):
        driver.until(f"namespace of {rid} gone", lambda r=rid: _gone(core, namespace_name(r)))
    with db.transaction() as tx:
        keep_until = tx.get(SessionIdle, kept).keep_until  # type: ignore[union-attr]
    assert keep_until == keep_from + POLICY.keep
    for rid in by_role["busy"]:
        status, _, state = _state(db, rid)
        assert status == "ACTIVE"
        assert state is None or state.warned_at is None
        assert _audit(db, rid) == []
    # the keep runs out: idle again for the policy's minutes, it is warned again
    driver.until("the kept one warned after its keep", lambda: _warned(db, kept))
    assert _state(db, kept)[0] == "ACTIVE"  # it stayed through the keep window
    with db.transaction() as tx:
        warned_at = tx.get(SessionIdle, kept).warned_at  # type: ignore[union-attr]
    assert warned_at is not None
    assert warned_at >= keep_until  # never warned inside the keep window
    assert _audit(db, kept) == [("reservation.idle_warning", "idle")] * 2  # never released
    with db.transaction() as tx:
        for rid in booked:
            if _state(db, rid)[0] == "ACTIVE":
                reservations.cancel(tx, owners[rid], rid, datetime.now(UTC))
    driver.until(
        "the round's namespaces gone",
        lambda: all(_gone(core, namespace_name(r)) for r in booked),
        timeout=90,
    )


def _trail(db: Database, rid: uuid.UUID) -> list[tuple[Any, ...]]:
    """Everything audited of a reservation and its measured samples, for a failure's message."""
    with db.transaction() as tx:
        audited = [
            (e.at.isoformat(), e.action, e.details)
            for e in tx.scalars(select(AuditEntry).where(AuditEntry.target == f"reservation:{rid}"))
        ]
        samples = [
            (a.at.isoformat(), a.gpu_active, a.tokens_prompt)
            for a in tx.scalars(
                select(SessionActivity)
                .where(SessionActivity.reservation_id == rid)
                .order_by(SessionActivity.at)
            )
        ]
    return [*audited, *samples]


def _warned(db: Database, rid: uuid.UUID) -> bool:
    state = _state(db, rid)[2]
    return state is not None and state.warned_at is not None


def _gone(core: client.CoreV1Api, ns: str) -> bool:
    return not core.list_namespace(field_selector=f"metadata.name={ns}").items


def _audit(db: Database, rid: uuid.UUID) -> list[tuple[str, Any]]:
    with db.transaction() as tx:
        q = (
            select(AuditEntry.action, AuditEntry.details)
            .where(
                AuditEntry.target == f"reservation:{rid}",
                AuditEntry.action.in_(["reservation.idle_warning", "reservation.idle_release"]),
            )
            .order_by(AuditEntry.id)
        )
        return [(a, d.get("reason") or d.get("why")) for a, d in tx.execute(q)]


@pytest.mark.parametrize("seed", [11, 23])
def test_idle_sessions_are_warned_kept_or_released_and_busy_ones_stay(
    seed: int,
    db: Database,
    kube: KubeCluster,
    core: client.CoreV1Api,
    sim_standin: StandInDcgmExporter,
    sim_prometheus: str,
) -> None:
    _with_policy(db)
    collector = ActivityCollector(db, Prometheus(sim_prometheus, timeout=2), INTERVAL)
    rec = Reconciler(db, kube, SessionConfig(), limits=Limits(max_attempts=3), activity=collector)
    try:
        _round(seed, db, kube, core, sim_standin, Driver(rec))
    finally:
        collector.join(10)
