"""A session's owner, bound by Berth's own RoleBinding, works in their namespace, stays inside
it and cannot touch the quota Berth set. The objects are Berth's (`session_steps`), as the
reconciler applies them; the other tenant's namespace is another Berth session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kube_manifests import pod
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from berth.domain.session import SessionSpec
from berth.kube.manifests import quota
from berth.kube.manifests.common import LIMITS, QUOTA

pytestmark = pytest.mark.kube


def _forbidden(call: Callable[[], Any]) -> str:
    with pytest.raises(ApiException) as refused:
        call()
    assert refused.value.status == 403
    return str(refused.value.body)


def test_the_owner_cannot_escape_the_namespace_or_change_its_quota(
    core: client.CoreV1Api,
    berth_namespace: Callable[..., SessionSpec],
    impersonate: Callable[[str, list[str]], client.ApiClient],
    eventually: Callable[..., Any],
) -> None:
    spec = berth_namespace("namespace", "rbac", "quota")
    namespace, hard = spec.namespace, quota.quota(spec)["spec"]["hard"]
    other_namespace = berth_namespace(
        "namespace", "rbac", "quota", owner="bob@example.org"
    ).namespace
    tenant = client.CoreV1Api(impersonate(spec.owner, ["system:authenticated"]))

    # The binding works: the tenant can run things in their own namespace...
    eventually(lambda: tenant.create_namespaced_pod(namespace, pod("mine")))
    assert [p.metadata.name for p in tenant.list_namespaced_pod(namespace).items] == ["mine"]
    assert tenant.read_namespaced_resource_quota(QUOTA, namespace).spec.hard == hard

    # ...but cannot raise their own quota,
    body = _forbidden(
        lambda: tenant.patch_namespaced_resource_quota(
            QUOTA, namespace, {"spec": {"hard": {"pods": "1000"}}}
        )
    )
    assert "resourcequotas" in body
    _forbidden(lambda: tenant.delete_namespaced_resource_quota(QUOTA, namespace))
    _forbidden(lambda: tenant.delete_namespaced_limit_range(LIMITS, namespace))
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
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": spec.owner}
                ],
            }
        )
    )

    assert core.read_namespaced_resource_quota(QUOTA, namespace).spec.hard == hard
