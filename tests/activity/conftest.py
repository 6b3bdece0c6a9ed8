"""Sessions in the database as the reconciler leaves them once ready, a stand-in DCGM exporter
and a real Prometheus scraping it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from berth.domain.policy import BookingPolicy
from berth.domain.reservation import Mode, Request, Status
from berth.domain.session import namespace_name
from berth.store import reservations, sessions, users
from berth.store.crypto import SecretBox
from berth.store.db import Database
from berth.store.errors import NotFound
from tests import prometheus_server
from tests.dcgm_standin import StandInDcgmExporter


def ready_session(db: Database, kind: str = "mig-1g.24gb", count: int = 1) -> uuid.UUID:
    """An ACTIVE reservation of alice's with a ready workspace, opened now."""
    now = datetime.now(UTC)
    with db.transaction() as tx:
        try:
            user = users.get(tx, "alice")
        except NotFound:
            user = users.create(tx, "alice", "pw-alice-long-enough", "user", actor="t")
        who = users.principal(user)
    end = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    req = Request("c845a", now, end, kind, count, Mode.INTERACTIVE, 2000, 8 * 2**30)
    with db.transaction() as tx:
        rid = reservations.book(tx, who, req, BookingPolicy(), now).id
        reservations.set_status(tx, rid, Status.ACTIVE, now)
        sessions.start(tx, rid, namespace_name(rid), now, SecretBox.ephemeral())
        sessions.mark_ready(tx, rid, f"https://{namespace_name(rid)}.berth.localhost/", now)
    return rid


@pytest.fixture
def standin() -> Iterator[StandInDcgmExporter]:
    exporter = StandInDcgmExporter()
    exporter.start()
    yield exporter
    exporter.stop()


@pytest.fixture
def prometheus(standin: StandInDcgmExporter, tmp_path: Path) -> Iterator[str]:
    target = f"127.0.0.1:{standin.port}"
    with prometheus_server.running(tmp_path / "prometheus", target) as url:
        yield url
