"""The real control plane for every Kubernetes test: one sim per session, one namespace per test.

The sim itself (`sim`, `eventually`) is in tests/conftest.py, shared with the browser tests
that drive a reconciler on it. Binaries come from the shared cache (built first when missing, as
on a fresh CI machine). Each test gets a fresh namespace; at teardown it is deleted and its pods are
awaited, so one test's pods never hold GPU slots another test counts on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kube_manifests import TENANT, session_spec
from kubernetes import client, config
from tests.conftest import SIM_POOL_FILE, Sim, eventually

from berth.domain.session import SessionSpec
from berth.kube.adapter import KubeCluster
from berth.kube.manifests import session_steps

POOL_FILE = SIM_POOL_FILE
__all__ = ["POOL_FILE", "Sim", "eventually"]


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


@pytest.fixture
def berth_namespace(sim: Sim, core: client.CoreV1Api) -> Iterator[Callable[..., SessionSpec]]:
    """A fresh session's namespace holding Berth's own objects of the steps named, built by
    `session_steps` from a SessionSpec and applied as the reconciler applies them; removed
    afterwards (pods first and awaited, as `namespace` does)."""
    made: list[str] = []
    with KubeCluster.from_kubeconfig(str(sim.kubeconfig)) as cluster:

        def make(*steps: str, owner: str = TENANT) -> SessionSpec:
            assert steps[0] == "namespace", "the other steps live in the namespace"
            spec = session_spec(owner=owner)
            made.append(spec.namespace)
            openshift = cluster.is_openshift()
            for name, objects in session_steps(spec, openshift=openshift, password="s3cret"):
                if name in steps:
                    cluster.apply(objects)
            eventually(lambda: core.read_namespaced_service_account("default", spec.namespace))
            return spec

        yield make
    for name in made:
        core.delete_collection_namespaced_pod(name, grace_period_seconds=0)
        core.delete_namespace(name)
    for name in made:
        eventually(lambda name=name: _no_pods(core, name), timeout=90)


def _no_pods(core: client.CoreV1Api, namespace: str) -> None:
    assert not core.list_namespaced_pod(namespace).items, f"pods left in {namespace}"
