"""Berth's ResourceQuota for a session of 2 MIG slices, as the reconciler applies it: 0 of every
other GPU kind (so a MIG session cannot take a whole GPU) and exactly the booked slots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kube_manifests import GPU, MIG, pod
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from berth.domain.session import SessionSpec
from berth.kube.manifests import quota
from berth.kube.manifests.common import QUOTA

pytestmark = pytest.mark.kube


def test_quota_refuses_the_other_gpu_kind_and_admits_exactly_the_booked_slots(
    core: client.CoreV1Api,
    berth_namespace: Callable[..., SessionSpec],
    eventually: Callable[..., Any],
) -> None:
    spec = berth_namespace("namespace", "rbac", "quota")
    ns = spec.namespace
    hard = quota.quota(spec)["spec"]["hard"]
    slots = int(hard[f"requests.{MIG}"])
    assert hard[f"requests.{GPU}"] == "0"
    assert slots == spec.quota.gpu[MIG] > 0

    def quota_enforced() -> None:
        status = core.read_namespaced_resource_quota(QUOTA, ns).status
        assert status.hard is not None
        assert status.hard[f"requests.{MIG}"] == str(slots)

    eventually(quota_enforced)

    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(ns, pod("whole-gpu", {GPU: "1"}))
    assert refused.value.status == 403
    assert f"exceeded quota: {QUOTA}, requested: requests.{GPU}=1" in refused.value.body

    # CPU and memory come from Berth's LimitRange: the pod names only its GPU slots.
    core.create_namespaced_pod(ns, pod("all-slots", {MIG: str(slots)}))
    with pytest.raises(ApiException) as over:
        core.create_namespaced_pod(ns, pod("one-more", {MIG: "1"}))
    assert over.value.status == 403
    assert f"requests.{MIG}" in over.value.body

    assert [p.metadata.name for p in core.list_namespaced_pod(ns).items] == ["all-slots"]

    def usage_counted() -> None:
        used = core.read_namespaced_resource_quota(QUOTA, ns).status.used
        assert used[f"requests.{MIG}"] == str(slots)

    eventually(usage_counted)
