"""The hard edges of a session: its ResourceQuota and the LimitRange that makes it usable.

The quota names every GPU resource the installation knows, with 0 for all but the booked kind,
so a MIG session cannot take an idle whole GPU. Quota on `limits.*` forces every pod to declare
limits; the LimitRange supplies modest defaults so a bare `kubectl run` is admitted and a few
of them fit side by side.
"""

from __future__ import annotations

from berth.domain.quantity import format_bytes, format_millicores
from berth.domain.session import GIB, SessionSpec
from berth.kube.manifests.common import LIMITS, QUOTA, Obj, meta, obj
from berth.kube.manifests.storage import ARTIFACTS_BYTES

MIB = 2**20


def quota(spec: SessionSpec) -> Obj:
    q = spec.quota
    cpu = format_millicores(q.cpu_millicores)
    memory = format_bytes(q.memory_bytes)
    hard: dict[str, str] = {
        "requests.cpu": cpu,
        "limits.cpu": cpu,
        "requests.memory": memory,
        "limits.memory": memory,
        # The platform's read-only artifact claim is counted here but is not the user's to spend.
        "requests.storage": format_bytes(q.storage_bytes + ARTIFACTS_BYTES),
        "persistentvolumeclaims": str(q.pvcs + 1),
        "pods": str(q.pods),
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }
    for resource, slots in sorted(q.gpu.items()):
        hard[f"requests.{resource}"] = str(slots)
    return obj("v1", "ResourceQuota", meta(spec, QUOTA), spec={"hard": hard})


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def container_defaults(spec: SessionSpec) -> tuple[dict[str, str], dict[str, str]]:
    """(default requests, default limits) for a container that declares none.

    An eighth of the booking, between 100m/128Mi and 1 core/2Gi, as the request; twice that as
    the limit (never more than the booking). Integer arithmetic on whole millicores and MiB.
    """
    q = spec.quota
    cpu = _clamp(q.cpu_millicores // 8, 100, 1000)
    mem = _clamp(q.memory_bytes // 8 // MIB, 128, 2 * GIB // MIB) * MIB
    cpu_limit = min(2 * cpu, q.cpu_millicores)
    mem_limit = min(2 * mem, q.memory_bytes)
    requests = {"cpu": format_millicores(cpu), "memory": format_bytes(mem)}
    limits = {"cpu": format_millicores(cpu_limit), "memory": format_bytes(mem_limit)}
    return requests, limits


def limit_range(spec: SessionSpec) -> Obj:
    requests, limits = container_defaults(spec)
    return obj(
        "v1",
        "LimitRange",
        meta(spec, LIMITS),
        spec={"limits": [{"type": "Container", "defaultRequest": requests, "default": limits}]},
    )
