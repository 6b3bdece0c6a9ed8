"""The OpenShift API types Berth uses, registered as CRDs in a sim started with `--openshift`.

Route (route.openshift.io/v1) and SecurityContextConstraints (security.openshift.io/v1) come
from the CRD manifests of the pinned `github.com/openshift/api` module (`build.OPENSHIFT_API`,
read from its cache folder, never from the repository), so the API server validates them with
OpenShift's own schemas, CEL rules included. BuildConfig and ImageStream have no CRD manifests
in the module and stay unregistered (docs/sim.md).

Registering route.openshift.io makes Berth's `Cluster.is_openshift()` true for this sim: a
reconciler connected to it writes Routes instead of Ingresses, as on OpenShift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from berth.sim.apiclient import ApiClient

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def load_crds(paths: list[Path]) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions in the cached manifest files."""
    crds: list[dict[str, Any]] = []
    for path in paths:
        crds += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return crds


def register(api: ApiClient, crds: list[dict[str, Any]]) -> list[str]:
    """Create the CRDs (an existing one counts as created); return their names."""
    for crd in crds:
        api.create(CRD_PATH, crd)
    return [str(crd["metadata"]["name"]) for crd in crds]


def established(api: ApiClient, names: list[str]) -> bool:
    """True when every named CRD has the condition Established=True (its kind is served)."""
    for name in names:
        conditions = api.get(f"{CRD_PATH}/{name}").get("status", {}).get("conditions") or []
        if not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            return False
    return True
