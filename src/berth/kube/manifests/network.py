"""What a session may reach and what may reach it.

Ingress: pods of the namespace itself that carry no agent role (`berth.io/role`: the
workspace and the user's plain pods reach every pod of the session; an agent reaches only what
`berth-policy` allows, see docs/runtime.md), and the ingress controller (on OpenShift the router,
selected by the `policy-group.network.openshift.io/ingress` label that also covers a router on
the host network). Egress: everything except the platform namespace and other tenants, which
are recognised by the managed-by label every session namespace carries; DNS is allowed
explicitly so that a platform that runs its resolver elsewhere still resolves.

NetworkPolicies only add allowances. The user, as namespace admin, can loosen their own
namespace's policies but not another tenant's: each tenant's ingress policy protects it
regardless of what its neighbours do.
"""

from __future__ import annotations

from berth.domain.session import MANAGED_BY, SessionSpec
from berth.kube.manifests.common import (
    EGRESS_POLICY,
    INGRESS_POLICY,
    NAMESPACE_NAME,
    PROXY,
    ROLE_LABEL,
    Obj,
    meta,
    obj,
)

OPENSHIFT_INGRESS_GROUP = "policy-group.network.openshift.io/ingress"
DNS_NAMESPACES = ("kube-system", "openshift-dns")
DNS_PORTS = (53, 5353)  # OpenShift's resolver listens on 5353


def proxy_config(spec: SessionSpec) -> Obj:
    """HTTP(S)_PROXY and NO_PROXY for egress, in upper and lower case (tools read either)."""
    cfg = spec.config
    values = {"HTTP_PROXY": cfg.http_proxy, "HTTPS_PROXY": cfg.https_proxy}
    data = {k: v for k, v in values.items() if v}
    data["NO_PROXY"] = cfg.no_proxy
    data |= {k.lower(): v for k, v in data.items()}
    return obj("v1", "ConfigMap", meta(spec, PROXY), data=dict(sorted(data.items())))


def ingress_policy(spec: SessionSpec, *, openshift: bool) -> Obj:
    peers: list[Obj] = [
        {"podSelector": {"matchExpressions": [{"key": ROLE_LABEL, "operator": "DoesNotExist"}]}},
        {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME: spec.config.ingress_namespace}}},
    ]
    if openshift:
        peers.append({"namespaceSelector": {"matchLabels": {OPENSHIFT_INGRESS_GROUP: ""}}})
    return obj(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        meta(spec, INGRESS_POLICY),
        spec={"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": peers}]},
    )


def _anywhere(cidr: str, excluded: list[str]) -> Obj:
    """Addresses outside the cluster; `excluded` holds the cluster's own networks, for CNIs
    that match pod addresses against ipBlocks too."""
    block: Obj = {"cidr": cidr}
    if excluded:
        block["except"] = excluded
    return {"ipBlock": block}


def egress_policy(spec: SessionSpec) -> Obj:
    cfg = spec.config
    not_tenant_or_platform = {
        "matchExpressions": [
            {"key": MANAGED_BY[0], "operator": "NotIn", "values": [MANAGED_BY[1]]},
            {"key": NAMESPACE_NAME, "operator": "NotIn", "values": [cfg.platform_namespace]},
        ]
    }
    dns = {
        "to": [
            {
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": NAMESPACE_NAME, "operator": "In", "values": list(DNS_NAMESPACES)}
                    ]
                }
            }
        ],
        "ports": [
            {"protocol": protocol, "port": port}
            for port in DNS_PORTS
            for protocol in ("UDP", "TCP")
        ],
    }
    v4 = [c for c in cfg.cluster_networks if ":" not in c]
    v6 = [c for c in cfg.cluster_networks if ":" in c]
    return obj(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        meta(spec, EGRESS_POLICY),
        spec={
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                dns,
                {"to": [{"podSelector": {}}]},
                {"to": [{"namespaceSelector": not_tenant_or_platform}]},
                {"to": [_anywhere("0.0.0.0/0", v4), _anywhere("::/0", v6)]},
            ],
        },
    )
