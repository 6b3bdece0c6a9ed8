"""Session namespaces built from Berth's own manifests (`session_steps`), applied through
KubeCluster as the reconciler applies them, for the tests that need a real session."""

from __future__ import annotations

from typing import Any

from kube_manifests import TENANT, session_spec

from berth.domain.session import SessionSpec
from berth.kube.adapter import KubeCluster
from berth.kube.errors import NotFound
from berth.kube.manifests import session_selector, session_steps
from conftest import eventually

OWNER = TENANT  # the booker the RoleBinding names
__all__ = ["OWNER", "namespace_gone", "provision", "remove", "session_spec"]


def provision(cluster: KubeCluster, spec: SessionSpec) -> list[dict[str, Any]]:
    """Apply every step in order; the objects applied."""
    applied: list[dict[str, Any]] = []
    for _, objects in session_steps(spec, openshift=cluster.is_openshift(), password="s3cret"):
        cluster.apply(objects)
        applied += objects
    return applied


def namespace_gone(cluster: KubeCluster, name: str) -> None:
    """Pass once the namespace is gone; fail (for `eventually` to retry) while it exists."""
    try:
        cluster.get("v1", "Namespace", name)
    except NotFound:
        return
    raise AssertionError(f"namespace {name} still exists")


def remove(cluster: KubeCluster, spec: SessionSpec) -> None:
    """Tear a session down as the reconciler and its garbage collection would."""
    cluster.delete_namespace(spec.namespace)
    eventually(lambda: namespace_gone(cluster, spec.namespace), timeout=120)
    for ref in cluster.cluster_scoped(session_selector(spec.reservation_id)):
        cluster.delete(ref)
