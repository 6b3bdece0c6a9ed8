"""The reconciler's loop when its PostgreSQL restarts: the cycle that meets the outage fails with
a logged error, and once the server is back the loop takes the leader lock again on a new
connection and provisions a booking on the sim, without the reconciler being restarted."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from tests.conftest import OwnPostgres, eventually

from berth.domain.policy import BookingPolicy
from berth.domain.reservation import Mode, Request
from berth.domain.session import SessionConfig
from berth.kube.adapter import KubeCluster
from berth.reconciler.loop import Cadence, Reconciler
from berth.reconciler.plan import Limits
from berth.store import heartbeats, reservations, users
from berth.store.db import Database

pytestmark = pytest.mark.kube

FAST = Cadence(
    interval=timedelta(seconds=1),
    standby_poll=timedelta(seconds=0.5),
    ready_poll=timedelta(seconds=0.5),
)


def book_now(db: Database) -> uuid.UUID:
    now = datetime.now(UTC)
    end = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    with db.transaction() as tx:
        who = users.principal(users.create(tx, "alice", "pw-alice-long", "user", actor="t"))
        req = Request("c845a", now, end, "mig-1g.24gb", 1, Mode.INTERACTIVE, 2000, 8 * 2**30)
        return reservations.book(tx, who, req, BookingPolicy(), now).id


def status_of(db: Database, rid: uuid.UUID) -> str:
    with db.transaction() as tx:
        q = text("SELECT status FROM reservations WHERE id = :i")
        return str(tx.execute(q, {"i": rid}).scalar())


def test_the_reconciler_waits_out_a_database_restart(
    own_postgres: OwnPostgres, kube: KubeCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="berth.reconciler")
    db = Database(own_postgres.url, pool_size=4)
    rec = Reconciler(db, kube, SessionConfig(), limits=Limits(max_attempts=3), cadence=FAST)
    stop = threading.Event()
    loop = threading.Thread(target=rec.run, args=(stop,), name="reconciler", daemon=True)
    loop.start()
    try:

        def beat() -> datetime:
            with db.transaction() as tx:
                beats = heartbeats.all_beats(tx)
            assert len(beats) == 1, "no cycle has finished yet"
            b = beats[0]
            assert "error" not in b.details, b.details
            return b.at

        eventually(beat, timeout=30)

        own_postgres.stop()

        def outage_logged() -> None:
            errors = [
                r.getMessage()
                for r in caplog.records
                if r.name == "berth.reconciler" and r.levelno == logging.ERROR
            ]
            assert any("database unavailable" in e for e in errors), errors

        eventually(outage_logged, timeout=30)
        own_postgres.start()
        back = datetime.now(UTC)

        rid = book_now(db)  # after the restart: the loop must still be working to start it

        def active() -> None:
            assert status_of(db, rid) == "ACTIVE"

        eventually(active, timeout=150, interval=0.5)
        assert eventually(beat, timeout=10) >= back  # a whole cycle after the restart
        assert loop.is_alive()
    finally:
        stop.set()
        loop.join(30)
        db.dispose()
    assert not loop.is_alive()
