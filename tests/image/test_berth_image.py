"""The built `berth` image, run with `buildah run` as OpenShift would: an arbitrary UID in group 0.

`make test` builds the image first (`berth image build berth`, a cache hit when nothing changed);
the `image` fixture builds it here too, so this file also runs alone. chroot isolation shares the
host's network, so the image's `berth` reaches the tests' PostgreSQL on this machine (over its
Unix socket, bind-mounted) and the test reaches the image's `berth serve` on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict

import httpx
import psutil
import pytest
from sqlalchemy import create_engine, make_url, text

from berth import __version__
from berth.images import build, pins
from berth.images.buildah import Buildah
from tests.image.conftest import cached_buildah, free_port, working_container

UID = "1234567"  # no such user in the image: as an SCC assigns it, with group 0
GRACE = 30.0  # the pods' terminationGracePeriodSeconds


@pytest.fixture(scope="module")
def image() -> str:
    return build.build("berth", print).tag


@pytest.fixture(scope="module")
def buildah() -> Buildah:
    return cached_buildah()


@pytest.fixture(scope="module")
def container(image: str, buildah: Buildah) -> Iterator[str]:
    with working_container(buildah, image, "berth-image-test") as name:
        yield name


@pytest.fixture
def empty_database(loopback_postgres: str) -> Iterator[str]:
    """A database of its own on the loopback server, never migrated."""
    url = make_url(loopback_postgres)
    name = f"berth_image_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def run_argv(buildah: Buildah, container: str, database_url: str, *command: str) -> list[str]:
    """`buildah run` as UID:0 with the manifests' environment (deploy/base/portal.yaml)."""
    args = ["run", "--isolation", "chroot", "--user", f"{UID}:0"]
    args += ["--env", "HOME=/tmp/home", "--env", f"BERTH_DATABASE_URL={database_url}"]
    return buildah.argv(*args, container, "--", *command)


def test_berth_version_as_an_arbitrary_uid(buildah: Buildah, container: str) -> None:
    out = subprocess.run(
        run_argv(buildah, container, "postgresql+psycopg://unused/none", "berth", "--version"),
        check=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == __version__


def test_the_image_runs_as_a_uid_without_a_passwd_entry_in_group_0(
    buildah: Buildah, container: str
) -> None:
    """What the image itself holds for an assigned UID: HOME and the data dir writable through
    group 0 (when no emptyDir is mounted), Berth's own files not."""
    script = (
        "id -u; id -g; touch /tmp/home/f /var/lib/berth/f && echo writable; "
        "touch /opt/berth/f 2>/dev/null || echo read-only"
    )
    out = subprocess.run(
        run_argv(buildah, container, "postgresql+psycopg://unused/none", "sh", "-c", script),
        check=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout.split() == [UID, "0", "writable", "read-only"]


def test_migrate_then_serve_readyz_then_stop_on_sigterm(
    buildah: Buildah, container: str, empty_database: str
) -> None:
    migrate = subprocess.run(
        run_argv(buildah, container, empty_database, "berth", "migrate"),
        check=False,
        capture_output=True,
        text=True,
    )
    assert migrate.returncode == 0, migrate.stderr
    engine = create_engine(empty_database)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()

    port = free_port()
    # as deploy/base/portal.yaml runs it: two workers under one parent process
    serve = run_argv(buildah, container, empty_database, "berth", "serve", "--workers", "2")
    server = subprocess.Popen(
        [*serve, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = _ready(f"http://127.0.0.1:{port}/readyz", server)
        assert ready.status_code == 200, ready.text
        # what the kubelet does: SIGTERM to the container's first process, `berth serve`
        # itself (the manifests' `command`, no shell). buildah does not forward signals, so the
        # signal goes to that process, a descendant of `buildah run` on this host.
        _berth_process(server.pid).send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=GRACE)
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGKILL)
            server.wait()
    # uvicorn's graceful shutdown: the parent took the signal, stopped its workers (each one
    # that had started shut its application down), then stopped and exited 0. Not counted per
    # worker: on a starved CPU uvicorn's supervisor may be restarting one that missed its
    # health check when the signal comes.
    assert "Received SIGTERM, exiting." in output, output
    assert "Application shutdown complete" in output, output
    assert "Stopping parent process" in output.rstrip().splitlines()[-1], output
    assert server.returncode == 0, output


def _berth_process(buildah_pid: int) -> psutil.Process:
    """The outermost `berth serve` process under `buildah run` (its Python, not buildah's
    chroot-exec helper, which names the same command)."""
    for child in psutil.Process(buildah_pid).children(recursive=True):
        if child.cmdline()[:3] == ["/opt/berth/bin/python", "/opt/berth/bin/berth", "serve"]:
            return child
    raise AssertionError("no berth serve process under buildah run")


def _ready(url: str, server: subprocess.Popen[str]) -> httpx.Response:
    """The first answer of `url` while the server lives (bounded: the startup probe's 5 min)."""
    deadline = time.monotonic() + 300
    while True:
        assert server.poll() is None, server.communicate()[0]
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def test_an_unchanged_build_is_a_cache_hit_and_is_recorded(image: str) -> None:
    """`berth image build` of unchanged inputs builds nothing and records what it found."""
    record = build.build("berth", print)
    assert record.cached
    assert record.tag == image
    rows = json.loads((pins.cache_root() / "builds.json").read_text())
    assert rows[-1] == asdict(record)
