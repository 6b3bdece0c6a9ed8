"""Berth's LimitRange, as the reconciler applies it beside the quota: a bare pod (a plain
`kubectl run`) gets the session's container defaults, is admitted by the quota that demands
limits, and a few such pods fit side by side."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kube_manifests import pod
from kubernetes import client

from berth.domain.session import SessionSpec
from berth.kube.manifests.quota import container_defaults

pytestmark = pytest.mark.kube


def test_a_bare_pod_gets_the_session_defaults_and_a_few_fit(
    core: client.CoreV1Api, berth_namespace: Callable[..., SessionSpec]
) -> None:
    spec = berth_namespace("namespace", "rbac", "quota")
    requests, limits = container_defaults(spec)

    for i in range(3):
        core.create_namespaced_pod(spec.namespace, pod(f"bare-{i}"))

    for i in range(3):
        resources = core.read_namespaced_pod(f"bare-{i}", spec.namespace).spec.containers[0]
        assert resources.resources.requests == requests
        assert resources.resources.limits == limits
