"""When the sim is really ready, not merely when the API server answers.

A cluster whose /readyz is ok still refuses work for a while: quota admission answers "status
unknown" until the quota controller has filled a quota's status, a namespace has no `default`
service account until its controller ran (pods are rejected), `admin` has no rules until the
aggregation controller merged them, and a new node carries the not-ready taint until kwok
reported it Ready and the node-lifecycle controller took the taint off. Tests that start before
that flake; so `up` waits for each of these facts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from berth.sim.apiclient import ApiClient, ApiError

PROBE_NAMESPACE = "kube-system"
PROBE_QUOTA = "berth-sim-readiness-probe"
PROBE_POLICY = "berth-sim-admission-probe"
ADMISSION = "/apis/admissionregistration.k8s.io/v1"


class NotReady(TimeoutError):
    """The sim did not become ready in time; the message names what was missing."""


def wait_for(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    interval: float = 0.2,
    hold: float = 0.0,
) -> None:
    """Poll `check` until it is true and has stayed true for `hold` seconds."""
    deadline = time.monotonic() + timeout
    last_error = ""
    since: float | None = None
    while time.monotonic() < deadline:
        try:
            ok = check()
        except ApiError as err:
            ok, last_error = False, f" (last error: {err})"
        now = time.monotonic()
        since = (since or now) if ok else None
        if since is not None and now - since >= hold:
            return
        time.sleep(interval)
    raise NotReady(f"timed out after {timeout:.0f}s waiting for {what}{last_error}")


def node_ready(node: dict[str, Any]) -> bool:
    conditions = node.get("status", {}).get("conditions", [])
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    return ready and not node.get("spec", {}).get("taints")


def nodes_ready(api: ApiClient, names: set[str]) -> bool:
    nodes = api.get("/api/v1/nodes")["items"]
    ready = {n["metadata"]["name"] for n in nodes if node_ready(n)}
    return names <= ready


def default_service_account(api: ApiClient) -> bool:
    try:
        api.get("/api/v1/namespaces/default/serviceaccounts/default")
    except ApiError as err:
        if err.status == 404:
            return False
        raise
    return True


def admin_role_aggregated(api: ApiClient) -> bool:
    role = api.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/admin")
    return bool(role.get("rules"))


def quota_controller_running(api: ApiClient) -> bool:
    """Create a probe quota once; ready when the controller has written its status."""
    path = f"/api/v1/namespaces/{PROBE_NAMESPACE}/resourcequotas"
    api.create(
        path,
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": PROBE_QUOTA},
            "spec": {"hard": {"count/configmaps": "1000"}},
        },
    )
    quota = api.get(f"{path}/{PROBE_QUOTA}")
    if not quota.get("status", {}).get("hard"):
        return False
    api.delete(f"{path}/{PROBE_QUOTA}")
    return True


def _probe_policy() -> tuple[dict[str, Any], dict[str, Any]]:
    """A policy that refuses one ConfigMap name in kube-system, and its binding."""
    api_version = "admissionregistration.k8s.io/v1"
    policy = {
        "apiVersion": api_version,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": PROBE_POLICY},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": PROBE_NAMESPACE}
                },
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["configmaps"],
                    }
                ],
            },
            "validations": [
                {"expression": f"object.metadata.name != '{PROBE_POLICY}'", "message": "probe"}
            ],
        },
    }
    binding = {
        "apiVersion": api_version,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": PROBE_POLICY},
        "spec": {"policyName": PROBE_POLICY, "validationActions": ["Deny"]},
    }
    return policy, binding


def admission_policies_enforced(api: ApiClient) -> bool:
    """Admission policies take effect once the API server's informers have seen them. A probe
    policy created after Berth's refuses a dry-run ConfigMap; once it does, every policy and
    binding created before it is in force too (an informer sees one kind's objects in order)."""
    policy, binding = _probe_policy()
    api.create(f"{ADMISSION}/validatingadmissionpolicies", policy)
    api.create(f"{ADMISSION}/validatingadmissionpolicybindings", binding)
    probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": PROBE_POLICY}}
    try:
        api.create(f"/api/v1/namespaces/{PROBE_NAMESPACE}/configmaps?dryRun=All", probe)
    except ApiError as err:
        if err.status != 422:
            raise
        api.delete(f"{ADMISSION}/validatingadmissionpolicybindings/{PROBE_POLICY}")
        api.delete(f"{ADMISSION}/validatingadmissionpolicies/{PROBE_POLICY}")
        return True
    return False


def _no_guard() -> None:
    return None


def wait_until_ready(
    api: ApiClient,
    node_names: set[str],
    timeout: float,
    on_step: Callable[[str], None],
    guard: Callable[[], None] = _no_guard,
) -> None:
    """Wait for every readiness fact in turn; `guard` runs before each check and may raise
    (the sim uses it to report a component that died instead of timing out)."""
    deadline = time.monotonic() + timeout
    # The node check must hold for a second: the node-lifecycle controller may still put its
    # not-ready taint on a node it first saw before kwok reported it Ready.
    checks: list[tuple[str, Callable[[], bool], float]] = [
        ("the default/default service account", lambda: default_service_account(api), 0.0),
        ("rules in ClusterRole admin", lambda: admin_role_aggregated(api), 0.0),
        (
            "a ResourceQuota status from the quota controller",
            lambda: quota_controller_running(api),
            0.0,
        ),
        ("admission policies in force", lambda: admission_policies_enforced(api), 0.0),
        (
            f"{len(node_names)} node(s) Ready and untainted",
            lambda: nodes_ready(api, node_names),
            1.0,
        ),
    ]
    for what, check, hold in checks:
        on_step(what)

        def guarded(check: Callable[[], bool] = check) -> bool:
            guard()
            return check()

        left = max(1.0, deadline - time.monotonic())
        wait_for(what, guarded, left, interval=0.25, hold=hold)
