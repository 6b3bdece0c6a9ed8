"""Store behaviour on the real database: state machine, upkeep, migrations, the embedded server."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import psycopg
import pytest
from sqlalchemy import text

from berth.domain.policy import BookingPolicy
from berth.domain.reservation import Mode, Request, Status
from berth.store import audit, maintenance, migrate, reservations, tokens, users
from berth.store.db import Database, fetch
from berth.store.embedded import EmbeddedPostgres
from berth.store.errors import Conflict


def _book(db: Database, now: datetime) -> uuid.UUID:
    with db.transaction() as tx:
        who = users.principal(users.create(tx, "alice", "pw-alice-long-enough", "user", actor="t"))
        req = Request(
            "c845a", now + timedelta(hours=1), now + timedelta(hours=2), "gpu", 1, Mode.INTERACTIVE
        )
        return reservations.book(tx, who, req, BookingPolicy(), now).id


def test_status_moves_only_along_the_design(db: Database, now: datetime) -> None:
    rid = _book(db, now)
    with db.transaction() as tx:
        reservations.set_status(tx, rid, Status.ACTIVE, now)
    with db.transaction() as tx:
        reservations.set_status(tx, rid, Status.COMPLETED, now, reason="window closed")
    with (
        pytest.raises(Conflict, match="a COMPLETED reservation cannot become ACTIVE"),
        db.transaction() as tx,
    ):
        reservations.set_status(tx, rid, Status.ACTIVE, now)
    with db.transaction() as tx:
        row = tx.execute(
            text("SELECT status, reason FROM reservations WHERE id = :id"), {"id": rid}
        ).one()
        actions = [e.action for e in audit.query(tx)]
    assert tuple(row) == ("COMPLETED", "window closed")
    assert actions[:2] == ["reservation.completed", "reservation.active"]


def test_a_failed_transaction_changes_nothing(db: Database, now: datetime) -> None:
    rid = _book(db, now)

    def crash_mid_request() -> None:
        with db.transaction() as tx:
            reservations.set_status(tx, rid, Status.CANCELED, now)
            raise RuntimeError("crash mid-request")

    with pytest.raises(RuntimeError):
        crash_mid_request()
    with db.transaction() as tx:
        assert tx.execute(text("SELECT status FROM reservations")).scalar() == "APPROVED"


def test_upkeep_drops_dead_tokens_and_prunes_old_audit(db: Database) -> None:
    now = datetime.now(UTC)  # audit times come from the database clock, so use the real one
    with db.transaction() as tx:
        who = users.principal(users.create(tx, "alice", "pw-alice-long-enough", "user", actor="t"))
        tokens.issue(
            tx,
            who,
            kind="api",
            name="old",
            lifetime=timedelta(days=1),
            now=now - timedelta(days=60),
        )
        live, _ = tokens.issue(tx, who, kind="api", name="new", lifetime=timedelta(days=1), now=now)
        tx.flush()
        old = tx.execute(text("UPDATE audit_log SET at = :t"), {"t": now - timedelta(days=400)})
        audit.record(tx, "alice", "recent", "x")
    done = maintenance.run(db, now, timedelta(days=365))
    assert done.tokens_deleted == 1
    assert done.audit_pruned == old.rowcount > 0
    with db.transaction() as tx:
        assert tokens.resolve(tx, live, now) == who
        remaining = sorted(e.action for e in audit.query(tx))
    assert remaining == ["audit.prune", "recent"]


def test_migrating_twice_is_a_no_op(db: Database) -> None:
    head = migrate.head()
    before = migrate.current(db.engine)
    migrate.upgrade(db.engine)
    assert migrate.current(db.engine) == before == head


def _postgres_for(pgdata: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        cmd = p.info["cmdline"] or []
        if p.info["name"] == "postgres" and str(pgdata) in cmd:
            found.append(p)
    return found


def test_an_embedded_server_left_by_a_killed_process_is_adopted_then_stopped(
    tmp_path: Path,
) -> None:
    pgdata = tmp_path / "pgdata"
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from berth.store.embedded import EmbeddedPostgres
        EmbeddedPostgres(Path({str(pgdata)!r})).start()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], check=False)
    assert killed.returncode == -9
    assert _postgres_for(pgdata), "the killed process left its server running"
    pg = EmbeddedPostgres(pgdata)
    url = pg.start()
    db = Database(url)
    assert db.ping()
    db.dispose()
    pg.stop()
    psutil.wait_procs(_postgres_for(pgdata), timeout=10)
    assert not _postgres_for(pgdata)


def test_a_second_process_is_a_guest_and_leaves_the_owners_server_running(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    owner = EmbeddedPostgres(pgdata)
    url = owner.start()
    try:
        assert owner.owner
        guest = textwrap.dedent(
            f"""
            from pathlib import Path
            from berth.store.embedded import EmbeddedPostgres
            from berth.store.db import Database
            pg = EmbeddedPostgres(Path({str(pgdata)!r}))
            db = Database(pg.start())
            assert not pg.owner
            assert db.ping()
            db.dispose()
            pg.stop()
            """
        )
        subprocess.run([sys.executable, "-c", guest], check=True)
        db = Database(url)
        assert db.ping(), "the guest stopped the owner's server"
        db.dispose()
    finally:
        owner.stop()
    psutil.wait_procs(_postgres_for(pgdata), timeout=10)
    assert not _postgres_for(pgdata)


def test_the_migrations_build_exactly_the_models(db: Database) -> None:
    import warnings

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from berth.store.models import Base

    with warnings.catch_warnings():
        # alembic cannot compare expression indexes (the GiST ranges) and says so; it still
        # compares every table, column, constraint and plain index
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_a_booking_writes_its_audit_entry_and_notifies_only_when_it_commits(
    db: Database, now: datetime
) -> None:
    """The insert, its audit entry and the NOTIFY are one statement: all on commit, or none."""
    import psycopg
    from sqlalchemy import make_url

    conninfo = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as listener:
        listener.execute(f"LISTEN {reservations.NOTIFY_CHANNEL}")
        booked = _book(db, now)
        heard = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
        assert heard == [str(booked)]

        # a booking that fails after the insert (rolled back) notifies nothing, audits nothing
        def book_then_fail() -> None:
            with db.transaction() as tx:
                who = users.principal(users.get(tx, "alice"))
                req = Request(
                    "c845a",
                    now + timedelta(hours=5),
                    now + timedelta(hours=6),
                    "mig-1g.24gb",
                    1,
                    Mode.INFERENCE,
                )
                reservations.book(tx, who, req, BookingPolicy(), now, client="10.0.0.9")
                raise RuntimeError("the request failed after booking")

        with pytest.raises(RuntimeError):
            book_then_fail()
        assert list(listener.notifies(timeout=1, stop_after=1)) == []

    with db.transaction() as tx:
        entries = [e for e in audit.query(tx, action="reservation.create")]
    assert [e.target for e in entries] == [f"reservation:{booked}"]
    assert entries[0].actor == "alice"
    assert entries[0].details == {
        "pool": "c845a",
        "start": (now + timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=2)).isoformat(),
        "gpu": "1 x gpu",
        "mode": "interactive",
    }
    with db.transaction() as tx:
        statuses = tx.execute(text("SELECT status FROM reservations")).scalars().all()
    assert statuses == ["APPROVED"]


def test_a_pool_synced_after_it_was_cached_is_read_again_under_the_booking_locks(
    db: Database, now: datetime
) -> None:
    """A process that read a pool before it was re-synced (another replica restarted with a
    new pool file) books against the new description, not its stale copy; a kind only the stale copy lacks is not refused."""
    from berth.config import load_pool_file, load_pool_text
    from berth.store import pools

    _book(db, now)  # the process has read and remembered c845a: one whole GPU
    grown = """
pools:
  - name: c845a
    nodes:
      - name: n1
        cpu: 64
        memory: 512Gi
        storage_class: local
        gpus:
          - {index: 0, model: H100, memory: 80Gi}
          - {index: 1, model: H100, memory: 80Gi}
"""
    with db.transaction() as tx:
        assert pools.sync(tx, load_pool_text(grown)) == ["c845a"]
    with db.transaction() as tx:
        who = users.principal(users.get(tx, "alice"))
        req = Request(
            "c845a", now + timedelta(hours=1), now + timedelta(hours=2), "gpu", 1, Mode.INFERENCE
        )
        row = reservations.book(tx, who, req, BookingPolicy(), now)  # the second GPU: fits
    assert row.gpu_kind == "gpu"
    # back to the demo pool: the copy this process holds (no MIG slices) is stale again
    with db.transaction() as tx:
        assert pools.sync(tx, load_pool_file()) == ["c845a"]
    with db.transaction() as tx:
        req = Request("c845a", now, now + timedelta(hours=1), "mig-1g.24gb", 1, Mode.INFERENCE)
        assert reservations.book(tx, who, req, BookingPolicy(), now).gpu_kind == "mig-1g.24gb"


def test_pooled_connections_the_server_closed_are_replaced_before_use(
    database_url: str,
) -> None:
    """Backends of pooled connections ended by the server (as a restart or a failover ends
    them) are found at checkout, without a round trip, and replaced: no transaction fails.
    Seeded rounds: a random number of connections in the pool, a random share of them ended."""
    rng = random.Random(13)
    db = Database(database_url, pool_size=8)
    admin = psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True)
    try:
        for _ in range(20):
            held = rng.randint(1, 8)
            with ExitStack() as stack:  # `held` connections checked out at once, then pooled
                pids = [
                    stack.enter_context(db.transaction())
                    .execute(text("SELECT pg_backend_pid()"))
                    .scalar_one()
                    for _ in range(held)
                ]
            ended = rng.sample(pids, rng.randint(1, held))
            for pid in ended:
                admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
            for _ in range(held + 2):
                with db.transaction() as tx:
                    pid = tx.execute(text("SELECT pg_backend_pid()")).scalar_one()
                    assert pid not in ended
                    assert fetch(tx, "SELECT 1", {}) == [(1,)]
    finally:
        admin.close()
        db.dispose()
