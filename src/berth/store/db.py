"""Engine, transactions, and choosing the database (a URL, or the embedded server).

Repositories are plain functions taking a `Tx` (a SQLAlchemy Session inside a transaction);
callers outside `store` use the `Tx` name and never import SQLAlchemy themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from berth.store.embedded import EmbeddedPostgres

Tx = Session


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine: Engine = create_engine(
            url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True
        )
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
