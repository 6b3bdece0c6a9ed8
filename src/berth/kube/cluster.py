"""The Cluster port: everything the reconciler needs from Kubernetes, and nothing more.

The reconciler depends on this Protocol; `berth.kube.adapter.KubeCluster` implements it on the
official client. Every method is idempotent, and raises only `berth.kube.errors` types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

Manifest = Mapping[str, Any]


@dataclass(frozen=True)
class NamespaceInfo:
    name: str
    labels: dict[str, str]
    phase: str  # Active | Terminating
    deleting_since: datetime | None = None
    finalizers: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObjectRef:
    api_version: str
    kind: str
    name: str
    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkspaceState:
    """The workspace Deployment as one read shows it."""

    ready: bool
    reason: str | None = None  # why not (yet), when the Deployment says so


class Cluster(Protocol):
    def apply(self, objects: Sequence[Manifest]) -> None:
        """Server-side apply each object (field manager `berth`, forced), in order."""

    def apply_together(self, objects: Sequence[Manifest]) -> None:
        """Server-side apply objects that do not depend on each other, concurrently; returns
        when all are applied, or raises the error of the first that failed (in `objects`'
        order) once the others have finished."""

    def reapply(self, objects: Sequence[Manifest]) -> list[ObjectRef]:
        """Server-side apply each object like `apply`; return those it changed (or recreated):
        the objects that had drifted from what Berth applied."""

    def delete_namespace(self, name: str) -> None:
        """Ask for a namespace's deletion; already gone is success."""

    def namespaces(self, selector: str) -> list[NamespaceInfo]:
        """Namespaces matching a label selector (one list call)."""

    def workspace_state(self, namespace: str) -> WorkspaceState:
        """Ready when the session's `workspace` Deployment has an available replica (one read)."""

    def diagnose_workspace(self, namespace: str) -> str:
        """Why the workspace is not ready, in one line: the pods' conditions and container
        states, the claims' phases and the namespace's latest warning events."""

    def cluster_scoped(self, selector: str) -> list[ObjectRef]:
        """Berth-labelled cluster-scoped objects (ClusterRoles, ClusterRoleBindings, and the
        artifact PVs of older versions, so an upgrade cleans them up)."""

    def delete(self, ref: ObjectRef) -> None:
        """Delete one object; already gone is success."""

    def clear_namespace_finalizers(self, name: str) -> None:
        """Unblock a namespace stuck in Terminating by emptying spec.finalizers."""

    def healthy(self) -> bool:
        """True when the API server says it is ready (`/readyz`, which checks etcd too)."""

    def is_openshift(self) -> bool:
        """True when the route.openshift.io API group is served."""

    def list_objects(
        self, api_version: str, kind: str, namespace: str, selector: str
    ) -> list[dict[str, Any]]:
        """Objects of one kind in one namespace matching a label selector (one list call):
        the pre-pull DaemonSets and their pods in the platform namespace."""
