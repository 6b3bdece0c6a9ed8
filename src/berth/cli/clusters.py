"""Which Kubernetes clusters the reconciler drives.

The pool file names the clusters its pools live on (docs/scale.md); a named cluster is reached
through its kubeconfig file and context, answering or not (a cluster that is down delays only
its own pools' sessions, and its reconciler says so). The `default` cluster, unless the pool
file gives it a kubeconfig, is found in order: the kubeconfig named in settings; a running
`berth sim`; the default kubeconfig ($KUBECONFIG or ~/.kube/config) or the in-cluster service
account. It counts only if it answers.

The reconciler is handed a cluster; choosing one is the CLI's job, and only the CLI may know of
`berth sim` (a developer's tool): the check for a running sim imports `berth.sim` only when it
is reached, so this module does not need the sim to be installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from berth.config import Settings
from berth.domain.pool import ClusterRef
from berth.kube.adapter import KubeCluster
from berth.kube.errors import KubeError


class ClusterConfigError(ValueError):
    """A cluster the pool file names cannot be reached as configured (no such kubeconfig, a
    context it lacks): the reconciler refuses to start rather than skip it silently."""


@dataclass
class Found:
    cluster: KubeCluster
    source: str


def timeout(settings: Settings) -> tuple[float, float]:
    """(connect, read) seconds of every request to a cluster (BERTH_KUBE_TIMEOUT)."""
    return (min(5.0, settings.kube_timeout), settings.kube_timeout)


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
        c = KubeCluster.from_kubeconfig(
            str(settings.kubeconfig), settings.kube_context, timeout=timeout(settings)
        )
        return Found(c, f"kubeconfig {settings.kubeconfig}") if _reachable(c) else None
    simconfig = sim_kubeconfig()
    if simconfig is not None:
        c = KubeCluster.from_kubeconfig(str(simconfig), timeout=timeout(settings))
        if _reachable(c):
            return Found(c, f"berth sim ({simconfig})")
    try:
        c = KubeCluster.from_kubeconfig(None, settings.kube_context, timeout=timeout(settings))
    except KubeError:
        return None
    return Found(c, "the current kube context") if _reachable(c) else None


def connect(ref: ClusterRef, settings: Settings) -> Found | None:
    """The client of one cluster of the pool file. One with a kubeconfig is returned whether
    it answers or not; the implicit `default` one is found as `find` does (None: none
    answers). Raises ClusterConfigError for a kubeconfig that is missing or unusable."""
    if ref.kubeconfig is None:
        return find(settings)
    if not Path(ref.kubeconfig).is_file():
        raise ClusterConfigError(
            f"cluster {ref.name!r}: kubeconfig {ref.kubeconfig} does not exist "
            "(mount its Secret, docs/scale.md)"
        )
    try:
        c = KubeCluster.from_kubeconfig(ref.kubeconfig, ref.context, timeout=timeout(settings))
    except KubeError as err:
        raise ClusterConfigError(f"cluster {ref.name!r}: {err}") from err
    where = ref.kubeconfig + (f" context {ref.context}" if ref.context else "")
    return Found(c, f"cluster {ref.name} (kubeconfig {where})")
