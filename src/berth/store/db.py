"""Engine, transactions, and choosing the database (a URL, or the embedded server).

Repositories are plain functions taking a `Tx` (a SQLAlchemy Session inside a transaction);
callers outside `store` use the `Tx` name and never import SQLAlchemy themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import psycopg
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from berth.store.embedded import EmbeddedPostgres

Tx = Session

# What the database raises when it cannot do the work now, whatever was asked: the server is
# down or restarting, a connection was cut, the pool had no connection free in time, or a
# transaction lost a serialization race. Nothing was committed; the same request can succeed
# later. The API answers these with 503 and Retry-After; the reconciler retries its cycle.
# (SQLAlchemy wraps the driver's errors; a raw psycopg connection, the leader's, raises them bare.)
UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def sqlalchemy_url(url: str) -> str:
    """A PostgreSQL URL with Berth's driver: `postgresql://` and `postgres://` (what libpq and
    operators write, e.g. the `uri` key of CloudNativePG's `<cluster>-app` Secret) become
    `postgresql+psycopg://`; any other URL is left as it is. Several hosts in SQLAlchemy's form
    (`?host=a:5432&host=b:5432&target_session_attrs=read-write`) reach libpq unchanged."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def _in_utc(dbapi_connection: Any, _record: Any) -> None:
    """Every session in UTC. The SQL names its time zones where it needs one, so this changes
    no answer; but psycopg reads timestamps for a `UTC` session with Python's own
    `timezone.utc` and for any other (the embedded server's default is `Etc/UTC`) through
    zoneinfo, twice as slow: a calendar day's thousands of blocks or a list of 500
    reservations read thousands of them."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    dbapi_connection.execute("SET TimeZone = 'UTC'")
    dbapi_connection.autocommit = autocommit


def _not_closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Replace a pooled connection the server has closed (a restart, a failover, an ended
    backend) before it is used, without a round trip: the server's goodbye and the end of
    the stream are already in the socket, and reading them marks the connection lost.
    SQLAlchemy's pre-ping sent a query instead, one more round trip per transaction. A
    connection that died without a word (a cut network) is found by its first statement,
    which fails as UNAVAILABLE (503 and Retry-After), and the pool replaces it."""
    pgconn = dbapi_connection.pgconn
    try:
        for _ in range(3):  # a FATAL message first, then the end of the stream
            pgconn.consume_input()
    except psycopg.OperationalError as exc:
        raise sa_exc.DisconnectionError(str(exc)) from exc
    if pgconn.status != psycopg.pq.ConnStatus.OK:
        raise sa_exc.DisconnectionError("the server closed the connection")


def fetch(tx: Tx, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Run one statement on the psycopg connection under `tx`, in its transaction, past
    SQLAlchemy's statement machinery, and return its rows. For the few statements every
    request or booking runs: SQLAlchemy's compiling, parameter processing and result objects
    cost ~0.35 ms of CPU per statement here against ~0.06 ms for psycopg alone (measured,
    docs/benchmarks.md). `sql` takes psycopg's `%(name)s` parameters; psycopg prepares a
    statement on a connection once it has run a few times."""
    conn = cast(psycopg.Connection[Any], tx.connection().connection.driver_connection)
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        url = sqlalchemy_url(url)
        self.url = url
        self.engine: Engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2)
        event.listen(self.engine, "connect", _in_utc)
        event.listen(self.engine, "checkout", _not_closed_by_server)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()


class Opened:
    """A database ready to use, and the embedded server behind it if Berth started one."""

    def __init__(self, url: str | None, data_dir: Path) -> None:
        self.embedded: EmbeddedPostgres | None = None
        if url is None:
            self.embedded = EmbeddedPostgres(data_dir / "pgdata")
            url = self.embedded.start()
        self.url = url

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None
