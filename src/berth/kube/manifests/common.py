"""Names, labels and small helpers every session object shares.

Names inside a session namespace are fixed (the namespace itself is the unique part), so the
reconciler, the tests and a person running `kubectl` all find the same objects.
"""

from __future__ import annotations

from typing import Any

from berth.domain.session import (
    DEFAULT_INSTALLATION,
    LABEL_INSTALLATION,
    LABEL_RESERVATION,
    MANAGED_BY,
    SessionSpec,
)

Obj = dict[str, Any]

MANAGED_SELECTOR = f"{MANAGED_BY[0]}={MANAGED_BY[1]}"
FIELD_MANAGER = "berth"

WORKSPACE = "workspace"  # ServiceAccount, the disk's claim, Deployment, Service, Ingress/Route
ADMIN_BINDING = "berth-admin"
QUOTA = "berth-quota"
LIMITS = "berth-defaults"
PROXY = "berth-proxy"
INGRESS_POLICY = "berth-ingress"
EGRESS_POLICY = "berth-egress"
AUTH_SECRET = "workspace-auth"  # noqa: S105 (the name of a Secret, not a secret)
DISK = WORKSPACE  # the session's one disk: a claim of the pool's StorageClass
ARTIFACTS = "artifacts"  # the read-only claim on the node's artifact cache
APP_LABEL = "app.kubernetes.io/name"
HOSTNAME = "kubernetes.io/hostname"
NAMESPACE_NAME = "kubernetes.io/metadata.name"
CODE_SERVER_PORT = 8080
# The installed reconciler's ServiceAccount, in the platform namespace (deploy/base).
RECONCILER_ACCOUNT = "berth-reconciler"


def installation_selector(installation: str) -> str:
    """The label selector that lists one installation's objects. The default installation's
    also finds objects made before the label existed (no label), so its list is all of Berth's
    and must still be filtered with `domain.session.installation_of`; a label selector cannot
    say "this value or none"."""
    if installation == DEFAULT_INSTALLATION:
        return MANAGED_SELECTOR
    return f"{MANAGED_SELECTOR},{LABEL_INSTALLATION}={installation}"


def session_selector(reservation_id: str) -> str:
    """Everything of one session, namespaced or cluster-scoped."""
    return f"{MANAGED_SELECTOR},{LABEL_RESERVATION}={reservation_id}"


def meta(spec: SessionSpec, name: str, *, namespaced: bool = True) -> Obj:
    out: Obj = {"name": name, "labels": dict(spec.labels)}
    if namespaced:
        out["namespace"] = spec.namespace
    return out


def obj(api_version: str, kind: str, metadata: Obj, **rest: Any) -> Obj:
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **rest}


def node_terms(spec: SessionSpec) -> Obj:
    """A node selector naming the pool's nodes by hostname: pods and volumes stay in the pool."""
    expression = {"key": HOSTNAME, "operator": "In", "values": sorted(spec.nodes)}
    return {"nodeSelectorTerms": [{"matchExpressions": [expression]}]}


RUNTIME = "berth-runtime"  # the session's runtime ConfigMap, read by berth-serve
RUNTIME_KEY = "runtime.json"
# Model servers and agents in a session (berth-serve, berth-policy; docs/runtime.md)
SERVER_LABEL = "berth.io/server"
ROLE_LABEL = "berth.io/role"
