"""Pure manifest builders: a SessionSpec in, plain dicts out, in the order they must be applied.

Nothing here talks to a cluster, reads a clock or draws a random number, so the same spec
always gives the same objects (the workspace password is generated and stored by the
reconciler and passed in). Each step is a name the reconciler records progress under and the
objects it applies together with server-side apply; every object carries the session's labels,
so one selector finds all of a session and `MANAGED_SELECTOR` finds all of Berth's.

Order matters where admission looks at earlier objects: the quota and limits exist before
anything that makes pods, the proxy ConfigMap before the Deployment that reads it, the claims
before the pod that mounts them. And the claims exist before the quota: the API server charges
a claim to the quota in admission, before it stores the claim, and does not take the charge back
when the request is cut off (the reconciler killed mid-request); the quota then counts a claim
that does not exist until the quota controller's next full recount (5 minutes by default), and
refuses the claim when it is applied again. Claims made before the quota are counted once, by
the quota's first count. Within that order most objects are independent, so the steps fall into four
phases (`session_phases`) whose objects the reconciler applies concurrently.
"""

from __future__ import annotations

from berth.domain.session import SessionSpec
from berth.kube.manifests import ingress, namespace, network, quota, runtime, storage, workspace
from berth.kube.manifests.common import (
    FIELD_MANAGER,
    MANAGED_SELECTOR,
    Obj,
    installation_selector,
    session_selector,
)

Step = tuple[str, list[Obj]]

# The steps whose objects fence a session in (and the workspace's auth Secret): what drift
# repair re-applies to every ACTIVE session on its slow cadence.
FENCE_STEPS = ("rbac", "quota", "config", "network")
# Steps whose objects do not depend on each other are applied together (concurrently): the
# namespace first; then the claims, before any quota can charge them; then the fence and
# configuration; then what makes pods and routes to them, once the quota, limits, policies,
# ConfigMap and claims exist. A step not named here goes with the fence.
PHASES = (("namespace",), ("storage",), FENCE_STEPS, ("workspace", "ingress"))
STEP_NAMES = tuple(name for phase in PHASES for name in phase)

__all__ = [
    "FENCE_STEPS",
    "FIELD_MANAGER",
    "MANAGED_SELECTOR",
    "STEP_NAMES",
    "Obj",
    "Step",
    "cluster_leftovers_selector",
    "fence_objects",
    "installation_selector",
    "session_phases",
    "session_selector",
    "session_steps",
]


def session_steps(spec: SessionSpec, *, openshift: bool, password: str) -> list[Step]:
    """Every object of a session namespace, grouped into ordered provisioning steps."""
    steps: list[Step] = [
        ("namespace", [namespace.namespace(spec)]),
        ("storage", storage.volumes(spec)),
        ("rbac", [namespace.service_account(spec), namespace.admin_binding(spec)]),
        ("quota", [quota.quota(spec), quota.limit_range(spec)]),
        ("config", [network.proxy_config(spec), runtime.runtime_config(spec)]),
        (
            "network",
            [network.ingress_policy(spec, openshift=openshift), network.egress_policy(spec)],
        ),
        (
            "workspace",
            [
                workspace.auth_secret(spec, password),
                workspace.deployment(spec, openshift=openshift),
                workspace.service(spec),
            ],
        ),
        ("ingress", [ingress.route(spec) if openshift else ingress.ingress(spec)]),
    ]
    return steps


def session_phases(steps: list[Step]) -> list[list[Step]]:
    """The steps in the phases they can be applied in: every step of a phase may be applied at
    the same time as the others; a phase starts once the one before it has been applied."""
    fence = PHASES.index(FENCE_STEPS)

    def phase_of(name: str) -> int:
        return next((i for i, names in enumerate(PHASES) if name in names), fence)

    phases: list[list[Step]] = [[] for _ in PHASES]
    for step in steps:
        phases[phase_of(step[0])].append(step)
    return [phase for phase in phases if phase]


def fence_objects(steps: list[Step]) -> list[Obj]:
    """Of a session's steps, the fence: ServiceAccount and RoleBinding, quota and limits, the
    proxy ConfigMap, the network policies, and the workspace's auth Secret."""
    fence = [o for name, objects in steps if name in FENCE_STEPS for o in objects]
    workspace_objects = dict(steps)["workspace"]
    return fence + [o for o in workspace_objects if o["kind"] == "Secret"]


def cluster_leftovers_selector() -> str:
    """Label selector for everything Berth made, namespaces and cluster-scoped objects alike."""
    return MANAGED_SELECTOR
