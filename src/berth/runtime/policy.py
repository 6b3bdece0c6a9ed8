"""Who may reach whom among a session's agents: NetworkPolicies, and what they imply (pure).

An **agent** is a pod labelled `berth.io/role` (`berth-serve --role R`, or any pod the user
labels so). The session's own ingress policy `berth-ingress` admits, from inside the
namespace, only pods *without* a role: the workspace and the user's plain pods reach every pod;
an agent reaches another pod only where a policy allows it. NetworkPolicies only ever add
allowances, so the states are:

- **open** (no `berth-policy` yet): `agents-open` lets every agent reach every pod of the
  namespace; `berth-serve --role` makes it when the namespace has no `agents-default`.
- **managed** (after the first `berth-policy allow|deny`): `agents-default` marks it (it
  selects the agents and allows nothing by itself), `agents-open` is gone, and each
  `agents-allow-<from>-to-<to>` lets pods of role FROM reach pods of role TO (on the ports
  given, else on every port). `deny` deletes that allowance. `reset` returns to open.

These objects are the tenant's own (no `app.kubernetes.io/managed-by` label: the reconciler's
admission policy would refuse it), labelled `berth.io/agent-policy`. The evaluator below reads
any NetworkPolicies (Berth's, these, the user's own) for pods of one namespace, so `show` tells
what the cluster would enforce, not what berth-policy meant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from berth.kube.manifests.common import APP_LABEL, ROLE_LABEL, WORKSPACE

Obj = dict[str, Any]
POLICY_LABEL = "berth.io/agent-policy"
FROM_LABEL = "berth.io/from"
TO_LABEL = "berth.io/to"
OPEN = "agents-open"
DEFAULT = "agents-default"
ALLOW_PREFIX = "agents-allow-"
API_VERSION = "networking.k8s.io/v1"
HAS_ROLE = {"matchExpressions": [{"key": ROLE_LABEL, "operator": "Exists"}]}


def _policy(name: str, namespace: str, kind: str, spec: Obj, **labels: str) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {POLICY_LABEL: kind, **labels},
        },
        "spec": spec,
    }


def open_policy(namespace: str) -> Obj:
    """Open state: every agent reaches every pod of the namespace."""
    return _policy(
        OPEN,
        namespace,
        "open",
        {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": HAS_ROLE}]}],
        },
    )


def default_policy(namespace: str) -> Obj:
    """Managed state's marker: selects the agents, allows nothing by itself."""
    return _policy(
        DEFAULT, namespace, "default", {"podSelector": HAS_ROLE, "policyTypes": ["Ingress"]}
    )


def allow_name(source: str, target: str) -> str:
    return f"{ALLOW_PREFIX}{source}-to-{target}"


def allow_policy(namespace: str, source: str, target: str, ports: Sequence[int]) -> Obj:
    """Pods of role `source` may reach pods of role `target` (on `ports`; none: every port)."""
    rule: Obj = {"from": [{"podSelector": {"matchLabels": {ROLE_LABEL: source}}}]}
    if ports:
        rule["ports"] = [{"protocol": "TCP", "port": p} for p in sorted(set(ports))]
    return _policy(
        allow_name(source, target),
        namespace,
        "allow",
        {
            "podSelector": {"matchLabels": {ROLE_LABEL: target}},
            "policyTypes": ["Ingress"],
            "ingress": [rule],
        },
        **{FROM_LABEL: source, TO_LABEL: target},
    )


def allowed_ports(existing: Obj | None) -> list[int] | None:
    """The ports an existing allowance names; None when it allows every port (or is absent)."""
    if existing is None:
        return None
    rules = existing.get("spec", {}).get("ingress") or []
    ports = [int(p["port"]) for r in rules for p in r.get("ports") or [] if "port" in p]
    return ports or None


# -- evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pod:
    """A kind of pod in the namespace, by what its labels are (one per row of the table)."""

    name: str
    labels: Mapping[str, str]
    ports: tuple[int, ...] = ()  # what it serves (for the table's port column)


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A label selector's meaning (an empty selector selects everything; None nothing)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _peer_matches(
    peer: Obj, pod: Pod, namespace_labels: Mapping[str, str], same_namespace: bool
) -> bool:
    if "ipBlock" in peer:
        return False  # pod addresses are not known here; Berth's rules name pods by label
    ns_selector = peer.get("namespaceSelector")
    pod_selector = peer.get("podSelector")
    if ns_selector is None:
        return same_namespace and selects(pod_selector or {}, pod.labels)
    if not selects(ns_selector, namespace_labels):
        return False
    return selects(pod_selector or {}, pod.labels)


def _port_matches(ports: list[Obj] | None, port: int) -> bool:
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != "TCP":
            continue
        if "port" not in p:
            return True
        low = int(p["port"]) if isinstance(p["port"], int) else -1
        high = int(p.get("endPort", low))
        if low <= port <= high:
            return True
    return False


def _direction_allows(
    policies: Sequence[Obj],
    kind: str,
    subject: Pod,
    other: Pod,
    port: int,
    namespace_labels: Mapping[str, str],
) -> bool:
    key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
    applying = [
        p
        for p in policies
        if selects(p["spec"].get("podSelector", {}), subject.labels)
        and kind in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not applying:
        return True  # not isolated in this direction
    for p in applying:
        for rule in p["spec"].get(key) or []:
            peers = rule.get(peers_key)
            if not _port_matches(rule.get("ports"), port):
                continue
            if not peers or any(_peer_matches(x, other, namespace_labels, True) for x in peers):
                return True
    return False


def allows(
    policies: Sequence[Obj],
    source: Pod,
    target: Pod,
    port: int,
    namespace_labels: Mapping[str, str],
) -> bool:
    """Whether TCP traffic from `source` to `target` on `port`, both pods of the namespace
    whose labels are `namespace_labels`, is allowed by the namespace's NetworkPolicies."""
    return _direction_allows(
        policies, "Egress", source, target, port, namespace_labels
    ) and _direction_allows(policies, "Ingress", target, source, port, namespace_labels)


ANY_PORT = 65_000  # a port no rule of Berth's names: reachable on it means "every port"


def reach(
    policies: Sequence[Obj],
    pods: Sequence[Pod],
    namespace_labels: Mapping[str, str],
) -> dict[tuple[str, str], str]:
    """(source, target) -> "all", "8000,9000" (the ports allowed) or "-" (nothing)."""
    named = sorted(
        {
            int(p["port"])
            for pol in policies
            for direction in ("ingress", "egress")
            for rule in pol["spec"].get(direction) or []
            for p in rule.get("ports") or []
            if isinstance(p.get("port"), int)
        }
        | {port for pod in pods for port in pod.ports}
    )
    out: dict[tuple[str, str], str] = {}
    for s in pods:
        for t in pods:
            if allows(policies, s, t, ANY_PORT, namespace_labels):
                out[(s.name, t.name)] = "all"
                continue
            ok = [p for p in named if allows(policies, s, t, p, namespace_labels)]
            out[(s.name, t.name)] = ",".join(map(str, ok)) if ok else "-"
    return out


def table(cells: Mapping[tuple[str, str], str], names: Sequence[str]) -> str:
    """The who-can-reach-whom table: rows are sources, columns targets."""
    header = ["from \\ to", *names]
    rows = [[s, *(cells[(s, t)] for t in names)] for s in names]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def workspace_pod(labels: Mapping[str, str]) -> Pod:
    return Pod(WORKSPACE, {**labels, APP_LABEL: WORKSPACE})


def state(policies: Sequence[Obj]) -> str:
    names = {p["metadata"]["name"] for p in policies}
    if DEFAULT in names:
        return "managed"
    return "open" if OPEN in names else "unset"
