"""The install manifests in deploy/ as files: the parts that must never drift from the code.

Building the overlays and applying them to a cluster is `tests/kube/test_install.py`."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from berth.cache.provisioner import PROVISIONER
from berth.catalog import load_catalog_file
from berth.cli import app
from berth.config import Settings, check_pool_file
from berth.domain.session import namespace_name
from berth.kube.admission import (
    PREPULL_PATTERN,
    SESSION_NAMESPACE_PATTERN,
    reconciler_scope_objects,
)
from berth.kube.manifests.prepull import daemonset_name

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
BASE = DEPLOY / "base"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize(
    ("command", "generated"),
    [("admission", "admission.yaml"), ("reconciler-scope", "reconciler-scope.yaml")],
)
def test_the_generated_policies_are_what_berth_render_prints(
    monkeypatch: pytest.MonkeyPatch, command: str, generated: str
) -> None:
    monkeypatch.delenv("BERTH_PLATFORM_NAMESPACE", raising=False)
    result = CliRunner().invoke(app, ["render", command])
    assert result.exit_code == 0, result.output
    assert (BASE / generated).read_text() == result.output, (
        f"regenerate: berth render {command} > deploy/base/{generated}"
    )


def cluster_role() -> dict[str, Any]:
    found = [d for d in documents(BASE / "rbac.yaml") if d["kind"] == "ClusterRole"]
    assert len(found) == 1
    return found[0]


def test_the_reconcilers_cluster_role_is_least_privilege() -> None:
    rules = cluster_role()["rules"]
    for rule in rules:
        for key in ("apiGroups", "resources", "verbs", "nonResourceURLs", "resourceNames"):
            assert "*" not in rule.get(key, []), rule
        assert not {"escalate", "impersonate"} & set(rule["verbs"]), rule
        if "bind" in rule["verbs"]:
            assert rule == {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["clusterroles"],
                "resourceNames": ["admin"],
                "verbs": ["bind"],
            }

    def verbs(group: str, resource: str) -> set[str]:
        return {
            v
            for r in rules
            if group in r.get("apiGroups", []) and resource in r.get("resources", [])
            for v in r["verbs"]
        }

    assert "create" not in verbs("", "persistentvolumes")
    assert verbs("", "secrets") == {"create", "patch"}  # read through each session's binding
    assert not verbs("rbac.authorization.k8s.io", "clusterrolebindings") & {"create", "patch"}


def test_every_setting_the_manifests_set_is_one_berth_reads() -> None:
    fields = {f"BERTH_{name.upper()}" for name in Settings.model_fields}
    literals: dict[str, str] = {}
    for kustomization in DEPLOY.rglob("kustomization.yaml"):
        for generator in yaml.safe_load(kustomization.read_text()).get("configMapGenerator", []):
            if generator["name"] == "berth-settings":
                literals |= dict(line.split("=", 1) for line in generator["literals"])
    assert literals, "no berth-settings"
    assert set(literals) <= fields
    Settings.model_validate({k.removeprefix("BERTH_").lower(): v for k, v in literals.items()})


def test_the_pool_file_of_the_base_is_valid() -> None:
    _, problems = check_pool_file(BASE / "pools.yaml")
    assert problems == []


def test_the_reconciler_scope_names_the_reconciler_and_session_namespaces() -> None:
    policy, namespaces, daemonsets, *bindings = reconciler_scope_objects(["me"], "platform")
    for p in (policy, namespaces, daemonsets):
        assert p["spec"]["matchConditions"] == [
            {"name": "is-the-reconciler", "expression": "request.userInfo.username in ['me']"}
        ]
    assert [b["spec"]["policyName"] for b in bindings] == [
        policy["metadata"]["name"],
        namespaces["metadata"]["name"],
        daemonsets["metadata"]["name"],
    ]
    (check,) = daemonsets["spec"]["validations"]
    assert "request.namespace == 'platform'" in check["expression"]
    assert re.fullmatch(PREPULL_PATTERN, daemonset_name("c845a"))
    assert re.fullmatch(PREPULL_PATTERN, daemonset_name("GPU Pool_2"))
    assert re.fullmatch(SESSION_NAMESPACE_PATTERN, namespace_name(uuid.uuid4()))
    assert not re.fullmatch(SESSION_NAMESPACE_PATTERN, "berth-system")


def test_the_ways_in_lead_to_the_portal_service() -> None:
    """The sim serves no Route kind, so the Route is checked here only as a file."""
    (route,) = documents(DEPLOY / "overlays" / "openshift" / "route.yaml")
    assert route["spec"]["to"] == {"kind": "Service", "name": "berth-portal"}
    assert route["spec"]["port"] == {"targetPort": "http"}
    assert route["spec"]["tls"] == {
        "termination": "edge",
        "insecureEdgeTerminationPolicy": "Redirect",
    }
    (ingress,) = documents(DEPLOY / "overlays" / "kubernetes" / "ingress.yaml")
    (path,) = ingress["spec"]["rules"][0]["http"]["paths"]
    assert path["backend"]["service"] == {"name": "berth-portal", "port": {"name": "http"}}
    service = next(d for d in documents(BASE / "portal.yaml") if d["kind"] == "Service")
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]


def test_the_reconcilers_daemonsets_are_a_role_in_the_platform_namespace_only() -> None:
    docs = documents(BASE / "rbac.yaml")
    (role,) = [d for d in docs if d["kind"] == "Role"]
    (binding,) = [d for d in docs if d["kind"] == "RoleBinding"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "berth-system"
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "berth-reconciler", "namespace": "berth-system"}
    ]
    assert role["rules"] == [
        {
            "apiGroups": ["apps"],
            "resources": ["daemonsets"],
            "verbs": ["list", "create", "patch", "delete"],
        },
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    ]
    assert not any("daemonsets" in r.get("resources", []) for r in cluster_role()["rules"])


def test_the_catalog_of_the_base_has_the_demo_engines_and_the_mirror_list_them() -> None:
    """One set of engine images: the install's catalog, the demo catalog and the air-gapped
    image list (`berth render mirror`) name the same images."""
    base = load_catalog_file(BASE / "catalog.yaml")
    demo = load_catalog_file()
    assert base.engines == demo.engines
    assert base.models == ()
    images = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "src/berth/install/images.yaml").read_text()
    )["images"]
    listed = {i["name"]: i["image"] for i in images}
    assert {e.name: e.image for e in demo.engines} == {e.name: listed[e.name] for e in demo.engines}


def test_the_cache_agent_has_exactly_the_provisioners_rights_and_its_own_namespace() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in documents(BASE / "cache-agent.yaml")}
    rules = docs[("ClusterRole", "berth-cache-agent")]["rules"]
    granted = {
        (g, r, v)
        for rule in rules
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    assert ("", "persistentvolumes", "create") in granted
    assert not {
        r
        for g, r, v in granted
        if r not in ("persistentvolumes", "persistentvolumeclaims", "storageclasses")
    }
    assert {v for g, r, v in granted if r != "persistentvolumes"} <= {"get", "list", "watch"}
    daemonset = docs[("DaemonSet", "berth-cache-agent")]
    assert daemonset["metadata"]["namespace"] == "berth-node"
    # berth-system keeps `restricted`; the privileged agent is alone in berth-node
    namespace = docs[("Namespace", "berth-node")]["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "privileged"
    command = daemonset["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:2] == ["berth", "cache-agent"]
    assert "{node}" in command[command.index("--token-file") + 1]
    # the class the reconciler's claims name
    assert docs[("StorageClass", "berth-cache")]["provisioner"] == PROVISIONER
    assert Settings().cache_storage_class == "berth-cache"
