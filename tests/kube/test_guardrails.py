"""A tenant tries to escape their session namespace, on the real API server, and fails.

The session is made from Berth's own manifests (`session_steps`), applied as the reconciler
applies them; the sim runs Berth's admission policies (`berth sim up` applies them). Every
attempt is made twice: as the booker (the user the RoleBinding names) and as the workspace's
ServiceAccount (what code in the IDE runs as). Each denial's message is printed: run with
`-s` or `-rA` to read them. The positive checks show that the tenant still does what they
should, and the module's teardown that the namespace, policies and all, is deleted completely.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kube_manifests import GPU, MIG, pod
from kube_sessions import OWNER, provision, remove, session_spec
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from berth.domain.reservation import Mode
from berth.domain.session import SessionSpec
from berth.kube.adapter import KubeCluster
from berth.kube.admission import (
    ARTIFACTS_POLICY,
    CACHE_CLAIMS_POLICY,
    DEVICE_ENV_POLICY,
    DEVICE_SOURCES_POLICY,
)
from berth.kube.admission import OWNED_POLICY as OWNED
from conftest import Sim, eventually

pytestmark = pytest.mark.kube

MANAGED = {"app.kubernetes.io/managed-by": "berth"}


@pytest.fixture(scope="module")
def cluster(sim: Sim) -> Iterator[KubeCluster]:
    with KubeCluster.from_kubeconfig(str(sim.kubeconfig)) as kube:
        yield kube


@pytest.fixture(scope="module")
def session(cluster: KubeCluster) -> Iterator[SessionSpec]:
    """The tenant's session; removing it at the end shows namespace deletion completes."""
    spec = session_spec()
    provision(cluster, spec)
    try:
        yield spec
    finally:
        remove(cluster, spec)


@pytest.fixture(scope="module")
def neighbour(cluster: KubeCluster) -> Iterator[SessionSpec]:
    """Another user's session on the same node."""
    spec = session_spec(Mode.INFERENCE, units=1, owner="bob@example.org")
    provision(cluster, spec)
    try:
        yield spec
    finally:
        remove(cluster, spec)


@pytest.fixture(params=["owner", "workspace-sa"])
def who(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def tenant(
    who: str,
    session: SessionSpec,
    impersonate: Callable[[str, list[str]], client.ApiClient],
) -> client.ApiClient:
    if who == "owner":
        return impersonate(OWNER, ["system:authenticated"])
    return impersonate(
        f"system:serviceaccount:{session.namespace}:workspace", ["system:serviceaccounts"]
    )


def denied(who: str, what: str, call: Callable[[], Any], by: str | None = None) -> str:
    """The call is refused (403); its message is printed and returned. `by`: the policy."""
    with pytest.raises(ApiException) as refused:
        call()
    assert refused.value.status == 403, refused.value.body
    message = str(json.loads(refused.value.body)["message"])
    print(f"\n[{who}] {what}\n    DENIED: {message}")
    if by is not None:
        assert f"ValidatingAdmissionPolicy '{by}'" in message
    return message


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


def deployment(manifest: dict[str, Any]) -> dict[str, Any]:
    """A one-replica Deployment whose pod template is `manifest` (a pod)."""
    name = manifest["metadata"]["name"]
    template = {"metadata": {"labels": {"app": name}}, "spec": manifest["spec"]}
    return {
        "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": template},
    }


# -- Berth's fence objects ------------------------------------------------------------------


def test_tenant_cannot_change_the_quota_or_the_limits(
    who: str, tenant: client.ApiClient, session: SessionSpec, core: client.CoreV1Api
) -> None:
    ns, api = session.namespace, client.CoreV1Api(tenant)
    raise_gpu = {"spec": {"hard": {f"requests.{GPU}": "8"}}}
    message = denied(
        who,
        "raise the quota",
        lambda: api.patch_namespaced_resource_quota("berth-quota", ns, raise_gpu),
    )
    assert 'cannot patch resource "resourcequotas"' in message  # RBAC: admin reads quota only
    denied(who, "delete the quota", lambda: api.delete_namespaced_resource_quota("berth-quota", ns))
    denied(
        who,
        "delete the LimitRange",
        lambda: api.delete_namespaced_limit_range("berth-defaults", ns),
    )
    assert (
        core.read_namespaced_resource_quota("berth-quota", ns).spec.hard[f"requests.{GPU}"] == "0"
    )


def test_tenant_cannot_edit_or_delete_the_network_policies(
    who: str, tenant: client.ApiClient, session: SessionSpec
) -> None:
    ns, api = session.namespace, client.NetworkingV1Api(tenant)
    open_everything = {"spec": {"ingress": [{}]}}
    denied(
        who,
        "open berth-ingress to everyone",
        lambda: api.patch_namespaced_network_policy("berth-ingress", ns, open_everything),
        by=OWNED,
    )
    for name in ("berth-ingress", "berth-egress"):
        denied(
            who,
            f"delete NetworkPolicy {name}",
            lambda name=name: api.delete_namespaced_network_policy(name, ns),
            by=OWNED,
        )
    message = denied(
        who,
        "delete every NetworkPolicy at once",
        lambda: api.delete_collection_namespaced_network_policy(ns),
        by=OWNED,
    )
    assert "written only by its reconciler" in message
    names = {p.metadata.name for p in api.list_namespaced_network_policy(ns).items}
    assert names == {"berth-ingress", "berth-egress"}


def test_tenant_cannot_edit_or_delete_the_rolebinding(
    who: str, tenant: client.ApiClient, session: SessionSpec
) -> None:
    ns, api = session.namespace, client.RbacAuthorizationV1Api(tenant)
    binding = api.read_namespaced_role_binding("berth-admin", ns)  # they may read it
    friend = {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory"}
    subjects = [s.to_dict() for s in binding.subjects]
    patch = {
        "subjects": [{k: v for k, v in s.items() if v is not None} for s in subjects] + [friend]
    }
    denied(
        who,
        "add a user to RoleBinding berth-admin",
        lambda: api.patch_namespaced_role_binding("berth-admin", ns, patch),
        by=OWNED,
    )
    denied(
        who,
        "delete RoleBinding berth-admin",
        lambda: api.delete_namespaced_role_binding("berth-admin", ns),
        by=OWNED,
    )


def test_tenant_cannot_edit_or_delete_the_auth_secret_the_proxy_or_the_service_account(
    who: str, tenant: client.ApiClient, session: SessionSpec
) -> None:
    ns, api = session.namespace, client.CoreV1Api(tenant)
    new_password = {"stringData": {"password": "mine-now"}}
    denied(
        who,
        "change the workspace password",
        lambda: api.patch_namespaced_secret("workspace-auth", ns, new_password),
        by=OWNED,
    )
    denied(
        who,
        "delete Secret workspace-auth",
        lambda: api.delete_namespaced_secret("workspace-auth", ns),
        by=OWNED,
    )
    no_proxy = {"data": {"NO_PROXY": "*"}}
    denied(
        who,
        "edit ConfigMap berth-proxy",
        lambda: api.patch_namespaced_config_map("berth-proxy", ns, no_proxy),
        by=OWNED,
    )
    denied(
        who,
        "delete ServiceAccount workspace",
        lambda: api.delete_namespaced_service_account("workspace", ns),
        by=OWNED,
    )


def test_tenant_cannot_forge_a_berth_object_or_unlabel_one(
    who: str, tenant: client.ApiClient, session: SessionSpec
) -> None:
    ns, api = session.namespace, client.CoreV1Api(tenant)
    forged = {"metadata": {"name": unique("forged"), "labels": MANAGED}, "data": {"a": "b"}}
    denied(
        who,
        "create a ConfigMap labelled managed-by=berth",
        lambda: api.create_namespaced_config_map(ns, forged),
        by=OWNED,
    )
    allow_all = {
        "metadata": {"name": unique("berth-allow"), "labels": MANAGED},
        "spec": {"podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"]},
    }
    denied(
        who,
        "create a NetworkPolicy labelled managed-by=berth",
        lambda: client.NetworkingV1Api(tenant).create_namespaced_network_policy(ns, allow_all),
        by=OWNED,
    )
    unlabel = {"metadata": {"labels": {"app.kubernetes.io/managed-by": None}}}
    denied(
        who,
        "take the managed-by label off ConfigMap berth-proxy",
        lambda: api.patch_namespaced_config_map("berth-proxy", ns, unlabel),
        by=OWNED,
    )
    denied(
        who,
        "take the managed-by label off ServiceAccount workspace",
        lambda: api.patch_namespaced_service_account("workspace", ns, unlabel),
        by=OWNED,
    )
    mine = {"metadata": {"name": unique("mine")}, "data": {"a": "b"}}
    api.create_namespaced_config_map(ns, mine)
    label_mine = {"metadata": {"labels": MANAGED}}
    denied(
        who,
        "put the managed-by label on their own ConfigMap",
        lambda: api.patch_namespaced_config_map(mine["metadata"]["name"], ns, label_mine),
        by=OWNED,
    )
    api.delete_namespaced_config_map(mine["metadata"]["name"], ns)


# -- out of the namespace -------------------------------------------------------------------


def test_tenant_cannot_read_another_session(
    who: str, tenant: client.ApiClient, neighbour: SessionSpec
) -> None:
    api = client.CoreV1Api(tenant)
    other = neighbour.namespace
    denied(who, f"list pods in {other}", lambda: api.list_namespaced_pod(other))
    denied(
        who,
        f"read {other}'s workspace password",
        lambda: api.read_namespaced_secret("workspace-auth", other),
    )
    denied(who, "list every namespace", lambda: api.list_namespace())


def test_tenant_cannot_create_cluster_scoped_objects_or_bind_a_cluster_role(
    who: str, tenant: client.ApiClient, session: SessionSpec
) -> None:
    api, rbac = client.CoreV1Api(tenant), client.RbacAuthorizationV1Api(tenant)
    denied(
        who,
        "create a namespace",
        lambda: api.create_namespace({"metadata": {"name": unique("mine")}}),
    )
    root = {
        "metadata": {"name": unique("root")},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/"},
        },
    }
    denied(
        who, "create a hostPath PersistentVolume of /", lambda: api.create_persistent_volume(root)
    )
    cluster_admin = {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "cluster-admin",
    }
    me = (
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": OWNER}
        if who == "owner"
        else {"kind": "ServiceAccount", "name": "workspace", "namespace": session.namespace}
    )
    denied(
        who,
        "bind themselves cluster-admin cluster-wide",
        lambda: rbac.create_cluster_role_binding(
            {"metadata": {"name": unique("escalate")}, "roleRef": cluster_admin, "subjects": [me]}
        ),
    )
    message = denied(
        who,
        "bind themselves cluster-admin in their namespace",
        lambda: rbac.create_namespaced_role_binding(
            session.namespace,
            {"metadata": {"name": unique("escalate")}, "roleRef": cluster_admin, "subjects": [me]},
        ),
    )
    assert "escalat" in message or "not currently held" in message


# -- GPUs -----------------------------------------------------------------------------------


def _with_env(
    manifest: dict[str, Any], env: list[dict[str, Any]], field: str = "containers"
) -> dict[str, Any]:
    spec = manifest["spec"]
    if field != "containers":
        spec[field] = [{"name": "setup", "image": "registry.example/workspace:1"}]
    spec[field][0]["env"] = env
    return manifest


def test_tenant_cannot_select_devices_through_the_environment(
    who: str, tenant: client.ApiClient, session: SessionSpec
) -> None:
    ns, api = session.namespace, client.CoreV1Api(tenant)
    all_gpus = [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]
    denied(
        who,
        "run a bare pod with NVIDIA_VISIBLE_DEVICES=all",
        lambda: api.create_namespaced_pod(ns, _with_env(pod(unique("all")), all_gpus)),
        by=DEVICE_ENV_POLICY,
    )
    denied(
        who,
        "set NVIDIA_VISIBLE_DEVICES=all in an init container",
        lambda: api.create_namespaced_pod(
            ns, _with_env(pod(unique("init")), all_gpus, "initContainers")
        ),
        by=DEVICE_ENV_POLICY,
    )
    from_field = [
        {
            "name": "NVIDIA_VISIBLE_DEVICES",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
        }
    ]
    denied(
        who,
        "set NVIDIA_VISIBLE_DEVICES from a field",
        lambda: api.create_namespaced_pod(ns, _with_env(pod(unique("ref")), from_field)),
        by=DEVICE_ENV_POLICY,
    )
    mig = [{"name": "NVIDIA_MIG_CONFIG_DEVICES", "value": "all"}]
    denied(
        who,
        "set NVIDIA_MIG_CONFIG_DEVICES=all",
        lambda: api.create_namespaced_pod(ns, _with_env(pod(unique("mig")), mig)),
        by=DEVICE_ENV_POLICY,
    )
    prefixed = pod(unique("prefix"))
    prefixed["spec"]["containers"][0]["envFrom"] = [
        {"prefix": "NVIDIA_", "configMapRef": {"name": "berth-proxy"}}
    ]
    denied(
        who,
        "import variables with the prefix NVIDIA_",
        lambda: api.create_namespaced_pod(ns, prefixed),
        by=DEVICE_ENV_POLICY,
    )
    carrier = {"metadata": {"name": unique("carrier")}, "data": {"NVIDIA_VISIBLE_DEVICES": "all"}}
    denied(
        who,
        "put NVIDIA_VISIBLE_DEVICES into a ConfigMap for envFrom",
        lambda: api.create_namespaced_config_map(ns, carrier),
        by=DEVICE_SOURCES_POLICY,
    )
    secret = {
        "metadata": {"name": unique("carrier")},
        "stringData": {"NVIDIA_VISIBLE_DEVICES": "all"},
    }
    denied(
        who,
        "put NVIDIA_VISIBLE_DEVICES into a Secret for envFrom",
        lambda: api.create_namespaced_secret(ns, secret),
        by=DEVICE_SOURCES_POLICY,
    )


def test_a_deployment_is_accepted_but_its_pods_are_refused(
    tenant: client.ApiClient, session: SessionSpec, who: str
) -> None:
    """Controllers make pods from templates of any shape; the policy judges the pod."""
    ns, apps = session.namespace, client.AppsV1Api(tenant)
    name = unique("sneaky")
    template = _with_env(pod(name), [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}])
    apps.create_namespaced_deployment(ns, deployment(template))  # accepted: nothing runs yet

    def replica_failure() -> str:
        found = apps.read_namespaced_deployment(name, ns)
        conditions = {c.type: c for c in found.status.conditions or []}
        assert "ReplicaFailure" in conditions, conditions
        assert conditions["ReplicaFailure"].reason == "FailedCreate"
        return str(conditions["ReplicaFailure"].message)

    message = eventually(replica_failure, timeout=60)
    print(
        f"\n[{who}] a Deployment whose pods set NVIDIA_VISIBLE_DEVICES=all\n    REFUSED: {message}"
    )
    assert f"ValidatingAdmissionPolicy '{DEVICE_ENV_POLICY}'" in message
    (replica_set,) = apps.list_namespaced_replica_set(ns, label_selector=f"app={name}").items
    events = client.CoreV1Api(tenant).list_namespaced_event(
        ns, field_selector=f"involvedObject.name={replica_set.metadata.name},reason=FailedCreate"
    )
    assert events.items, "the ReplicaSet records FailedCreate"
    assert not client.CoreV1Api(tenant).list_namespaced_pod(ns, label_selector=f"app={name}").items
    apps.delete_namespaced_deployment(name, ns)


def test_even_the_cluster_admin_cannot_add_a_device_selecting_ephemeral_container(
    session: SessionSpec,
    core: client.CoreV1Api,
    impersonate: Callable[[str, list[str]], client.ApiClient],
) -> None:
    ns, name = session.namespace, unique("debugged")
    core.create_namespaced_pod(ns, pod(name))
    debug = {
        "spec": {
            "ephemeralContainers": [
                {
                    "name": "debug",
                    "image": "registry.example/debug:1",
                    "env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}],
                }
            ]
        }
    }
    denied(
        "cluster admin",
        "add an ephemeral container with NVIDIA_VISIBLE_DEVICES=all",
        lambda: core.patch_namespaced_pod_ephemeralcontainers(name, ns, debug),
        by=DEVICE_ENV_POLICY,
    )
    owner = client.CoreV1Api(impersonate(OWNER, ["system:authenticated"]))
    denied(
        "owner",
        "add an ephemeral container at all",
        lambda: owner.patch_namespaced_pod_ephemeralcontainers(name, ns, debug),
    )
    core.delete_namespaced_pod(name, ns, grace_period_seconds=0)


def test_tenant_cannot_request_the_other_gpu_kind(
    who: str, tenant: client.ApiClient, session: SessionSpec
) -> None:
    api = client.CoreV1Api(tenant)
    message = denied(
        who,
        f"run a pod with {GPU}: 1 on a {MIG} booking",
        lambda: api.create_namespaced_pod(session.namespace, pod(unique("whole"), {GPU: "1"})),
    )
    assert f"exceeded quota: berth-quota, requested: requests.{GPU}=1" in message


# -- the artifact cache ---------------------------------------------------------------------


def _cache_pod(name: str, *, volume_read_only: bool, mount_read_only: bool) -> dict[str, Any]:
    manifest = pod(
        name,
        volumes=[
            {
                "name": "cache",
                "persistentVolumeClaim": {"claimName": "artifacts", "readOnly": volume_read_only},
            }
        ],
    )
    manifest["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "cache", "mountPath": "/cache", "readOnly": mount_read_only}
    ]
    return manifest


def test_tenant_cannot_mount_the_artifact_cache_read_write(
    who: str, tenant: client.ApiClient, session: SessionSpec
) -> None:
    ns, api = session.namespace, client.CoreV1Api(tenant)
    denied(
        who,
        "mount the artifacts claim with a read-write volume",
        lambda: api.create_namespaced_pod(
            ns, _cache_pod(unique("rw"), volume_read_only=False, mount_read_only=True)
        ),
        by=ARTIFACTS_POLICY,
    )
    denied(
        who,
        "mount the read-only artifacts volume read-write",
        lambda: api.create_namespaced_pod(
            ns, _cache_pod(unique("rw"), volume_read_only=True, mount_read_only=False)
        ),
        by=ARTIFACTS_POLICY,
    )
    sneaky = _cache_pod(unique("rw"), volume_read_only=True, mount_read_only=True)
    sneaky["spec"]["initContainers"] = [
        {
            "name": "setup",
            "image": "registry.example/workspace:1",
            "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
        }
    ]
    denied(
        who,
        "mount the artifacts volume read-write in an init container",
        lambda: api.create_namespaced_pod(ns, sneaky),
        by=ARTIFACTS_POLICY,
    )


def _claim(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadOnlyMany"],
            "resources": {"requests": {"storage": "1Gi"}},
            **spec,
        },
    }


def test_tenant_cannot_make_a_claim_on_the_artifact_cache(
    who: str, tenant: client.ApiClient, session: SessionSpec
) -> None:
    """The cache agent provisions a volume of the node's cache for any claim of its class; a
    claim of the tenant's own would be theirs to mount read-write."""
    ns, api = session.namespace, client.CoreV1Api(tenant)
    cache_class = session.config.cache_storage_class
    denied(
        who,
        f"create a claim of the cache's StorageClass {cache_class}",
        lambda: api.create_namespaced_persistent_volume_claim(
            ns, _claim(unique("cache"), storageClassName=cache_class)
        ),
        by=CACHE_CLAIMS_POLICY,
    )
    # (Giving an unclassed claim the class later, by UPDATE, is refused by the same rule; not
    # shown here: the session's storage quota is full, so the tenant's unclassed claim could
    # not be made in the first place.)


def test_tenant_cannot_pre_bind_a_claim_to_a_cache_volume(
    who: str, tenant: client.ApiClient, session: SessionSpec, core: client.CoreV1Api
) -> None:
    ns, api = session.namespace, client.CoreV1Api(tenant)

    def bound() -> str:
        name = core.read_namespaced_persistent_volume_claim("artifacts", ns).spec.volume_name
        assert name, "the session's artifacts claim is not bound yet"
        return str(name)

    volume = eventually(bound, timeout=60)
    for cls in ("", session.storage_class):
        denied(
            who,
            f"create a claim of class {cls or '(none)'} naming the cache volume {volume}",
            lambda cls=cls: api.create_namespaced_persistent_volume_claim(
                ns, _claim(unique("prebound"), storageClassName=cls, volumeName=volume)
            ),
            by=CACHE_CLAIMS_POLICY,
        )


# -- what the tenant still does -------------------------------------------------------------


def test_tenant_runs_a_deployment_with_a_gpu_of_the_booked_kind(
    who: str, tenant: client.ApiClient, session: SessionSpec
) -> None:
    ns, apps = session.namespace, client.AppsV1Api(tenant)
    name = unique("server")
    template = _with_env(pod(name, {MIG: "1"}), [{"name": "CUDA_VISIBLE_DEVICES", "value": "0"}])
    apps.create_namespaced_deployment(ns, deployment(template))

    def available() -> None:
        assert apps.read_namespaced_deployment(name, ns).status.available_replicas == 1

    eventually(available, timeout=60)
    apps.delete_namespaced_deployment(name, ns)


def test_tenant_mounts_the_cache_read_only_and_keeps_their_own_objects(
    who: str, tenant: client.ApiClient, session: SessionSpec
) -> None:
    ns, api = session.namespace, client.CoreV1Api(tenant)
    name = unique("reader")
    reader = _cache_pod(name, volume_read_only=True, mount_read_only=True)
    reader["spec"]["containers"][0]["env"] = [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"}]
    api.create_namespaced_pod(ns, reader)

    def running() -> None:
        assert api.read_namespaced_pod(name, ns).status.phase == "Running"

    eventually(running, timeout=60)
    api.delete_namespaced_pod(name, ns, grace_period_seconds=0)

    config = unique("settings")
    api.create_namespaced_config_map(ns, {"metadata": {"name": config}, "data": {"a": "1"}})
    api.patch_namespaced_config_map(config, ns, {"data": {"a": "2"}})
    api.delete_namespaced_config_map(config, ns)
    secret = unique("token")
    api.create_namespaced_secret(ns, {"metadata": {"name": secret}, "stringData": {"t": "x"}})
    api.patch_namespaced_secret(secret, ns, {"stringData": {"t": "y"}})
    api.delete_namespaced_secret(secret, ns)
    net = client.NetworkingV1Api(tenant)
    policy = unique("allow-monitoring")
    net.create_namespaced_network_policy(
        ns, {"metadata": {"name": policy}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    )
    net.delete_namespaced_network_policy(policy, ns)
