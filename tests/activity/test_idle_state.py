"""The idle state's writes decide on the locked rows: a decision made on a read the owner has
answered since (kept, opened) changes nothing."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

from berth.config import load_pool_file
from berth.domain.idle import IdlePolicy, Reason
from berth.reconciler.activity import ActivityCollector
from berth.store import activity, idle, notifications, pools, users
from berth.store.db import Database
from berth.store.models import Reservation, SessionRow
from tests.activity.conftest import ready_session

POLICY = IdlePolicy(idle_minutes=30, answer_minutes=10, keep_minutes=60, no_show_minutes=20)


def _setup(db: Database) -> tuple[uuid.UUID, users.Principal]:
    (pool,) = load_pool_file()
    with db.transaction() as tx:
        pools.sync(tx, [dataclasses.replace(pool, idle={"mig-1g.24gb": POLICY})])
    rid = ready_session(db)
    with db.transaction() as tx:
        return rid, users.principal(users.get(tx, "alice"))


def _status(db: Database, rid: uuid.UUID) -> tuple[str, str | None]:
    with db.transaction() as tx:
        row = tx.get(Reservation, rid)
        assert row is not None
        return row.status, row.reason


def test_an_unanswered_warning_releases_with_its_reason(db: Database) -> None:
    rid, _ = _setup(db)
    now = datetime.now(UTC)
    with db.transaction() as tx:
        assert idle.warn(tx, rid, Reason.IDLE, now, now + POLICY.answer)
        assert not idle.warn(tx, rid, Reason.IDLE, now, now + POLICY.answer)  # once
    with db.transaction() as tx:
        assert not idle.reclaim(tx, rid, Reason.NO_SHOW, now + POLICY.answer)  # not its reason
        assert idle.reclaim(tx, rid, Reason.IDLE, now + POLICY.answer)
    assert _status(db, rid) == ("COMPLETED", "idle")
    with db.transaction() as tx:
        assert not idle.reclaim(tx, rid, Reason.IDLE, now + POLICY.answer)  # no longer ACTIVE


def test_a_keep_after_the_decision_wins_over_its_warning_and_release(db: Database) -> None:
    rid, alice = _setup(db)
    now = datetime.now(UTC)
    with db.transaction() as tx:
        idle.warn(tx, rid, Reason.IDLE, now, now + POLICY.answer)
    with db.transaction() as tx:
        idle.keep(tx, alice, rid, now + timedelta(minutes=1), None)
    later = now + POLICY.answer
    with db.transaction() as tx:
        assert not idle.reclaim(tx, rid, Reason.IDLE, later)  # decided on the pre-keep read
        assert not idle.warn(tx, rid, Reason.IDLE, later, later + POLICY.answer)
    assert _status(db, rid) == ("ACTIVE", None)


def test_opening_after_a_no_show_decision_wins(db: Database) -> None:
    rid, alice = _setup(db)
    now = datetime.now(UTC)
    with db.transaction() as tx:
        idle.warn(tx, rid, Reason.NO_SHOW, now, now + POLICY.answer)
        row = tx.get(Reservation, rid)
        assert row is not None
        idle.opened(tx, alice, row, now + timedelta(minutes=2))
    with db.transaction() as tx:
        assert not idle.reclaim(tx, rid, Reason.NO_SHOW, now + POLICY.answer)
    assert _status(db, rid) == ("ACTIVE", None)


def test_the_collector_warns_and_releases_and_tells_the_owner(db: Database) -> None:
    """The decisions on recorded series, through the collector (no Prometheus needed for the
    policy's half): the warning and the release each leave a message for the owner."""
    rid, alice = _setup(db)
    with db.transaction() as tx:
        ready_at = tx.get(SessionRow, rid).ready_at  # type: ignore[union-attr]
        row = tx.get(Reservation, rid)
        assert row is not None
        idle.opened(tx, alice, row, ready_at)  # opened: not a no-show, only idle
    collector = ActivityCollector(db, None, timedelta(minutes=1))

    def idle_until(minute: int) -> None:
        with db.transaction() as tx:
            activity.record(
                tx,
                [
                    activity.Measured(rid, ready_at + timedelta(minutes=m), 60, 0.0, None, None)
                    for m in range(1, minute + 1)
                ],
            )

    idle_until(31)
    warned = collector.tick(ready_at + timedelta(minutes=31))
    assert warned.decisions == {"warn:idle": 1}
    idle_until(42)
    released = collector.tick(ready_at + timedelta(minutes=42))
    assert released.decisions == {"release:idle": 1}
    assert _status(db, rid) == ("COMPLETED", "idle")
    with db.transaction() as tx:
        told = [(n.kind, list(n.actions)) for n in notifications.listed(tx, alice.id)]
    assert told == [("released", []), ("idle", ["keep", "release"])]  # newest first
