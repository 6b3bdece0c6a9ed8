"""The admission policies as objects: names, scope, actions, the reconciler's identity.

What they admit and refuse is shown on the real API server (tests/kube/test_guardrails.py)."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from berth.cli import app
from berth.kube.admission import (
    CACHE_CLAIMS_POLICY,
    DEVICE_ENV,
    OWNED_POLICY,
    POLICY_NAMES,
    admission_objects,
    default_reconciler,
)

RECONCILER = "system:serviceaccount:berth-system:berth-reconciler"


def test_every_policy_is_bound_to_session_namespaces_and_denies() -> None:
    objects = admission_objects([RECONCILER])
    policies = [o for o in objects if o["kind"] == "ValidatingAdmissionPolicy"]
    bindings = [o for o in objects if o["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert [p["metadata"]["name"] for p in policies] == list(POLICY_NAMES)
    assert [b["spec"]["policyName"] for b in bindings] == list(POLICY_NAMES)
    assert objects == policies + bindings  # a binding never names a policy not yet applied
    session = {"matchLabels": {"app.kubernetes.io/managed-by": "berth"}}
    for policy in policies:
        assert policy["apiVersion"] == "admissionregistration.k8s.io/v1"
        assert policy["spec"]["failurePolicy"] == "Fail"
        assert policy["spec"]["matchConstraints"]["namespaceSelector"] == session
        assert all(v["reason"] == "Forbidden" for v in policy["spec"]["validations"])
    for binding in bindings:
        assert binding["spec"]["validationActions"] == ["Deny"]
        assert binding["spec"]["matchResources"]["namespaceSelector"] == session


def test_the_reconcilers_identity_is_rendered_into_the_owned_objects_policy() -> None:
    objects = admission_objects(["alice", "system:serviceaccount:x:y"])
    (owned,) = [
        o for o in objects if o["kind"].endswith("Policy") and o["metadata"]["name"] == OWNED_POLICY
    ]
    variables = {v["name"]: v["expression"] for v in owned["spec"]["variables"]}
    assert variables["reconciler"] == (
        "request.userInfo.username in ['alice', 'system:serviceaccount:x:y']"
    )
    constraints = owned["spec"]["matchConstraints"]
    assert constraints["objectSelector"] == {
        "matchLabels": {"app.kubernetes.io/managed-by": "berth"}
    }
    kinds = {r for rule in constraints["resourceRules"] for r in rule["resources"]}
    assert kinds == {
        "resourcequotas",
        "limitranges",
        "secrets",
        "configmaps",
        "serviceaccounts",
        "networkpolicies",
        "rolebindings",
    }
    with pytest.raises(ValueError, match="identity"):
        admission_objects([])


def test_device_selectors_are_the_runtimes_not_cudas() -> None:
    assert "NVIDIA_VISIBLE_DEVICES" in DEVICE_ENV
    assert {"NVIDIA_MIG_CONFIG_DEVICES", "NVIDIA_MIG_MONITOR_DEVICES"} <= set(DEVICE_ENV)
    assert "CUDA_VISIBLE_DEVICES" not in DEVICE_ENV  # filters inside the container only


def test_render_admission_prints_the_same_objects_as_yaml() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["render", "admission"])
    assert result.exit_code == 0, result.output
    assert list(yaml.safe_load_all(result.output)) == admission_objects(
        [default_reconciler("berth-system")]
    )
    custom = runner.invoke(
        app, ["render", "admission", "--reconciler", "me", "--reconciler", "you"]
    )
    assert "request.userInfo.username in ['me', 'you']" in custom.output


def test_the_cache_claims_policy_names_the_reconciler_and_the_cache_class() -> None:
    objects = admission_objects(["alice"], cache_class="node-cache")
    (policy,) = [
        o
        for o in objects
        if o["kind"].endswith("Policy") and o["metadata"]["name"] == CACHE_CLAIMS_POLICY
    ]
    variables = {v["name"]: v["expression"] for v in policy["spec"]["variables"]}
    assert variables["reconciler"] == "request.userInfo.username in ['alice']"
    assert variables["cacheClass"] == "'node-cache'"
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rule["resources"] == ["persistentvolumeclaims"]
    assert rule["operations"] == ["CREATE", "UPDATE"]
