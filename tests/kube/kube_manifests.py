"""Manifests and checks shared by the Kubernetes tests; manifests are plain dicts, as Berth's
builders make them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException

GPU = "nvidia.com/gpu"
MIG = "nvidia.com/mig-1g.24gb"
NODE = "ucs-c845a-01"  # the node of tests/kube/pool.yaml


def pod(name: str, resources: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A one-container pod; extended resources go into requests and limits alike, as required."""
    container: dict[str, Any] = {"name": "main", "image": "registry.example/workspace:1"}
    if resources is not None:
        container["resources"] = {"requests": dict(resources), "limits": dict(resources)}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container], **spec},
    }


def assert_gone(read: Callable[[], object], what: str) -> None:
    """Pass when `read` answers 404; fail (for `eventually` to retry) while the object exists."""
    try:
        read()
    except ApiException as err:
        if err.status == 404:
            return
        raise
    raise AssertionError(f"{what} still exists")
