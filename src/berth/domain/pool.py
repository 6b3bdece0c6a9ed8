"""Pools, nodes and GPUs, and the bookable GPU kinds derived from them.

A person books physical units: a whole GPU (kind `gpu`) or a MIG slice (kind `mig-<profile>`).
Kubernetes schedules time-sliced replicas of those units, so one booked unit becomes `replicas`
slots of the matching extended resource. Deriving both numbers from the one pool description
keeps the booking math and the hardware layout from ever disagreeing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from berth.domain.approval import ApprovalRules
from berth.domain.idle import IdlePolicy

WHOLE_GPU = "gpu"
CPU = "cpu"
MEMORY = "memory"
DEFAULT_CLUSTER = "default"  # the cluster Berth finds by itself (BERTH_KUBECONFIG, a sim, ...)


@dataclass(frozen=True)
class Mig:
    profile: str  # e.g. "1g.24gb"
    count: int  # slices of this profile on the GPU


@dataclass(frozen=True)
class Gpu:
    index: int
    model: str
    memory_bytes: int
    replicas: int  # time-slicing replicas per physical unit (per slice when MIG is on)
    mig: Mig | None = None

    @property
    def kind(self) -> str:
        return mig_kind(self.mig.profile) if self.mig else WHOLE_GPU

    @property
    def units(self) -> int:
        """Physical bookable units on this GPU: its MIG slices, or the GPU itself."""
        return self.mig.count if self.mig else 1


@dataclass(frozen=True)
class Node:
    name: str
    cpu_millicores: int
    memory_bytes: int
    storage_class: str
    gpus: tuple[Gpu, ...] = ()


@dataclass(frozen=True)
class KindDefaults:
    """CPU and memory a reservation gets per booked unit of a kind when it asks for none."""

    cpu_millicores: int
    memory_bytes: int


@dataclass(frozen=True)
class GpuKind:
    """A bookable GPU kind of a pool with its capacity in physical units."""

    name: str
    units: int
    replicas: int  # Kubernetes slots per booked unit
    resource: str  # Kubernetes extended resource, e.g. nvidia.com/mig-1g.24gb
    model: str
    memory_bytes: int  # memory of one unit (a MIG slice's share, or the whole GPU)


@dataclass(frozen=True)
class Pool:
    name: str
    nodes: tuple[Node, ...]
    defaults: Mapping[str, KindDefaults] = field(default_factory=dict)
    cluster: str = DEFAULT_CLUSTER  # the Kubernetes cluster its nodes are in (docs/scale.md)
    # idle-GPU reclaim per GPU kind (domain/idle.py); a kind not named here is never reclaimed
    idle: Mapping[str, IdlePolicy] = field(default_factory=dict)
    # which bookings wait for a lead or an admin (domain/approval.py); None: none do by rule
    approval: ApprovalRules | None = None

    def kinds(self) -> dict[str, GpuKind]:
        """Bookable GPU kinds of the pool, by name, with their total physical units."""
        return dict(self._kinds)

    def capacity(self) -> dict[str, int]:
        """Bookable capacity of every resource: GPU kinds in units, cpu in m, memory in bytes."""
        return dict(self._capacity)

    # Pools are immutable, so what derives from them is computed once per object: a pool of a
    # hundred 8-GPU nodes is consulted several times per booking.
    @cached_property
    def _kinds(self) -> dict[str, GpuKind]:
        units: dict[str, int] = {}
        first: dict[str, Gpu] = {}
        for node in self.nodes:
            for gpu in node.gpus:
                units[gpu.kind] = units.get(gpu.kind, 0) + gpu.units
                first.setdefault(gpu.kind, gpu)
        return {
            kind: GpuKind(
                name=kind,
                units=units[kind],
                replicas=gpu.replicas,
                resource=kube_resource(kind),
                model=gpu.model,
                memory_bytes=gpu.memory_bytes // gpu.units,
            )
            for kind, gpu in first.items()
        }

    @cached_property
    def _capacity(self) -> dict[str, int]:
        cap = {name: kind.units for name, kind in self._kinds.items()}
        cap[CPU] = sum(n.cpu_millicores for n in self.nodes)
        cap[MEMORY] = sum(n.memory_bytes for n in self.nodes)
        return cap

    def gpu_fractions(self) -> dict[str, float]:
        """The share of a physical GPU one unit of each kind is: 1 for `gpu`, 1/4 for a
        1g.24gb slice of four. Whole-GPU and MIG figures add up in GPUs through it."""
        fraction: dict[str, float] = {}
        for node in self.nodes:
            for gpu in node.gpus:
                fraction.setdefault(gpu.kind, 1.0 / gpu.units)
        return fraction

    def defaults_for(self, kind: str) -> KindDefaults:
        """Per-unit CPU/memory defaults of a kind: configured, or an even share of the pool.

        The even share splits the pool's CPU and memory over all its physical GPU units, so a
        pool booked full with defaults hands out exactly what it has.
        """
        if kind in self.defaults:
            return self.defaults[kind]
        units = sum(k.units for k in self._kinds.values()) or 1
        cap = self._capacity
        gib = 2**30
        return KindDefaults(
            cpu_millicores=(cap[CPU] // units) // 1000 * 1000 or 1000,
            memory_bytes=(cap[MEMORY] // units) // gib * gib or gib,
        )


@dataclass(frozen=True)
class ClusterRef:
    """A cluster pools live on, and how to reach it: a kubeconfig file and context. None for
    both: the cluster Berth finds by itself (only the `default` one may leave them out)."""

    name: str
    kubeconfig: str | None = None
    context: str | None = None


def mig_kind(profile: str) -> str:
    return f"mig-{profile}"


def kube_resource(kind: str) -> str:
    """`gpu` -> `nvidia.com/gpu`; `mig-1g.24gb` -> `nvidia.com/mig-1g.24gb`."""
    return f"nvidia.com/{kind}"


def validate_pools(pools: Iterable[Pool]) -> list[str]:
    """Problems that span pools or nodes (the file's schema checks each field on its own)."""
    problems: list[str] = []
    seen_pools: set[str] = set()
    seen_nodes: dict[str, str] = {}
    for pool in pools:
        if pool.name in seen_pools:
            problems.append(f"pool {pool.name!r} is defined twice")
        seen_pools.add(pool.name)
        replicas: dict[str, int] = {}
        for node in pool.nodes:
            if node.name in seen_nodes:
                problems.append(
                    f"node {node.name!r} is in pool {seen_nodes[node.name]!r} and {pool.name!r}"
                )
            seen_nodes[node.name] = pool.name
            indexes = [g.index for g in node.gpus]
            if len(indexes) != len(set(indexes)):
                problems.append(f"node {node.name!r} lists a GPU index twice")
            for gpu in node.gpus:
                if replicas.setdefault(gpu.kind, gpu.replicas) != gpu.replicas:
                    problems.append(
                        f"pool {pool.name!r}: every {gpu.kind} must have the same replicas "
                        f"(a booking of one unit must mean the same slots on every node)"
                    )
        for kind in pool.defaults:
            if kind not in pool.kinds():
                problems.append(f"pool {pool.name!r}: defaults for unknown GPU kind {kind!r}")
        for kind in pool.idle:
            if kind not in pool.kinds():
                problems.append(f"pool {pool.name!r}: idle policy for unknown GPU kind {kind!r}")
        for kind in pool.approval.kinds if pool.approval else ():
            if kind not in pool.kinds():
                problems.append(f"pool {pool.name!r}: approval rule for unknown GPU kind {kind!r}")
    return problems
