"""The namespace and who may act in it.

The owner (as the cluster knows them: `SessionSpec.owner_user`, e.g. `oidc:alice` or the
OpenShift user) and the workspace's ServiceAccount get the built-in `admin` ClusterRole through a
RoleBinding: full control of ordinary objects inside the namespace, read-only quota and limits,
nothing outside. The installed reconciler's ServiceAccount is bound too: its ClusterRole
writes Secrets but reads none, so it reads Secrets only in the namespaces it made. Pod Security
admission at `baseline` stops that admin from running privileged or host-path pods, which would
otherwise reach the node and every other tenant on it; the workspace itself meets `restricted`.
"""

from __future__ import annotations

from berth.domain.session import SessionSpec
from berth.kube.manifests.common import (
    ADMIN_BINDING,
    RECONCILER_ACCOUNT,
    WORKSPACE,
    Obj,
    meta,
    obj,
)

POD_SECURITY_LEVEL = "baseline"
POD_SECURITY = {
    f"pod-security.kubernetes.io/{mode}": POD_SECURITY_LEVEL
    for mode in ("enforce", "warn", "audit")
}


def namespace(spec: SessionSpec) -> Obj:
    metadata = meta(spec, spec.namespace, namespaced=False)
    metadata["labels"] = {**spec.labels, **POD_SECURITY}
    return obj("v1", "Namespace", metadata)


def service_account(spec: SessionSpec) -> Obj:
    return obj("v1", "ServiceAccount", meta(spec, WORKSPACE))


def admin_binding(spec: SessionSpec) -> Obj:
    return obj(
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        meta(spec, ADMIN_BINDING),
        roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        subjects=[
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": spec.owner_user},
            {"kind": "ServiceAccount", "name": WORKSPACE, "namespace": spec.namespace},
            # The installed reconciler reads the session's Secret (drift repair) through this
            # binding: its ClusterRole may write Secrets but read none, so it reads no Secret
            # outside the namespaces it made (deploy/base/rbac.yaml, docs/install.md).
            {
                "kind": "ServiceAccount",
                "name": RECONCILER_ACCOUNT,
                "namespace": spec.config.platform_namespace,
            },
        ],
    )
