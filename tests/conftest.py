"""Fixtures shared by every test: a real PostgreSQL, a clean schema per test, an API client.

With BERTH_DATABASE_URL set, tests create and use a database `berth_test` on that server (never
the one named in the URL); without it, an embedded server is started in a temporary folder and
stopped at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
import uvicorn
from fastapi import FastAPI
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from sqlalchemy import create_engine, make_url, text

from berth.api.app import create_app
from berth.catalog import load_catalog_file
from berth.config import Settings, load_pool_file
from berth.domain.session import MANAGED_BY
from berth.kube.adapter import KubeCluster
from berth.sim import build, cluster, versions
from berth.sim.state import Paths, SimState
from berth.store import bootstrap, catalog, pools
from berth.store.db import Database
from berth.store.embedded import EmbeddedPostgres, running
from berth.store.models import Base
from tests import keycloak as keycloak_server
from tests import prometheus_server
from tests.dcgm_standin import StandInDcgmExporter, sim_gpu_pods

TEST_DB = "berth_test"


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM ends the run as Ctrl-C does, so fixtures are torn down: the PostgreSQL servers and
    sims they started stop with it. `make test` stops its background half with SIGTERM on
    Ctrl-C (that half cannot get SIGINT: a shell without job control starts background jobs
    with it ignored)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _create_test_database(server_url: str) -> str:
    url = make_url(server_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {TEST_DB}"))
    admin.dispose()
    return url.set(database=TEST_DB).render_as_string(hide_password=False)


def _without_fsync(server_url: str) -> None:
    """The throwaway test server does not flush to disk: a killed server loses nothing by that
    (its writes are in the kernel's page cache), only a crash of the machine would, and that
    throws the server away anyway. The per-test reset (`db`) took 77 ms instead of 116 ms.
    The servers the fail-over tests kill (tests/pg_pair.py) keep fsync on, as a real one does."""
    admin = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("ALTER SYSTEM SET fsync = off"))
        conn.execute(text("SELECT pg_reload_conf()"))
    admin.dispose()


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
            _without_fsync(url)
            yield _create_test_database(url)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def migrated(database_url: str) -> Iterator[Database]:
    db = Database(database_url, pool_size=20)
    bootstrap.prepare(db, load_pool_file(), catalog=load_catalog_file())
    yield db
    db.dispose()


@pytest.fixture
def db(migrated: Database) -> Database:
    """The test database, emptied and re-seeded with the demo pool and catalog."""
    with migrated.transaction() as tx:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)  # every table, always
        tx.execute(text(f"TRUNCATE {tables} CASCADE"))
        pools.sync(tx, load_pool_file())
        catalog.sync(tx, load_catalog_file())
    return migrated


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.fixture
def now() -> datetime:
    """A fixed 'now' on a Monday morning, well in the future so no real clock interferes."""
    return datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


@contextmanager
def serving(app: FastAPI, port: int = 0) -> Iterator[str]:
    """`app` on a free port of 127.0.0.1 (or `port`) in a thread, for the duration of the block."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
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


@pytest.fixture
def server(db: Database, settings: Settings) -> Iterator[str]:
    """The real app (API + built UI) on a free port, in a thread, on the test database."""
    with serving(create_app(settings, db)) as url:
        yield url


@dataclass
class OwnPostgres:
    """An embedded PostgreSQL of one test's own, which the test may stop and start again."""

    server: EmbeddedPostgres
    url: str

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        assert self.server.start() == self.url  # same socket, same URL: clients reconnect


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A fresh embedded server in a temporary folder, migrated and seeded with the demo pool
    (also under BERTH_DATABASE_URL: a shared server is not this test's to restart)."""
    base = Path(tempfile.mkdtemp(prefix="berth-own-pg-"))  # not tmp_path: see database_url
    server = EmbeddedPostgres(base / "pgdata")
    try:
        url = server.start()
        db = Database(url, pool_size=2)
        bootstrap.prepare(db, load_pool_file(), catalog=load_catalog_file())
        db.dispose()
        yield OwnPostgres(server, url)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


# ---- a real identity provider (Keycloak), one per test session -----------------------------

KEYCLOAK_GROUPS = ["gpu-users", "berth-admins", "other-team"]


@pytest.fixture(scope="session")
def keycloak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[keycloak_server.Realm]:
    """Keycloak with the realm `berth`: the client `berth-portal` (confidential, PKCE S256,
    a `groups` claim), the groups KEYCLOAK_GROUPS; tests add their own users."""

    def say(line: str) -> None:  # past pytest's capture: the wait is seen as it happens
        print(line, file=sys.__stderr__, flush=True)

    kc = keycloak_server.running() or keycloak_server.start(
        keycloak_server.installed(say), tmp_path_factory.mktemp("keycloak"), say
    )
    try:
        yield keycloak_server.Realm(kc).create(KEYCLOAK_GROUPS)
    finally:
        kc.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- the local control plane (berth sim), for the kube tests and the browser tests on it ----

SIM_POOL_FILE = Path(__file__).parent / "kube" / "pool.yaml"
KUBE_TESTS = Path(__file__).parent / "kube"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the local control plane is marked `kube`, whether or not it says
    so: those under tests/kube and any that uses the `sim` fixture, directly or through another
    (`kube`, `reconciler`, ...). `make test` runs `-m "not kube"` while the sim builds, then
    `-m kube`; a test missed here would start a second build beside the first."""
    for item in items:
        if item.path.is_relative_to(KUBE_TESTS) or "sim" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kube)


T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 30.0, interval: float = 0.2) -> T:
    """Call `check` until it stops raising AssertionError (or ApiException); return its value.

    The cluster converges asynchronously; a test states the end state it expects and lets it
    arrive, instead of sleeping. The last failure is re-raised at the deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, ApiException):
            if time.monotonic() >= deadline:
                raise
        time.sleep(interval)


@dataclass(frozen=True)
class Sim:
    state_dir: Path
    state: SimState

    @property
    def kubeconfig(self) -> Path:
        return Paths(self.state_dir).kubeconfig


def _ensure_built() -> None:
    layout = versions.cache_layout()
    if layout.missing():
        build.build(layout, on_step=lambda t: print(f"building {t}", flush=True), on_line=print)


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    """One sim for the session, in a temporary state folder on free ports (a developer's own
    `berth sim up` keeps running beside it). Its processes die with this pytest, even if it is
    killed with SIGKILL."""
    _ensure_built()
    state_dir = tmp_path_factory.mktemp("sim")
    try:
        state = cluster.up(SIM_POOL_FILE, 1, state_dir=state_dir, die_with_parent=True)
        yield Sim(state_dir, state)
    finally:
        cluster.down(state_dir)


def remove_sessions(cluster: KubeCluster, timeout: float = 180) -> None:
    """Delete every namespace and cluster-scoped object Berth made, and wait until the
    namespaces are gone, so no workspace holds a GPU slot the next test counts on."""
    selector = f"{MANAGED_BY[0]}={MANAGED_BY[1]}"
    for ns in cluster.namespaces(selector):
        cluster.delete_namespace(ns.name)
    for ref in cluster.cluster_scoped(selector):
        cluster.delete(ref)

    def all_gone() -> None:
        left = [ns.name for ns in cluster.namespaces(selector)]
        assert not left, left

    eventually(all_gone, timeout=timeout)


@pytest.fixture
def kube(sim: Sim) -> Iterator[KubeCluster]:
    """Berth's own Cluster adapter on the sim; the test's sessions are removed afterwards."""
    with KubeCluster.from_kubeconfig(str(sim.kubeconfig)) as c:
        yield c
        remove_sessions(c)


@pytest.fixture
def sim_standin(sim: Sim) -> Iterator[StandInDcgmExporter]:
    """The stand-in DCGM exporter (tests/dcgm_standin.py) serving the sim's GPU pods."""
    api_client = k8s_config.new_client_from_config(config_file=str(sim.kubeconfig))
    pods = sim_gpu_pods(k8s_client.CoreV1Api(api_client))
    exporter = StandInDcgmExporter(pods, model="RTX PRO 6000 Blackwell")  # the sim pool's GPUs
    exporter.start()
    yield exporter
    exporter.stop()
    api_client.close()


@pytest.fixture
def sim_prometheus(sim_standin: StandInDcgmExporter, tmp_path: Path) -> Iterator[str]:
    """A real Prometheus scraping the stand-in every second (tests/prometheus_server.py)."""
    target = f"127.0.0.1:{sim_standin.port}"
    with prometheus_server.running(tmp_path / "prometheus", target) as url:
        yield url
