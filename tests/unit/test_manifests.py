"""The session's objects as plain dicts: numbers, names, labels, and nothing random.

The reference is the C845A of tests/kube/pool.yaml: four 1g.24gb MIG slices with 2 replicas
each, one whole GPU with 4. The last tests cover the adapter's pure error translation.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from berth.config import Settings, load_pool_file
from berth.domain.reservation import Mode, Reserved
from berth.domain.session import (
    SessionConfig,
    SessionSpec,
    build,
    installation_of,
    known_gpu_resources,
)
from berth.kube.errors import Conflict, NotFound, ServerError, Terminal, Transient
from berth.kube.manifests import (
    STEP_NAMES,
    cluster_leftovers_selector,
    installation_selector,
    session_phases,
    session_steps,
)
from berth.kube.translate import translate

POOL_FILE = Path(__file__).parents[1] / "kube" / "pool.yaml"
GPU = "nvidia.com/gpu"
MIG = "nvidia.com/mig-1g.24gb"
GIB = 2**30
RID = uuid.UUID("5f0c9a4e-1b2d-4c3e-8f70-123456789abc")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def make_spec(
    kind: str = "mig-1g.24gb",
    count: int = 2,
    mode: Mode = Mode.INTERACTIVE,
    cfg: SessionConfig | None = None,
    provider: str = "local",
    cluster_name: str | None = None,
) -> SessionSpec:
    pools = load_pool_file(POOL_FILE)
    request = Reserved(
        reservation_id=RID,
        owner="alice@example.com",
        owner_provider=provider,
        owner_cluster_name=cluster_name,
        pool="c845a",
        start=datetime(2030, 1, 7, 9, tzinfo=UTC),
        end=datetime(2030, 1, 7, 17, tzinfo=UTC),
        gpu_kind=kind,
        gpu_count=count,
        mode=mode,
        cpu_millicores=32_000,
        memory_bytes=192 * GIB,
    )
    return build(request, pools[0], cfg or SessionConfig(), known_gpu_resources(pools))


def objects(spec: SessionSpec, *, openshift: bool = False) -> list[dict[str, Any]]:
    return [o for _, objs in session_steps(spec, openshift=openshift, password="pw") for o in objs]


def find(spec: SessionSpec, kind: str, name: str, *, openshift: bool = False) -> dict[str, Any]:
    matches = [
        o
        for o in objects(spec, openshift=openshift)
        if o["kind"] == kind and o["metadata"]["name"] == name
    ]
    assert len(matches) == 1, (kind, name)
    return matches[0]


def container(spec: SessionSpec, *, openshift: bool = False) -> dict[str, Any]:
    deployment = find(spec, "Deployment", "workspace", openshift=openshift)
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_steps_come_in_provisioning_order_with_their_objects() -> None:
    steps = session_steps(make_spec(), openshift=False, password="pw")
    assert [name for name, _ in steps] == list(STEP_NAMES)
    assert {name: [(o["kind"], o["metadata"]["name"]) for o in objs] for name, objs in steps} == {
        "namespace": [("Namespace", "berth-5f0c9a4e1b2d")],
        "storage": [
            ("PersistentVolumeClaim", "workspace"),
            ("PersistentVolumeClaim", "artifacts"),
        ],
        "rbac": [("ServiceAccount", "workspace"), ("RoleBinding", "berth-admin")],
        "quota": [("ResourceQuota", "berth-quota"), ("LimitRange", "berth-defaults")],
        "config": [("ConfigMap", "berth-proxy"), ("ConfigMap", "berth-runtime")],
        "network": [("NetworkPolicy", "berth-ingress"), ("NetworkPolicy", "berth-egress")],
        "workspace": [
            ("Secret", "workspace-auth"),
            ("Deployment", "workspace"),
            ("Service", "workspace"),
        ],
        "ingress": [("Ingress", "workspace")],
    }


def test_claims_are_applied_in_a_phase_before_the_quota_exists() -> None:
    """A claim charged to a quota by a request that was cut off stays counted until the quota
    controller's recount: a claim applied after its quota could be refused for a phantom."""
    steps = session_steps(make_spec(), openshift=False, password="pw")
    phases = [[name for name, _ in phase] for phase in session_phases(steps)]
    assert phases == [
        ["namespace"],
        ["storage"],
        ["rbac", "quota", "config", "network"],
        ["workspace", "ingress"],
    ]
    assert session_phases([("later", []), *steps])[2][0][0] == "later"  # unnamed: with the fence


def test_quota_of_two_mig_units_on_the_reference_node() -> None:
    quota = find(make_spec("mig-1g.24gb", 2), "ResourceQuota", "berth-quota")
    assert quota["spec"]["hard"] == {
        "requests.cpu": "32",
        "limits.cpu": "32",
        "requests.memory": "192Gi",
        "limits.memory": "192Gi",
        # the 600Gi disk, and the 1Gi artifact-cache claim
        "requests.storage": "601Gi",
        "persistentvolumeclaims": "7",  # the disk, 5 of the user's, artifacts
        "pods": "50",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
        f"requests.{MIG}": "4",  # 2 slices x 2 time-sliced replicas
        f"requests.{GPU}": "0",
    }


def test_quota_of_one_whole_gpu_gives_no_mig_slot() -> None:
    hard = find(make_spec("gpu", 1), "ResourceQuota", "berth-quota")["spec"]["hard"]
    assert (hard[f"requests.{GPU}"], hard[f"requests.{MIG}"]) == ("4", "0")


def test_limitrange_defaults_are_modest_shares_of_the_booking() -> None:
    limits = find(make_spec(), "LimitRange", "berth-defaults")["spec"]["limits"]
    assert limits == [
        {
            "type": "Container",
            "defaultRequest": {"cpu": "1", "memory": "2Gi"},
            "default": {"cpu": "2", "memory": "4Gi"},
        }
    ]


def test_limitrange_defaults_never_exceed_a_small_booking() -> None:
    spec = make_spec()
    small = dataclasses.replace(
        spec, quota=dataclasses.replace(spec.quota, cpu_millicores=500, memory_bytes=GIB)
    )
    (limits,) = find(small, "LimitRange", "berth-defaults")["spec"]["limits"]
    assert limits["defaultRequest"] == {"cpu": "100m", "memory": "128Mi"}
    assert limits["default"] == {"cpu": "200m", "memory": "256Mi"}


def test_interactive_workspace_holds_one_slot_of_the_booked_kind() -> None:
    resources = container(make_spec(mode=Mode.INTERACTIVE))["resources"]
    expected = {"cpu": "4", "memory": "16Gi", MIG: "1"}  # a quarter of 32/192Gi, capped at 4/16Gi
    assert resources == {"requests": expected, "limits": expected}
    env_names = [e["name"] for e in container(make_spec(mode=Mode.INTERACTIVE))["env"]]
    assert "NVIDIA_VISIBLE_DEVICES" not in env_names


def test_inference_workspace_has_no_gpu_and_is_told_so() -> None:
    main = container(make_spec(mode=Mode.INFERENCE))
    expected = {"cpu": "4", "memory": "16Gi"}
    assert main["resources"] == {"requests": expected, "limits": expected}
    assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in main["env"]


def test_workspace_pod_is_unprivileged_pinned_and_mounts_every_volume() -> None:
    deployment = find(make_spec(), "Deployment", "workspace")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
    }
    affinity = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert affinity["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["ucs-c845a-01"]}
    ]
    assert {"key": GPU, "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    # teardown: while the pod is left, the namespace controller looks again after 5/2+1 s
    assert pod["terminationGracePeriodSeconds"] == 5
    assert not any("hostPath" in v for v in pod["volumes"])  # Pod Security baseline refuses it
    assert [v["persistentVolumeClaim"] for v in pod["volumes"]] == [
        {"claimName": "workspace"},
        {"claimName": "artifacts", "readOnly": True},
    ]
    main = pod["containers"][0]
    assert main["image"] == SessionConfig().image
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    assert main["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["envFrom"] == [{"configMapRef": {"name": "berth-proxy"}}]
    # the disk's three directories where a user expects them; the cache read-only
    assert main["volumeMounts"] == [
        {"name": "workspace", "mountPath": "/home/coder", "subPath": "home"},
        {"name": "workspace", "mountPath": "/data", "subPath": "data"},
        {"name": "workspace", "mountPath": "/models", "subPath": "models"},
        {"name": "artifacts", "mountPath": "/cache", "readOnly": True},
    ]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_the_disk_is_one_claim_of_the_configured_size_and_the_pool_storage_class() -> None:
    disk = find(make_spec(), "PersistentVolumeClaim", "workspace")["spec"]
    assert disk == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "lvms-vg1",
        "resources": {"requests": {"storage": "600Gi"}},
    }


def test_the_disk_size_comes_from_its_setting_and_the_replaced_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BERTH_DISK_SIZE", "1Ti")
    cfg = Settings().session_config()
    disk = find(make_spec(cfg=cfg), "PersistentVolumeClaim", "workspace")
    assert disk["spec"]["resources"]["requests"]["storage"] == "1Ti"
    assert make_spec(cfg=cfg).quota.storage_bytes == 2**40
    # the three claims' sizes it replaced would be ignored: refused, naming the new setting
    monkeypatch.setenv("BERTH_MODELS_SIZE", "300Gi")
    with pytest.raises(
        ValidationError, match=r"BERTH_MODELS_SIZE: no longer read.*BERTH_DISK_SIZE"
    ):
        Settings()
    monkeypatch.delenv("BERTH_MODELS_SIZE")
    for bad in ("0", "lots", "-5Gi"):
        monkeypatch.setenv("BERTH_DISK_SIZE", bad)
        with pytest.raises(ValidationError, match="disk_size"):
            Settings()


def test_artifact_cache_is_only_a_claim_of_the_cache_class() -> None:
    """The reconciler makes no PersistentVolume and nothing cluster-scoped but the namespace:
    the cache agent of the workspace's node provisions the claim's volume."""
    spec = make_spec()
    for openshift in (False, True):
        kinds = {o["kind"] for o in objects(spec, openshift=openshift)}
        assert "PersistentVolume" not in kinds
        scoped = [o for o in objects(spec, openshift=openshift) if "namespace" not in o["metadata"]]
        assert [o["kind"] for o in scoped] == ["Namespace"]
    claim = find(spec, "PersistentVolumeClaim", "artifacts")
    assert claim["spec"] == {
        "accessModes": ["ReadOnlyMany"],
        "storageClassName": "berth-cache",
        "resources": {"requests": {"storage": "1Gi"}},
    }
    assert "volumeName" not in claim["spec"]
    assert spec.labels.items() <= claim["metadata"]["labels"].items()


def test_the_cache_class_is_configurable() -> None:
    spec = make_spec()
    spec = dataclasses.replace(
        spec, config=dataclasses.replace(spec.config, cache_storage_class="node-cache")
    )
    claim = find(spec, "PersistentVolumeClaim", "artifacts")
    assert claim["spec"]["storageClassName"] == "node-cache"


def test_every_object_carries_the_session_labels() -> None:
    spec = make_spec()
    assert spec.labels == {
        "app.kubernetes.io/managed-by": "berth",
        "berth.io/reservation": str(RID),
        "berth.io/installation": "default",
        "berth.io/owner": "alice-example.com",
        "berth.io/pool": "c845a",
    }
    for openshift in (False, True):
        for o in objects(spec, openshift=openshift):
            assert spec.labels.items() <= o["metadata"]["labels"].items(), o["kind"]
    pod_labels = find(spec, "Deployment", "workspace")["spec"]["template"]["metadata"]["labels"]
    assert spec.labels.items() <= pod_labels.items()
    assert cluster_leftovers_selector() == "app.kubernetes.io/managed-by=berth"


def test_an_installation_labels_its_objects_and_selects_only_them() -> None:
    spec = make_spec(cfg=SessionConfig(installation="lab-b"))
    for o in objects(spec, openshift=False):
        assert o["metadata"]["labels"]["berth.io/installation"] == "lab-b", o["kind"]
    assert installation_selector("lab-b") == (
        "app.kubernetes.io/managed-by=berth,berth.io/installation=lab-b"
    )
    # the default installation also lists objects of older versions (no label) ...
    assert installation_selector("default") == "app.kubernetes.io/managed-by=berth"
    # ... and keeps only those and its own
    assert installation_of({}) == "default"
    assert installation_of({"berth.io/installation": "lab-b"}) == "lab-b"


def test_namespaced_objects_live_in_the_session_namespace_with_valid_names() -> None:
    spec = make_spec()
    for openshift in (False, True):
        for o in objects(spec, openshift=openshift):
            name = o["metadata"]["name"]
            if o["kind"] == "Namespace":
                assert "namespace" not in o["metadata"]
                assert DNS_SUBDOMAIN.match(name), name
                assert len(name) <= 63, name
            else:
                assert o["metadata"]["namespace"] == spec.namespace
                assert DNS_LABEL.match(name), name


def test_namespace_enforces_pod_security_baseline() -> None:
    ns = find(make_spec(), "Namespace", "berth-5f0c9a4e1b2d")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"


def test_owner_workspace_and_reconciler_accounts_are_namespace_admins() -> None:
    binding = find(make_spec(), "RoleBinding", "berth-admin")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "admin",
    }
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice@example.com"},
        {"kind": "ServiceAccount", "name": "workspace", "namespace": "berth-5f0c9a4e1b2d"},
        {"kind": "ServiceAccount", "name": "berth-reconciler", "namespace": "berth-system"},
    ]


@pytest.mark.parametrize(
    ("provider", "cluster_name", "prefix", "subject"),
    [
        ("oidc", "alice", "oidc:", "oidc:alice"),  # the API server's --oidc-username-prefix
        ("oidc", "alice@example.com", "", "alice@example.com"),  # prefix "-": none
        ("oidc", "f3c1-77", "https://sso.example.org#", "https://sso.example.org#f3c1-77"),
        ("openshift", "alice", "oidc:", "alice"),  # OpenShift's users are the cluster's own
        ("local", None, "oidc:", "alice@example.com"),  # a break-glass account: its Berth name
    ],
)
def test_the_rolebinding_names_the_owner_as_the_cluster_knows_them(
    provider: str, cluster_name: str | None, prefix: str, subject: str
) -> None:
    spec = make_spec(
        cfg=SessionConfig(oidc_user_prefix=prefix), provider=provider, cluster_name=cluster_name
    )
    binding = find(spec, "RoleBinding", "berth-admin")
    assert binding["subjects"][0] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "User",
        "name": subject,
    }
    # the owner label stays Berth's name: nothing else moves with the cluster identity
    assert spec.labels["berth.io/owner"] == "alice-example.com"


def test_output_is_deterministic_and_the_password_only_touches_the_secret() -> None:
    first = session_steps(make_spec(), openshift=False, password="pw")
    assert first == session_steps(make_spec(), openshift=False, password="pw")
    other = session_steps(make_spec(), openshift=False, password="other")
    changed = [
        (o1["kind"], o1["metadata"]["name"])
        for (_, a), (_, b) in zip(first, other, strict=True)
        for o1, o2 in zip(a, b, strict=True)
        if o1 != o2
    ]
    assert changed == [("Secret", "workspace-auth")]
    secret = find(make_spec(), "Secret", "workspace-auth")
    assert base64.b64decode(secret["data"]["password"]) == b"pw"


def test_proxy_settings_in_both_cases_and_empty_ones_left_out() -> None:
    plain = find(make_spec(), "ConfigMap", "berth-proxy")["data"]
    assert plain == {"NO_PROXY": SessionConfig().no_proxy, "no_proxy": SessionConfig().no_proxy}
    cfg = SessionConfig(http_proxy="http://proxy:3128", https_proxy="http://proxy:3128")
    data = find(make_spec(cfg=cfg), "ConfigMap", "berth-proxy")["data"]
    assert data["HTTPS_PROXY"] == data["https_proxy"] == "http://proxy:3128"
    assert set(data) == {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
    }


def test_network_policies_fence_off_tenants_and_the_platform() -> None:
    spec = make_spec(cfg=SessionConfig(cluster_networks=("10.128.0.0/14", "fd01::/48")))
    ingress = find(spec, "NetworkPolicy", "berth-ingress")["spec"]
    assert ingress["podSelector"] == {}
    assert ingress["ingress"] == [
        {
            "from": [
                # pods without an agent role: agents reach only what berth-policy allows
                {
                    "podSelector": {
                        "matchExpressions": [{"key": "berth.io/role", "operator": "DoesNotExist"}]
                    }
                },
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                    }
                },
            ]
        }
    ]
    egress = find(spec, "NetworkPolicy", "berth-egress")["spec"]
    assert egress["policyTypes"] == ["Egress"]
    dns, own, cluster, outside = egress["egress"]
    assert {p["port"] for p in dns["ports"]} == {53, 5353}
    assert own == {"to": [{"podSelector": {}}]}
    assert cluster["to"][0]["namespaceSelector"]["matchExpressions"] == [
        {"key": "app.kubernetes.io/managed-by", "operator": "NotIn", "values": ["berth"]},
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["berth-system"]},
    ]
    assert outside == {
        "to": [
            {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.128.0.0/14"]}},
            {"ipBlock": {"cidr": "::/0", "except": ["fd01::/48"]}},
        ]
    }


def test_ingress_host_is_the_session_url() -> None:
    spec = make_spec(cfg=SessionConfig(ingress_domain="gpu.example.com", ingress_class="nginx"))
    ingress = find(spec, "Ingress", "workspace")["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["rules"][0]["host"] == "berth-5f0c9a4e1b2d.gpu.example.com"
    assert spec.url == "https://berth-5f0c9a4e1b2d.gpu.example.com/"
    assert ingress["rules"][0]["http"]["paths"][0]["backend"] == {
        "service": {"name": "workspace", "port": {"name": "http"}}
    }


def test_openshift_gets_a_route_the_router_peer_and_no_fixed_uid() -> None:
    spec = make_spec()
    kinds = [o["kind"] for o in objects(spec, openshift=True)]
    assert "Ingress" not in kinds
    route = find(spec, "Route", "workspace", openshift=True)
    assert route["apiVersion"] == "route.openshift.io/v1"
    assert route["spec"]["host"] == "berth-5f0c9a4e1b2d.berth.localhost"
    assert route["spec"]["tls"]["termination"] == "edge"
    peers = find(spec, "NetworkPolicy", "berth-ingress", openshift=True)["spec"]["ingress"][0][
        "from"
    ]
    assert {
        "namespaceSelector": {"matchLabels": {"policy-group.network.openshift.io/ingress": ""}}
    } in peers
    pod = find(spec, "Deployment", "workspace", openshift=True)["spec"]["template"]["spec"]
    assert "runAsUser" not in pod["securityContext"]


# -- the adapter's error translation (a pure function of the HTTP answer) ---------------------


def _status(code: int, reason: str, causes: list[str] | None = None) -> bytes:
    body: dict[str, Any] = {"kind": "Status", "code": code, "reason": reason, "message": "nope"}
    if causes:
        body["details"] = {"causes": [{"reason": c} for c in causes]}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("status", "headers", "causes", "expected", "retry_after"),
    [
        (404, {}, None, NotFound, None),
        (409, {}, None, Conflict, None),
        (429, {"Retry-After": "7"}, None, Transient, 7.0),
        (503, {}, None, ServerError, 5.0),
        (500, {"retry-after": "soon"}, None, ServerError, 5.0),
        (400, {}, None, Terminal, None),
        (403, {}, None, Terminal, None),
        (403, {}, ["NamespaceTerminating"], Transient, 5.0),
        (422, {}, None, Terminal, None),
    ],
)
def test_http_answers_become_typed_errors(
    status: int,
    headers: dict[str, str],
    causes: list[str] | None,
    expected: type[Exception],
    retry_after: float | None,
) -> None:
    err = translate(status, headers, _status(status, "x", causes), "PATCH /api/v1/x")
    assert type(err) is expected
    assert "PATCH /api/v1/x: HTTP" in str(err)
    assert "nope" in str(err)
    if retry_after is not None:
        assert isinstance(err, Transient)
        assert err.retry_after == retry_after
