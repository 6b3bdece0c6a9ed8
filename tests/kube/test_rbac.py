"""A tenant bound to `admin` in their namespace stays inside it and cannot touch the quota."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kube_manifests import pod
from kubernetes import client
from kubernetes.client.exceptions import ApiException

pytestmark = pytest.mark.kube

TENANT = "alice@example.org"


def _forbidden(call: Callable[[], Any]) -> str:
    with pytest.raises(ApiException) as refused:
        call()
    assert refused.value.status == 403
    return str(refused.value.body)


@pytest.fixture
def other_namespace(core: client.CoreV1Api, namespace: str) -> Iterator[str]:
    """A second tenant's namespace."""
    name = f"{namespace}-other"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def test_namespace_admin_cannot_escape_the_namespace_or_change_its_quota(
    core: client.CoreV1Api,
    namespace: str,
    other_namespace: str,
    impersonate: Callable[[str, list[str]], client.ApiClient],
    eventually: Callable[..., Any],
) -> None:
    core.create_namespaced_resource_quota(
        namespace, {"metadata": {"name": "session"}, "spec": {"hard": {"pods": "10"}}}
    )
    client.RbacAuthorizationV1Api(core.api_client).create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "tenant-admin"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "admin",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": TENANT}],
        },
    )
    tenant = client.CoreV1Api(impersonate(TENANT, ["system:authenticated"]))

    # The binding works: the tenant can run things in their own namespace...
    eventually(lambda: tenant.create_namespaced_pod(namespace, pod("mine")))
    assert [p.metadata.name for p in tenant.list_namespaced_pod(namespace).items] == ["mine"]
    assert tenant.read_namespaced_resource_quota("session", namespace).spec.hard == {"pods": "10"}

    # ...but cannot raise their own quota,
    body = _forbidden(
        lambda: tenant.patch_namespaced_resource_quota(
            "session", namespace, {"spec": {"hard": {"pods": "1000"}}}
        )
    )
    assert "resourcequotas" in body
    _forbidden(lambda: tenant.delete_namespaced_resource_quota("session", namespace))
    # cannot look into another namespace,
    _forbidden(lambda: tenant.list_namespaced_pod(other_namespace))
    _forbidden(lambda: tenant.list_pod_for_all_namespaces())
    # and cannot create cluster-scoped objects.
    _forbidden(lambda: tenant.create_namespace({"metadata": {"name": f"{namespace}-mine"}}))
    _forbidden(
        lambda: client.RbacAuthorizationV1Api(tenant.api_client).create_cluster_role_binding(
            {
                "metadata": {"name": "escalate"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": TENANT}
                ],
            }
        )
    )

    assert core.read_namespaced_resource_quota("session", namespace).spec.hard == {"pods": "10"}
