"""Fixtures shared by every test: a real PostgreSQL, a clean schema per test, an API client.

With BERTH_DATABASE_URL set, tests create and use a database `berth_test` on that server (never
the one named in the URL); without it, an embedded server is started in a temporary folder and
stopped at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import create_engine, make_url, text

from berth.api.app import create_app
from berth.config import Settings, load_pool_file
from berth.store import bootstrap, pools
from berth.store.db import Database
from berth.store.embedded import running
from berth.store.models import Base

TEST_DB = "berth_test"


def _create_test_database(server_url: str) -> str:
    url = make_url(server_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {TEST_DB}"))
    admin.dispose()
    return url.set(database=TEST_DB).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    given = os.environ.get("BERTH_DATABASE_URL")
    if given:
        yield _create_test_database(given)
        return
    # Not under pytest's tmp_path: pytest makes its base folder private (0700) at every start,
    # which would lock the server's own OS user out of a data directory in use.
    base = Path(tempfile.mkdtemp(prefix="berth-test-pg-"))
    try:
        with running(base / "pgdata") as url:
            yield _create_test_database(url)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def migrated(database_url: str) -> Iterator[Database]:
    db = Database(database_url, pool_size=20)
    bootstrap.prepare(db, load_pool_file())
    yield db
    db.dispose()


@pytest.fixture
def db(migrated: Database) -> Database:
    """The test database, emptied and re-seeded with the demo pool."""
    with migrated.transaction() as tx:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)  # every table, always
        tx.execute(text(f"TRUNCATE {tables} CASCADE"))
        pools.sync(tx, load_pool_file())
    return migrated


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.fixture
def now() -> datetime:
    """A fixed 'now' on a Monday morning, well in the future so no real clock interferes."""
    return datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def server(db: Database, settings: Settings) -> Iterator[str]:
    """The real app (API + built UI) on a free port, in a thread, on the test database."""
    config = uvicorn.Config(
        create_app(settings, db),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        proxy_headers=False,  # as `berth serve` runs it: the app alone reads X-Forwarded-*
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        thread.join(0.05)
        assert thread.is_alive(), "the server did not start"
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    assert not thread.is_alive()
