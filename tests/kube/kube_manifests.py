"""Manifests and checks shared by the Kubernetes tests; manifests are plain dicts, as Berth's
builders make them. A session's own objects come from Berth's builders (`session_spec`, then
`berth.kube.manifests.session_steps`), never written by hand here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException
from tests.conftest import SIM_POOL_FILE

from berth.config import load_pool_file
from berth.domain.catalog import Catalog
from berth.domain.reservation import Mode, Reserved
from berth.domain.session import SessionConfig, SessionSpec, build, known_gpu_resources

GPU = "nvidia.com/gpu"
MIG = "nvidia.com/mig-1g.24gb"
NODE = "ucs-c845a-01"  # the node of tests/kube/pool.yaml
TENANT = "alice@example.org"
GIB = 2**30


def session_spec(
    mode: Mode = Mode.INTERACTIVE,
    units: int = 2,
    owner: str = TENANT,
    kind: str = "mig-1g.24gb",
    catalog: Catalog | None = None,
) -> SessionSpec:
    """The spec the reconciler would build for a booking of `units` of `kind` (MIG slices by
    default) on the sim's pool, with the runtime catalog `catalog` (none by default)."""
    pools = load_pool_file(SIM_POOL_FILE)
    request = Reserved(
        reservation_id=uuid.uuid4(),
        owner=owner,
        pool="c845a",
        start=datetime(2030, 1, 7, 9, tzinfo=UTC),
        end=datetime(2030, 1, 7, 17, tzinfo=UTC),
        gpu_kind=kind,
        gpu_count=units,
        mode=mode,
        cpu_millicores=32_000,
        memory_bytes=192 * GIB,
    )
    # A small disk: the sim's volumes are hostPath directories that are never written.
    cfg = SessionConfig(disk_bytes=6 * GIB)
    return build(request, pools[0], cfg, known_gpu_resources(pools), catalog)


def pod(name: str, resources: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A one-container pod; extended resources go into requests and limits alike, as required.
    A grace period of 1 s unless given: with Kubernetes' default of 30 the namespace controller
    looks at a deleted namespace again only after 16 s, and every test's teardown waits."""
    spec = {"terminationGracePeriodSeconds": 1, **spec}
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
