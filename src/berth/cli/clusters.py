"""Which Kubernetes cluster the reconciler drives.

In order: the kubeconfig named in settings; a running `berth sim`; the default kubeconfig
($KUBECONFIG or ~/.kube/config) or the in-cluster service account. A cluster counts only if
it answers.

The reconciler is handed a cluster; choosing one is the CLI's job, and only the CLI may know of
`berth sim` (a developer's tool): the check for a running sim imports `berth.sim` only when it
is reached, so this module does not need the sim to be installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from berth.config import Settings
from berth.kube.adapter import KubeCluster
from berth.kube.errors import KubeError


@dataclass
class Found:
    cluster: KubeCluster
    source: str


def _reachable(c: KubeCluster) -> bool:
    try:
        c.namespaces("app.kubernetes.io/managed-by=berth")
        return True
    except KubeError:
        c.close()
        return False


def sim_kubeconfig() -> Path | None:
    """The kubeconfig of a running `berth sim`; None when none runs."""
    from berth.sim import cluster as sim
    from berth.sim.state import Paths
    from berth.sim.versions import default_state_dir

    status = sim.status()
    if status is None or not status.running:
        return None
    return Paths(default_state_dir()).kubeconfig


def find(settings: Settings) -> Found | None:
    if settings.kubeconfig is not None:
        c = KubeCluster.from_kubeconfig(str(settings.kubeconfig), settings.kube_context)
        return Found(c, f"kubeconfig {settings.kubeconfig}") if _reachable(c) else None
    simconfig = sim_kubeconfig()
    if simconfig is not None:
        c = KubeCluster.from_kubeconfig(str(simconfig))
        if _reachable(c):
            return Found(c, f"berth sim ({simconfig})")
    try:
        c = KubeCluster.from_kubeconfig(None, settings.kube_context)
    except KubeError:
        return None
    return Found(c, "the current kube context") if _reachable(c) else None
