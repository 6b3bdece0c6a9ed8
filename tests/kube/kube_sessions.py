"""Session namespaces built from Berth's own manifests (`session_steps`), applied through
KubeCluster as the reconciler applies them, for the tests that need a real session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from berth.config import load_pool_file
from berth.domain.reservation import Mode, Reserved
from berth.domain.session import SessionConfig, SessionSpec, build, known_gpu_resources
from berth.kube.adapter import KubeCluster
from berth.kube.errors import NotFound
from berth.kube.manifests import session_selector, session_steps
from conftest import POOL_FILE, eventually

GIB = 2**30
OWNER = "alice@example.org"


def session_spec(mode: Mode = Mode.INTERACTIVE, units: int = 2, owner: str = OWNER) -> SessionSpec:
    pools = load_pool_file(POOL_FILE)
    request = Reserved(
        reservation_id=uuid.uuid4(),
        owner=owner,
        pool="c845a",
        start=datetime(2030, 1, 7, 9, tzinfo=UTC),
        end=datetime(2030, 1, 7, 17, tzinfo=UTC),
        gpu_kind="mig-1g.24gb",
        gpu_count=units,
        mode=mode,
        cpu_millicores=32_000,
        memory_bytes=192 * GIB,
    )
    # Small claims: the sim's volumes are hostPath directories that are never written.
    cfg = SessionConfig(home_bytes=GIB, data_bytes=2 * GIB, models_bytes=3 * GIB)
    return build(request, pools[0], cfg, known_gpu_resources(pools))


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
