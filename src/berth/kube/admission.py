"""Guardrails the API server enforces on every session namespace, whoever asks.

The tenant is `admin` in their session namespace and will try everything `admin` allows. RBAC
already keeps them out of other namespaces, cluster-scoped objects and the quota; these
ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1, CEL) close what RBAC cannot
express. Each is bound to the namespaces labelled `app.kubernetes.io/managed-by=berth` (a
tenant cannot relabel their namespace: `admin` may not update namespaces), with
`validationActions: [Deny]`:

- `berth-device-env`: no pod sets an environment variable that makes the NVIDIA container
  runtime expose devices (`NVIDIA_VISIBLE_DEVICES` other than `void`/`none`, the MIG
  config/monitor selectors, IMEX channels, GDS/MOFED/NVSwitch/GDRCopy), in `env` of any
  container, init container or ephemeral container, and no `envFrom` prefix that could spell
  one. `CUDA_VISIBLE_DEVICES` is allowed: it only filters, inside the container, the devices
  the runtime already exposed.
- `berth-device-env-sources`: no ConfigMap or Secret holds a key named like one of those
  variables, so `envFrom` (whose content a pod policy cannot see) cannot carry one either.
- `berth-artifacts-readonly`: a pod mounts the artifact-cache claim only read-only (the
  volume's `persistentVolumeClaim.readOnly` and every mount of it).
- `berth-cache-claims`: only the reconciler makes claims of the artifact cache's StorageClass
  (`berth-cache`; its volumes are the node's cache, provisioned by the cache agent for any
  claim of the class), by creating one or by giving an unclassed claim that class later; and
  only the reconciler creates a claim naming its volume (`spec.volumeName`), so a tenant
  cannot pre-bind one to a cache volume. (Setting `volumeName` once on an unbound claim by
  UPDATE is what the PV controller does when it binds, under an identity each distribution
  names differently, so it is not fenced here; it binds nothing on its own: every cache
  volume is pre-bound by `claimRef` to its claim's uid, and the PV controller binds a claim
  only to a volume whose `claimRef` is empty or that claim.)
- `berth-owned-objects`: Berth's own objects of the fence kinds (labelled managed-by Berth)
  are created, changed and deleted only by the reconciler's identity, or deleted while their
  namespace is terminating (the namespace controller, whoever runs it); nobody else may
  create an object carrying the label or take it off one.

Pods are judged, not Deployments: every controller (Deployment, Job, StatefulSet, an operator's
custom resource) makes pods, and the pod is what the runtime starts. A Deployment with a
forbidden variable is accepted; its ReplicaSet cannot create the pod and says so.

The reconciler's identity is rendered into `berth-owned-objects` (`reconcilers`), so the
policies depend on no other object: nothing to forget, delete or misname that would fail open
or lock the reconciler out. Changing the identity means rendering and applying again
(`berth render admission --reconciler ...`). Everything here is a pure function: the same
arguments give the same objects, for `berth sim up` and for the install manifests alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from berth.domain.session import CACHE_STORAGE_CLASS, MANAGED_BY
from berth.kube.manifests.common import ARTIFACTS, RECONCILER_ACCOUNT, Obj, obj

API_VERSION = "admissionregistration.k8s.io/v1"
PREFIX = "berth-"

# Variables the NVIDIA container toolkit reads to decide which devices a container gets.
VISIBLE_DEVICES = "NVIDIA_VISIBLE_DEVICES"
DEVICE_ENV = (
    VISIBLE_DEVICES,
    "NVIDIA_MIG_CONFIG_DEVICES",
    "NVIDIA_MIG_MONITOR_DEVICES",
    "NVIDIA_IMEX_CHANNELS",
    "NVIDIA_GDS",
    "NVIDIA_MOFED",
    "NVIDIA_NVSWITCH",
    "NVIDIA_GDRCOPY",
)
NO_DEVICES = ("void", "none")  # the values of NVIDIA_VISIBLE_DEVICES that expose nothing

# Kinds of Berth's fence objects only the reconciler may write (ServiceAccounts: see below).
OWNED_CORE = ("resourcequotas", "limitranges", "secrets", "configmaps", "serviceaccounts")
OWNED_RULES = (
    ("", OWNED_CORE),
    ("networking.k8s.io", ("networkpolicies",)),
    ("rbac.authorization.k8s.io", ("rolebindings",)),
)
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

DEVICE_ENV_POLICY = f"{PREFIX}device-env"
DEVICE_SOURCES_POLICY = f"{PREFIX}device-env-sources"
ARTIFACTS_POLICY = f"{PREFIX}artifacts-readonly"
CACHE_CLAIMS_POLICY = f"{PREFIX}cache-claims"
OWNED_POLICY = f"{PREFIX}owned-objects"
POLICY_NAMES = (
    DEVICE_ENV_POLICY,
    DEVICE_SOURCES_POLICY,
    ARTIFACTS_POLICY,
    CACHE_CLAIMS_POLICY,
    OWNED_POLICY,
)


def _cel_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{item}'" for item in items) + "]"


def _session_namespaces() -> Obj:
    return {"matchLabels": {MANAGED_BY[0]: MANAGED_BY[1]}}


def _pod_rules() -> list[Obj]:
    """Pods when created, and the ephemeral containers added to a running pod later."""
    return [
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "operations": ["CREATE"],
            "resources": ["pods"],
        },
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "operations": ["UPDATE"],
            "resources": ["pods/ephemeralcontainers"],
        },
    ]


def _every_container(condition: str) -> str:
    """`condition` (about `c`) holds for every container of the pod, of all three lists.

    The lists have different schema types, so CEL cannot concatenate them; each is tested."""
    return " && ".join(
        f"object.spec.{field}.all(c, {condition})"
        if field == "containers"
        else f"(!has(object.spec.{field}) || object.spec.{field}.all(c, {condition}))"
        for field in CONTAINER_LISTS
    )


def _offenders(condition: str) -> str:
    """The names of the containers for which `condition` fails, as one CEL list of strings."""
    parts = [
        f"object.spec.{field}.filter(c, !({condition})).map(c, c.name)"
        if field == "containers"
        else (
            f"(has(object.spec.{field}) ? "
            f"object.spec.{field}.filter(c, !({condition})).map(c, c.name) : [])"
        )
        for field in CONTAINER_LISTS
    ]
    return " + ".join(parts)


def _policy(name: str, spec: Obj) -> Obj:
    return obj(API_VERSION, "ValidatingAdmissionPolicy", {"name": name}, spec=spec)


def _binding(policy: str) -> Obj:
    return obj(
        API_VERSION,
        "ValidatingAdmissionPolicyBinding",
        {"name": policy},
        spec={
            "policyName": policy,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": _session_namespaces()},
        },
    )


def _constraints(rules: list[Obj], *, owned_only: bool = False) -> Obj:
    out: Obj = {"namespaceSelector": _session_namespaces(), "resourceRules": rules}
    if owned_only:
        # evaluated against the old and the new object: matches a forgery (new carries the
        # label), a change or deletion of Berth's object, and taking the label off one
        out["objectSelector"] = {"matchLabels": {MANAGED_BY[0]: MANAGED_BY[1]}}
    return out


ENV_OK = (
    "!has(c.env) || c.env.all(e, !(e.name in variables.deviceEnv) || "
    f"(e.name == '{VISIBLE_DEVICES}' && has(e.value) && e.value in {_cel_list(NO_DEVICES)}))"
)
ENV_FROM_OK = (
    "!has(c.envFrom) || c.envFrom.all(s, !has(s.prefix) || s.prefix == '' || "
    "!variables.deviceEnv.exists(v, v.startsWith(s.prefix)))"
)


def device_env_policy() -> Obj:
    names = ", ".join(DEVICE_ENV)
    return _policy(
        DEVICE_ENV_POLICY,
        {
            "failurePolicy": "Fail",
            "matchConstraints": _constraints(_pod_rules()),
            "variables": [{"name": "deviceEnv", "expression": _cel_list(DEVICE_ENV)}],
            "validations": [
                {
                    "expression": _every_container(ENV_OK),
                    "reason": "Forbidden",
                    "messageExpression": (
                        "'GPUs come only from the device plugin: container(s) ' + "
                        f"({_offenders(ENV_OK)}).join(', ') + "
                        f"' set a device selector, one of {names} ({VISIBLE_DEVICES} may only be "
                        f"{' or '.join(NO_DEVICES)})'"
                    ),
                },
                {
                    "expression": _every_container(ENV_FROM_OK),
                    "reason": "Forbidden",
                    "messageExpression": (
                        "'GPUs come only from the device plugin: container(s) ' + "
                        f"({_offenders(ENV_FROM_OK)}).join(', ') + "
                        f"' use an envFrom prefix that could spell one of {names}'"
                    ),
                },
            ],
        },
    )


def device_sources_policy() -> Obj:
    """ConfigMaps and Secrets: a pod's `envFrom` turns their keys into variables unseen."""
    keys = (
        "(has(object.data) ? object.data.filter(k, k in variables.deviceEnv) : []) + "
        "(has(object.binaryData) ? object.binaryData.filter(k, k in variables.deviceEnv) : [])"
    )
    return _policy(
        DEVICE_SOURCES_POLICY,
        {
            "failurePolicy": "Fail",
            "matchConstraints": _constraints(
                [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["configmaps", "secrets"],
                    }
                ]
            ),
            "variables": [
                {"name": "deviceEnv", "expression": _cel_list(DEVICE_ENV)},
                {"name": "keys", "expression": keys},
            ],
            "validations": [
                {
                    "expression": "size(variables.keys) == 0",
                    "reason": "Forbidden",
                    "messageExpression": (
                        "'GPUs come only from the device plugin: ' + request.resource.resource"
                        " + ' ' + object.metadata.name + ' may not hold the key(s) ' + "
                        "variables.keys.join(', ') + ', which envFrom would make variables'"
                    ),
                }
            ],
        },
    )


MOUNT_OK = (
    "!has(c.volumeMounts) || c.volumeMounts.all(m, !(m.name in variables.cacheVolumes) || "
    "(has(m.readOnly) && m.readOnly))"
)


def artifacts_policy() -> Obj:
    is_cache = f"has(v.persistentVolumeClaim) && v.persistentVolumeClaim.claimName == '{ARTIFACTS}'"
    return _policy(
        ARTIFACTS_POLICY,
        {
            "failurePolicy": "Fail",
            "matchConstraints": _constraints(_pod_rules()),
            "variables": [
                {
                    "name": "cacheVolumes",
                    "expression": (
                        f"has(object.spec.volumes) ? object.spec.volumes.filter(v, {is_cache})"
                        ".map(v, v.name) : []"
                    ),
                }
            ],
            "validations": [
                {
                    "expression": (
                        f"!has(object.spec.volumes) || object.spec.volumes.all(v, !({is_cache})"
                        " || (has(v.persistentVolumeClaim.readOnly) && "
                        "v.persistentVolumeClaim.readOnly))"
                    ),
                    "reason": "Forbidden",
                    "message": (
                        f"the artifact cache (claim {ARTIFACTS}) is read-only: its volume must "
                        "set persistentVolumeClaim.readOnly: true"
                    ),
                },
                {
                    "expression": _every_container(MOUNT_OK),
                    "reason": "Forbidden",
                    "messageExpression": (
                        f"'the artifact cache (claim {ARTIFACTS}) is read-only: container(s) ' + "
                        f"({_offenders(MOUNT_OK)}).join(', ') + "
                        "' must mount it with readOnly: true'"
                    ),
                },
            ],
        },
    )


def _reconciler_variable(reconcilers: Sequence[str]) -> Obj:
    return {
        "name": "reconciler",
        "expression": f"request.userInfo.username in {_cel_list(reconcilers)}",
    }


def _denied_as(what: str) -> str:
    """A CEL message: who may not do what to which object, and why (`what`, plain text)."""
    return (
        "request.userInfo.username + ' may not ' + request.operation.lowerAscii() + ' ' + "
        "request.resource.resource + ' ' + (request.operation == 'DELETE' ? oldObject : object)"
        f".metadata.name + ': {what}'"
    )


def cache_claims_policy(reconcilers: Sequence[str], cache_class: str = CACHE_STORAGE_CLASS) -> Obj:
    """Claims on the node's artifact cache: the reconciler's only (see the module's doc)."""
    cls = "has(o.spec.storageClassName) && o.spec.storageClassName == variables.cacheClass"
    return _policy(
        CACHE_CLAIMS_POLICY,
        {
            "failurePolicy": "Fail",
            "matchConstraints": _constraints(
                [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["persistentvolumeclaims"],
                    }
                ]
            ),
            "variables": [
                _reconciler_variable(reconcilers),
                {"name": "cacheClass", "expression": f"'{cache_class}'"},
                {"name": "isCache", "expression": cls.replace("o.", "object.")},
                {
                    "name": "wasCache",
                    "expression": f"oldObject != null && {cls.replace('o.', 'oldObject.')}",
                },
            ],
            "validations": [
                {
                    "expression": (
                        "variables.reconciler || !variables.isCache || variables.wasCache"
                    ),
                    "reason": "Forbidden",
                    "messageExpression": _denied_as(
                        f"claims of the StorageClass {cache_class} are the node\\'s artifact "
                        "cache, made only by Berth\\'s reconciler (the session\\'s claim "
                        f"{ARTIFACTS} is mounted read-only at /cache)"
                    ),
                },
                {
                    "expression": (
                        "variables.reconciler || request.operation != 'CREATE' || "
                        "!has(object.spec.volumeName) || object.spec.volumeName == ''"
                    ),
                    "reason": "Forbidden",
                    "messageExpression": _denied_as(
                        "a new claim may not name its volume (spec.volumeName): volumes are "
                        "bound by their provisioner"
                    ),
                },
            ],
        },
    )


def owned_objects_policy(reconcilers: Sequence[str]) -> Obj:
    """Berth's fence objects: written by the reconciler only.

    Also allowed: deleting them while their namespace is terminating — the namespace
    controller empties the namespace under whatever identity the distribution gives it, and a
    tenant cannot start that (`admin` may not delete namespaces). ServiceAccounts: Berth's may
    not be created, deleted or unlabelled by anyone else, but may be updated (OpenShift's
    pull-secret controller annotates every ServiceAccount; the workspace ServiceAccount holds no
    rights of its own, the RoleBinding does)."""
    label = MANAGED_BY[0]
    keeps_label = (
        f"has(object.metadata.labels) && '{label}' in object.metadata.labels && "
        f"object.metadata.labels['{label}'] == '{MANAGED_BY[1]}'"
    )
    return _policy(
        OWNED_POLICY,
        {
            "failurePolicy": "Fail",
            "matchConstraints": _constraints(
                [
                    {
                        "apiGroups": [group],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE", "DELETE"],
                        "resources": list(resources),
                    }
                    for group, resources in OWNED_RULES
                ],
                owned_only=True,
            ),
            "variables": [
                _reconciler_variable(reconcilers),
                {
                    "name": "namespaceTerminating",
                    "expression": (
                        "namespaceObject != null && has(namespaceObject.metadata.deletionTimestamp)"
                    ),
                },
            ],
            "validations": [
                {
                    "expression": (
                        "variables.reconciler || "
                        "(request.operation == 'DELETE' && variables.namespaceTerminating) || "
                        "(request.resource.resource == 'serviceaccounts' && "
                        f"request.operation == 'UPDATE' && {keeps_label})"
                    ),
                    "reason": "Forbidden",
                    "messageExpression": _denied_as(
                        f"objects labelled {label}={MANAGED_BY[1]} in a session namespace are "
                        "Berth\\'s, written only by its reconciler"
                    ),
                }
            ],
        },
    )


def admission_objects(
    reconcilers: Sequence[str], cache_class: str = CACHE_STORAGE_CLASS
) -> list[Obj]:
    """Every policy, then every binding (a binding of a missing policy does nothing)."""
    if not reconcilers:
        raise ValueError("the reconciler's identity is needed: nobody could write Berth's objects")
    policies = [
        device_env_policy(),
        device_sources_policy(),
        artifacts_policy(),
        cache_claims_policy(reconcilers, cache_class),
        owned_objects_policy(reconcilers),
    ]
    return [*policies, *(_binding(p["metadata"]["name"]) for p in policies)]


def default_reconciler(platform_namespace: str) -> str:
    """The reconciler's ServiceAccount as the install creates it."""
    return f"system:serviceaccount:{platform_namespace}:{RECONCILER_ACCOUNT}"


# The installed reconciler's lane. Its ClusterRole grants the namespaced kinds of a session in
# every namespace (each session namespace is new), and `bind` on `admin` with `create` on
# RoleBindings would let it make itself admin anywhere; RBAC cannot say "only in namespaces
# labelled so". These two policies can: they apply to the reconciler's own requests only.
SCOPE_POLICY = f"{PREFIX}reconciler-scope"
NAMESPACES_POLICY = f"{PREFIX}reconciler-namespaces"
DAEMONSETS_POLICY = f"{PREFIX}reconciler-daemonsets"
PREPULL_PATTERN = "^berth-prepull-[a-z0-9-]+$"  # kube.manifests.prepull.daemonset_name
SESSION_NAMESPACE_PATTERN = "^berth-[0-9a-f]{12}$"  # domain.session.namespace_name
RECONCILER_WRITES = (
    (
        "",
        (
            "serviceaccounts",
            "resourcequotas",
            "limitranges",
            "configmaps",
            "services",
            "persistentvolumeclaims",
            "secrets",
        ),
    ),
    ("apps", ("deployments",)),
    ("networking.k8s.io", ("networkpolicies", "ingresses")),
    ("route.openshift.io", ("routes",)),
    ("rbac.authorization.k8s.io", ("rolebindings",)),
)
WRITES = ("CREATE", "UPDATE", "DELETE")


def _only_for(reconcilers: Sequence[str]) -> list[Obj]:
    return [
        {
            "name": "is-the-reconciler",
            "expression": f"request.userInfo.username in {_cel_list(reconcilers)}",
        }
    ]


def reconciler_scope_objects(
    reconcilers: Sequence[str], platform_namespace: str = "berth-system"
) -> list[Obj]:
    """Three policies and their bindings: the reconciler writes the kinds of a session only in
    namespaces labelled `app.kubernetes.io/managed-by=berth`, and creates, changes or deletes
    only namespaces named like a session's (`berth-` and 12 hex digits), so it can neither
    label another namespace as Berth's nor write outside Berth's; and it writes DaemonSets
    (the engines' pre-pull DaemonSets, `berth-prepull-<pool>`) only in the platform namespace,
    which its Role there already says, should anyone grant it more. For the install manifests
    (`berth render reconciler-scope`), not the sim, whose reconciler is the tests' admin."""
    if not reconcilers:
        raise ValueError("the reconciler's identity is needed")
    not_berths = {
        "matchExpressions": [{"key": MANAGED_BY[0], "operator": "NotIn", "values": [MANAGED_BY[1]]}]
    }
    rules = [
        {
            "apiGroups": [group],
            "apiVersions": ["*"],
            "operations": list(WRITES),
            "resources": list(r),
        }
        for group, r in RECONCILER_WRITES
    ]
    scope = _policy(
        SCOPE_POLICY,
        {
            "failurePolicy": "Fail",
            "matchConstraints": {"namespaceSelector": not_berths, "resourceRules": rules},
            "matchConditions": _only_for(reconcilers),
            "validations": [
                {
                    "expression": "false",
                    "reason": "Forbidden",
                    "messageExpression": (
                        "'the Berth reconciler writes ' + request.resource.resource + "
                        f"' only in namespaces labelled {MANAGED_BY[0]}={MANAGED_BY[1]}, not in ' "
                        "+ request.namespace"
                    ),
                }
            ],
        },
    )
    namespaces = _policy(
        NAMESPACES_POLICY,
        {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": list(WRITES),
                        "resources": ["namespaces", "namespaces/finalize"],
                    }
                ]
            },
            "matchConditions": _only_for(reconcilers),
            "validations": [
                {
                    "expression": f"request.name.matches('{SESSION_NAMESPACE_PATTERN}')",
                    "reason": "Forbidden",
                    "messageExpression": (
                        "'the Berth reconciler touches only session namespaces "
                        "(berth- and 12 hex digits), not ' + request.name"
                    ),
                }
            ],
        },
    )
    daemonsets = _policy(
        DAEMONSETS_POLICY,
        {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["*"],
                        "operations": list(WRITES),
                        "resources": ["daemonsets"],
                    }
                ]
            },
            "matchConditions": _only_for(reconcilers),
            "validations": [
                {
                    "expression": (
                        f"request.namespace == '{platform_namespace}' && "
                        f"request.name.matches('{PREPULL_PATTERN}')"
                    ),
                    "reason": "Forbidden",
                    "messageExpression": (
                        "'the Berth reconciler writes only its pre-pull DaemonSets "
                        f"(berth-prepull-<pool>) in {platform_namespace}, not ' + "
                        "request.namespace + '/' + request.name"
                    ),
                }
            ],
        },
    )
    bindings = [
        obj(
            API_VERSION,
            "ValidatingAdmissionPolicyBinding",
            {"name": name},
            spec={"policyName": name, "validationActions": ["Deny"]},
        )
        for name in (SCOPE_POLICY, NAMESPACES_POLICY, DAEMONSETS_POLICY)
    ]
    return [scope, namespaces, daemonsets, *bindings]
