"""The workspace's URL: an Ingress on Kubernetes, a Route on OpenShift.

TLS terminates at the controller or router with its default certificate (a wildcard for the
ingress domain is the usual setup), so the portal can always show `https://<namespace>.<domain>/`.
"""

from __future__ import annotations

from berth.domain.session import SessionSpec
from berth.kube.manifests.common import WORKSPACE, Obj, meta, obj


def host(spec: SessionSpec) -> str:
    return f"{spec.namespace}.{spec.config.ingress_domain}"


def ingress(spec: SessionSpec) -> Obj:
    body: Obj = {
        "tls": [{"hosts": [host(spec)]}],
        "rules": [
            {
                "host": host(spec),
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": WORKSPACE, "port": {"name": "http"}}},
                        }
                    ]
                },
            }
        ],
    }
    if spec.config.ingress_class:
        body = {"ingressClassName": spec.config.ingress_class, **body}
    return obj("networking.k8s.io/v1", "Ingress", meta(spec, WORKSPACE), spec=body)


def route(spec: SessionSpec) -> Obj:
    return obj(
        "route.openshift.io/v1",
        "Route",
        meta(spec, WORKSPACE),
        spec={
            "host": host(spec),
            "to": {"kind": "Service", "name": WORKSPACE, "weight": 100},
            "port": {"targetPort": "http"},
            "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
        },
    )
