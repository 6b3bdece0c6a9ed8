"""Leader election and wake-ups for the reconciler, both on PostgreSQL.

The leader holds a session-level advisory lock on a connection of its own for as long as it
runs; if its process dies, PostgreSQL drops the connection and the lock, and a standby takes
over on its next try. The same connection LISTENs for the API's NOTIFYs, so a booking or a
cancel wakes the reconciler at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from berth.store.locks import RECONCILER_LEADER
from berth.store.reservations import NOTIFY_CHANNEL


class Leadership:
    def __init__(self, engine: Engine, key: int = 0) -> None:
        self._engine = engine
        self._key = key
        self._conn: Any = None  # a raw psycopg connection, autocommit

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            raw = self._engine.raw_connection()
            conn = raw.driver_connection
            assert conn is not None
            conn.autocommit = True
            self._raw, self._conn = raw, conn
        return self._conn

    def try_acquire(self) -> bool:
        """Take the leader lock if free; True while this process holds it."""
        conn = self._connection()
        row = conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (RECONCILER_LEADER, self._key)
        ).fetchone()
        acquired = bool(row and row[0])
        if acquired:
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        return acquired

    def still_leader(self) -> bool:
        """False if the connection holding the lock was lost (the lock went with it)."""
        try:
            row = (
                self._connection()
                .execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND classid = %s AND objid = %s",
                    (RECONCILER_LEADER, self._key),
                )
                .fetchone()
            )
        except Exception:
            self.close()
            return False
        return bool(row and row[0])

    def wait(self, timeout: float) -> list[str]:
        """Sleep until a NOTIFY arrives or `timeout` seconds pass; return the payloads."""
        conn = self._connection()
        payloads = [n.payload for n in conn.notifies(timeout=max(timeout, 0.0), stop_after=1)]
        # drain whatever else arrived in the same burst
        payloads += [n.payload for n in conn.notifies(timeout=0.0)]
        return payloads

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._raw.invalidate()  # never return a lock-holding connection to the pool
            finally:
                self._conn = None
