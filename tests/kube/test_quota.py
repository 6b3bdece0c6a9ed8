"""A session's quota gives 0 of every other GPU kind, so a MIG session cannot take a whole GPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kube_manifests import GPU, MIG, pod
from kubernetes import client
from kubernetes.client.exceptions import ApiException

pytestmark = pytest.mark.kube


def test_quota_refuses_the_other_gpu_kind_and_admits_a_mig_slot(
    core: client.CoreV1Api, namespace: str, eventually: Callable[..., Any]
) -> None:
    core.create_namespaced_resource_quota(
        namespace,
        {
            "metadata": {"name": "session"},
            "spec": {"hard": {f"requests.{MIG}": "2", f"requests.{GPU}": "0"}},
        },
    )

    def quota_enforced() -> None:
        status = core.read_namespaced_resource_quota("session", namespace).status
        assert status.hard == {f"requests.{MIG}": "2", f"requests.{GPU}": "0"}

    eventually(quota_enforced)

    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(namespace, pod("whole-gpu", {GPU: "1"}))
    assert refused.value.status == 403
    assert "exceeded quota" in refused.value.body
    assert f"requests.{GPU}" in refused.value.body

    core.create_namespaced_pod(namespace, pod("mig-slot", {MIG: "1"}))

    names = [p.metadata.name for p in core.list_namespaced_pod(namespace).items]
    assert names == ["mig-slot"]

    def usage_counted() -> None:
        used = core.read_namespaced_resource_quota("session", namespace).status.used
        assert used[f"requests.{MIG}"] == "1"

    eventually(usage_counted)
