"""Bring the sim up in dependency order, find it again later, and take it down.

Order matters: etcd before the API server, the API server before everything that watches it.
Each start is checked while waiting, so a component that dies (a bad flag, a port taken) is
reported with the end of its log instead of as a timeout. A failed `up` stops what it started.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from berth.cache.provisioner import storage_class as cache_storage_class
from berth.config import demo_pool_path, load_pool_file
from berth.domain.session import CACHE_STORAGE_CLASS as CACHE_CLASS
from berth.domain.session import SessionConfig
from berth.kube.admission import admission_objects
from berth.sim import build, components, nodes, openshift, pki, processes, readiness
from berth.sim.apiclient import ApiClient
from berth.sim.ports import free_ports
from berth.sim.provisioner import storage_class
from berth.sim.state import Paths, SimState
from berth.sim.versions import DEFAULT_SIM, CacheLayout, cache_layout, default_state_dir
from berth.sim.versions import state_dir as sim_state_dir

Step = Callable[[str], None]

# Stop order: reverse of start order.
ORDER = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "provisioner",
    "cache-agent",
)


# Every listener of the sim, each on a free port of 127.0.0.1.
LISTENERS = (
    "etcd",
    "etcd-peer",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
)


class SimError(RuntimeError):
    """The sim cannot start or a component died."""


@dataclass(frozen=True)
class Status:
    state: SimState
    alive: dict[str, bool]
    rss: dict[str, int]

    @property
    def running(self) -> bool:
        return all(self.alive.values()) and bool(self.alive)


def _noop(_: str) -> None:
    return None


def _markers(state: SimState, paths: Paths, name: str) -> tuple[str, ...]:
    return (state.exes.get(name, name), str(paths.root))


def status(state_dir: Path | None = None) -> Status | None:
    """The recorded sim and which of its processes still run; None when none was started."""
    paths = Paths(state_dir or default_state_dir())
    state = SimState.load(paths)
    if state is None:
        return None
    alive = {n: processes.alive(p, _markers(state, paths, n)) for n, p in state.pids.items()}
    rss = {n: processes.rss_bytes(p) if alive[n] else 0 for n, p in state.pids.items()}
    return Status(state, alive, rss)


def down(state_dir: Path | None = None) -> bool:
    """Stop every recorded process (newest first); True when something was running."""
    paths = Paths(state_dir or default_state_dir())
    state = SimState.load(paths)
    if state is None:
        return False
    procs = [
        (state.pids[name], _markers(state, paths, name))
        for name in reversed(ORDER)
        if name in state.pids
    ]
    was_running = any(processes.alive(pid, markers) for pid, markers in procs)
    # One at a time, clients first: an apiserver whose etcd vanished mid-shutdown keeps retrying
    # until it is killed, while one stopped before its etcd exits in about a second.
    for proc in procs:
        processes.stop([proc], timeout=10)
    paths.state_file.unlink(missing_ok=True)
    return was_running


def _log_tail(paths: Paths, name: str, lines: int = 20) -> str:
    try:
        text = paths.log(name).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class _Runner:
    """Starts components into one state and checks they stay alive while waiting."""

    def __init__(
        self, paths: Paths, state: SimState, deadline: float, die_with_parent: bool = False
    ) -> None:
        self.paths = paths
        self.state = state
        self.deadline = deadline
        self.die_with_parent = die_with_parent

    def left(self) -> float:
        """Seconds until the deadline of `up` (at least one, so a last check still runs)."""
        return max(1.0, self.deadline - time.monotonic())

    def start(self, name: str, argv: list[str], marker: str | None = None) -> None:
        """Spawn one component; `marker` (default argv[0]) identifies it in /proc later."""
        self.state.pids[name] = processes.spawn(
            argv, self.paths.log(name), die_with_parent=self.die_with_parent
        )
        self.state.exes[name] = marker or argv[0]
        self.state.save(self.paths)

    def check_alive(self) -> None:
        for name, pid in self.state.pids.items():
            if not processes.alive(pid, _markers(self.state, self.paths, name)):
                raise SimError(
                    f"{name} exited; end of {self.paths.log(name)}:\n{_log_tail(self.paths, name)}"
                )

    def wait_for(self, what: str, check: Callable[[], bool]) -> None:
        """Wait until `check` holds, failing early if a started component has died."""

        def guarded() -> bool:
            self.check_alive()
            return check()

        readiness.wait_for(what, guarded, self.left())


def _etcd_ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _prepare(paths: Paths) -> None:
    """Clear what a previous run left: a sim always starts from an empty etcd."""
    if SimState.load(paths) is not None:
        down(paths.root)
    for child in ("etcd", "pki", "run", "logs", "kubeconfig", "state.json"):
        target = paths.root / child
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    paths.root.mkdir(parents=True, exist_ok=True)


def up(
    pool_file: Path | None,
    node_count: int = 1,
    state_dir: Path | None = None,
    on_step: Step = _noop,
    timeout: float = 300.0,
    cache: CacheLayout | None = None,
    die_with_parent: bool = False,
    with_openshift: bool = False,
    name: str = DEFAULT_SIM,
) -> SimState:
    """Start a fresh sim and return once it is ready; raise SimError (and stop it) otherwise.

    `pool_file` None means the demo pool; a bad pool file raises FileError before anything starts.
    The sim outlives the calling process (`berth sim up` returns and it runs on) unless
    `die_with_parent`: then every component dies with the caller, even one killed with SIGKILL
    (what a test wants; call from the main thread, see `processes.spawn`). `with_openshift`
    registers the OpenShift API types Berth uses as CRDs (`berth.sim.openshift`); their
    manifests must be cached (`berth sim build` fetches them). `name` picks the state folder
    (`versions.state_dir`) and the kubeconfig context, so several sims run side by side.
    """
    paths = Paths(state_dir or sim_state_dir(name))
    current = status(paths.root)
    if current is not None and current.running:
        again = "" if name == DEFAULT_SIM else f" --name {name}"
        raise SimError(f"a sim is already running from {paths.root}; `berth sim down{again}` first")
    cache = cache or cache_layout()
    if cache.missing():
        raise SimError(
            f"sim binaries missing ({', '.join(cache.missing())}): run `berth sim build`"
        )
    crds: list[dict[str, Any]] = []
    if with_openshift:
        missing = [str(p) for p in build.openshift_crd_paths() if not p.is_file()]
        if missing:
            raise SimError(f"OpenShift CRDs missing ({', '.join(missing)}): run `berth sim build`")
        crds = openshift.load_crds(build.openshift_crd_paths())
    pools = load_pool_file(pool_file)
    manifests = nodes.manifests_for_pools(pools, node_count)
    classes = nodes.storage_classes(pools)
    began = time.monotonic()
    _prepare(paths)
    try:
        return _start(
            paths,
            cache,
            pool_file,
            manifests,
            classes,
            on_step,
            timeout,
            began,
            die_with_parent,
            crds,
            components.context_name(name),
        )
    except BaseException:
        down(paths.root)
        raise


def _start(
    paths: Paths,
    cache: CacheLayout,
    pool_file: Path | None,
    manifests: list[dict[str, Any]],
    classes: list[str],
    on_step: Step,
    timeout: float,
    began: float,
    die_with_parent: bool,
    crds: list[dict[str, Any]],
    context: str,
) -> SimState:
    """Start the components in dependency order, add the pool's objects, wait until ready."""
    keys = pki.create(paths.pki)
    state = _new_state(paths, keys, pool_file, len(manifests), classes, context)
    runner = _Runner(paths, state, deadline=began + timeout, die_with_parent=die_with_parent)
    ports = state.ports

    on_step("etcd")
    runner.start("etcd", components.etcd(cache, paths, ports["etcd"], ports["etcd-peer"]))
    runner.wait_for("etcd /readyz", lambda: _etcd_ready(ports["etcd"]))

    on_step("kube-apiserver")
    runner.start(
        "kube-apiserver",
        components.apiserver(cache, paths, keys, ports["kube-apiserver"], ports["etcd"]),
    )
    with ApiClient(state.server, keys.ca_cert, keys.admin_cert, keys.admin_key) as api:
        runner.wait_for("kube-apiserver /readyz", api.ready)

        on_step("controller-manager, scheduler, kwok, volume provisioner, cache agent")
        node_names = [str(m["metadata"]["name"]) for m in manifests]
        _start_controllers(runner, cache, keys, node_names)

        on_step(f"{len(classes)} StorageClass(es), {len(manifests)} node(s), admission policies")
        _create_cluster_objects(api, classes, manifests)
        if crds:
            on_step(f"{len(crds)} OpenShift CRD(s)")
            names = openshift.register(api, crds)
            runner.wait_for(
                "the OpenShift CRDs Established", lambda: openshift.established(api, names)
            )
            state.openshift = True

        readiness.wait_until_ready(
            api, set(node_names), runner.left(), on_step, guard=runner.check_alive
        )
    runner.check_alive()
    state.ready_seconds = round(time.monotonic() - began, 2)
    state.save(paths)
    return state


def _new_state(
    paths: Paths,
    keys: pki.Pki,
    pool_file: Path | None,
    node_count: int,
    classes: list[str],
    context: str,
) -> SimState:
    """A free port for every listener, and the admin kubeconfig for the API server's one."""
    ports = dict(zip(LISTENERS, free_ports(len(LISTENERS)), strict=True))
    server = f"https://127.0.0.1:{ports['kube-apiserver']}"
    paths.kubeconfig.write_text(components.kubeconfig(server, keys, context))
    return SimState(
        server=server,
        ports=ports,
        pool_file=str(pool_file or demo_pool_path()),
        nodes=node_count,
        storage_classes=classes,
        started_at=time.time(),
    )


def _start_controllers(
    runner: _Runner, cache: CacheLayout, keys: pki.Pki, node_names: list[str]
) -> None:
    """Everything that only watches the API server; each waits for its objects by itself."""
    paths, ports = runner.paths, runner.state.ports
    runner.start(
        "kube-controller-manager",
        components.controller_manager(cache, paths, keys, ports["kube-controller-manager"]),
    )
    runner.start("kube-scheduler", components.scheduler(cache, paths, ports["kube-scheduler"]))
    runner.start("kwok", components.kwok(cache, paths, ports["kwok"]))
    runner.start(
        "provisioner",
        components.provisioner(sys.executable, paths),
        marker=components.PROVISIONER_MODULE,
    )
    runner.start(
        "cache-agent",
        components.cache_agent(sys.executable, paths, node_names),
        marker=components.CACHE_AGENT_MODULE,
    )


ADMISSION_PATH = "/apis/admissionregistration.k8s.io/v1"
PLATFORM = SessionConfig().platform_namespace
ADMISSION_PLURALS = {
    "ValidatingAdmissionPolicy": "validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
}


def _create_cluster_objects(
    api: ApiClient, classes: list[str], manifests: list[dict[str, Any]]
) -> None:
    """The pool's StorageClasses and the artifact cache's, its fake GPU Nodes, and Berth's
    admission policies (the
    reconciler is whoever holds the admin kubeconfig), so every sim runs with the guardrails
    an installation has."""
    for name in classes:
        api.create("/apis/storage.k8s.io/v1/storageclasses", storage_class(name))
    api.create("/apis/storage.k8s.io/v1/storageclasses", cache_storage_class(CACHE_CLASS))
    for manifest in manifests:
        api.create("/api/v1/nodes", manifest)
    for policy in admission_objects([pki.ADMIN_USER]):
        api.create(f"{ADMISSION_PATH}/{ADMISSION_PLURALS[policy['kind']]}", policy)
    # the platform namespace, where the reconciler keeps the engines' pre-pull DaemonSets
    platform = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": PLATFORM}}
    api.create("/api/v1/namespaces", platform)
