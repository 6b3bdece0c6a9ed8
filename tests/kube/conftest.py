"""The real control plane for every Kubernetes test: one sim per session, one namespace per test.

The sim starts in a temporary state folder on free ports, so a developer's own `berth sim up`
keeps running beside it. Binaries come from the shared cache (built first when missing, as on a
fresh CI machine). Each test gets a fresh namespace; at teardown it is deleted and its pods are
awaited, so one test's pods never hold GPU slots another test counts on.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from berth.sim import build, cluster, versions
from berth.sim.state import Paths, SimState

POOL_FILE = Path(__file__).parent / "pool.yaml"

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
    _ensure_built()
    state_dir = tmp_path_factory.mktemp("sim")
    try:
        state = cluster.up(POOL_FILE, 1, state_dir=state_dir)
        yield Sim(state_dir, state)
    finally:
        cluster.down(state_dir)


@pytest.fixture(scope="session")
def api(sim: Sim) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(sim.kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture(scope="session")
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def impersonate(sim: Sim) -> Iterator[Callable[[str, list[str]], client.ApiClient]]:
    """An API client acting as another user (the admin certificate may impersonate)."""
    opened: list[client.ApiClient] = []

    def make(user: str, groups: list[str]) -> client.ApiClient:
        api_client = config.new_client_from_config(config_file=str(sim.kubeconfig))
        api_client.set_default_header("Impersonate-User", user)
        for group in groups:
            # The generated client keeps one value per header; Kubernetes accepts one group.
            api_client.set_default_header("Impersonate-Group", group)
        opened.append(api_client)
        return api_client

    yield make
    for api_client in opened:
        api_client.close()


@pytest.fixture(name="eventually")
def eventually_fixture() -> Callable[..., Any]:
    return eventually


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    eventually(lambda: core.read_namespaced_service_account("default", name))
    yield name
    # Pods are what hold GPU slots. Deleting them at once and waiting only for them keeps tests
    # isolated without paying the namespace controller's own pacing (5-10 s per namespace);
    # test_namespace_deletion.py checks that a namespace deletion completes.
    core.delete_collection_namespaced_pod(name, grace_period_seconds=0)
    core.delete_namespace(name)

    def no_pods_left() -> None:
        assert not core.list_namespaced_pod(name).items, f"pods left in {name}"

    eventually(no_pods_left, timeout=90)
