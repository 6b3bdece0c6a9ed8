"""Build the sim's binaries from the Go module proxy, never from release downloads.

`go install k8s.io/kubernetes/cmd/...@v` is refused because that module's go.mod replaces its
staging modules with local folders. A wrapper module of our own requires k8s.io/kubernetes and
replaces each staging module with its published `v0.<minor>.<patch>`; the list is read from the
downloaded go.mod, so a version bump needs no hand-kept list. etcd is built the same way from its
server module (etcd's own main.go is one call to etcdmain.Main); kwok has no replace directives
and installs directly, and so does kustomize, which builds the install manifests in deploy/ for
the install tests (`kubectl` is not needed). GOCACHE and GOMODCACHE stay at Go's defaults so
rebuilds are warm.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from berth.sim import versions
from berth.sim.progress import BuildProgress, Snapshot, load_durations, save_durations
from berth.sim.versions import CacheLayout

Step = Callable[[str], None]
Line = Callable[[str], None]

_KUBE_TOOLS = """//go:build tools

// Package tools pins the Kubernetes commands this module builds.
package tools

import (
\t_ "k8s.io/kubernetes/cmd/kube-apiserver"
\t_ "k8s.io/kubernetes/cmd/kube-controller-manager"
\t_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
"""

_ETCD_MAIN = """// Command etcd is etcd's own server/main.go: the whole server lives in etcdmain.
package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
\tetcdmain.Main(os.Args)
}
"""


# kustomize builds deploy/ for tests/kube/test_install.py; v5.8.1 is the newest whose modules
# build with Go 1.26. It lives beside the sim's version sets, in a folder of its own version, so
# bumping it never rebuilds Kubernetes.
KUSTOMIZE = "v5.8.1"

# cyclonus evaluates NetworkPolicies without a cluster (`analyze --mode query-traffic`): the
# independent evaluator of tests/kube/test_runtime.py's reachability table. The Kubernetes
# network-policy-api project's policy-assistant (its successor) cannot come from the Go module
# proxy: its go.mod, in cmd/policy-assistant, declares the module
# sigs.k8s.io/network-policy-api/policy-assistant, a path the proxy resolves to a folder the
# repository does not have (404 for both paths), and the parent module's zip leaves nested
# modules out. cyclonus v0.5.6 is the newest tag on the proxy.
CYCLONUS = "v0.5.6"


# The OpenShift API types Berth uses, registered as CRDs by `berth sim up --openshift`. The proxy
# refuses branch queries; this pseudo-version is the one github.com/openshift/client-go@latest
# (v0.0.0-20251015124057-db0dee36e235) requires. Only Route and SecurityContextConstraints ship
# CRD manifests in the module; build.openshift.io and image.openshift.io are served by
# OpenShift's own API server and have Go types only (docs/sim.md).
OPENSHIFT_API = "v0.0.0-20251015095338-264e80a2b6e7"
OPENSHIFT_CRDS = (
    "route/v1/zz_generated.crd-manifests/routes.crd.yaml",
    "security/v1/zz_generated.crd-manifests/"
    "0000_03_config-operator_01_securitycontextconstraints.crd.yaml",
)


class BuildError(RuntimeError):
    """A go command failed; the message carries the tail of its output."""


# Where the official Go tarball installs; a non-login shell (CI, make) may not have it on PATH.
_GO_FALLBACK = Path("/usr/local/go/bin/go")


def _go() -> str:
    go = shutil.which("go") or (str(_GO_FALLBACK) if _GO_FALLBACK.is_file() else None)
    if go is None:
        raise BuildError("the `go` command is not on PATH; install Go 1.26 or newer")
    return go


# go commands running now; killed if the process exits first (a build in a background thread of
# `berth up` must not outlive it: go keeps compiling for minutes otherwise).
_running: set[subprocess.Popen[str]] = set()


@atexit.register
def _kill_running() -> None:
    for proc in list(_running):
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)


def _run(args: list[str], cwd: Path, on_line: Line, env: dict[str, str] | None = None) -> str:
    """Run a go command, streaming each output line; raise with the last lines on failure."""
    full_env = {**os.environ, "CGO_ENABLED": "0", **(env or {})}
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: go's compilers die with it
    )
    _running.add(proc)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for raw in proc.stdout:
            line = raw.rstrip()
            lines.append(line)
            on_line(line)
        code = proc.wait()
    except BaseException:  # Ctrl-C, or SystemExit from `berth sim build`'s SIGTERM handler
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        _running.discard(proc)
    if code != 0:
        tail = "\n".join(lines[-30:])
        raise BuildError(f"{' '.join(args)} failed in {cwd}:\n{tail}")
    return "\n".join(lines)


def _kube_ldflags(version: str) -> str:
    """The version stamp of hack/lib/version.sh; the apiserver derives its emulation version
    from it, so an unstamped build would call itself v0.0.0."""
    major, minor, _ = version.lstrip("v").split(".")
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        for key, value in (
            ("gitVersion", version),
            ("gitMajor", major),
            ("gitMinor", minor),
            ("gitTreeState", "clean"),
            ("buildDate", "1970-01-01T00:00:00Z"),
        ):
            flags.append(f"-X {pkg}.{key}={value}")
    return " ".join(flags)


def kube_go_mod(upstream_go_mod: str, version: str) -> str:
    """The wrapper's go.mod: upstream's go and godebug lines, staging modules at their tags."""
    go_line = "go 1.26.0"
    godebug: list[str] = []
    staging: list[str] = []
    for raw in upstream_go_mod.splitlines():
        line = raw.strip()
        if line.startswith("go "):
            go_line = line
        elif line.startswith("godebug "):
            godebug.append(line)
        elif "=> ./staging/" in line:
            staging.append(line.split()[0])
    published = versions.staging_version(version)
    replaces = "".join(f"\t{m} => {m} {published}\n" for m in staging)
    parts = [
        "module berth.local/simbuild/kubernetes\n",
        f"{go_line}\n",
        *(f"{g}\n" for g in godebug),
        f"require k8s.io/kubernetes {version}\n",
        f"replace (\n{replaces})\n",
    ]
    return "\n".join(parts)


def _build_kube(layout: CacheLayout, on_line: Line, out: Path) -> None:
    src = layout.src / "kubernetes"
    src.mkdir(parents=True, exist_ok=True)
    go = _go()
    info = json.loads(
        _run(
            [go, "mod", "download", "-json", f"k8s.io/kubernetes@{versions.KUBERNETES}"],
            src,
            on_line,
        )
    )
    upstream = Path(info["GoMod"]).read_text()
    (src / "go.mod").write_text(kube_go_mod(upstream, versions.KUBERNETES))
    (src / "tools.go").write_text(_KUBE_TOOLS)
    _run([go, "mod", "tidy"], src, on_line)
    _run(
        [
            go,
            "build",
            "-p",
            "2",
            "-trimpath",
            "-tags=selinux,notest,grpcnotrace",
            "-ldflags",
            _kube_ldflags(versions.KUBERNETES),
            "-o",
            f"{out}/",
            *(f"k8s.io/kubernetes/cmd/{name}" for name in versions.KUBE_BINARIES),
        ],
        src,
        on_line,
    )


def _build_etcd(layout: CacheLayout, on_line: Line, out: Path) -> None:
    src = layout.src / "etcd"
    src.mkdir(parents=True, exist_ok=True)
    (src / "go.mod").write_text(
        "module berth.local/simbuild/etcd\n\ngo 1.26.0\n\n"
        f"require go.etcd.io/etcd/server/v3 {versions.ETCD}\n"
    )
    (src / "main.go").write_text(_ETCD_MAIN)
    go = _go()
    _run([go, "mod", "tidy"], src, on_line)
    _run(
        [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "etcd"), "."], src, on_line
    )


# kwok's built-in stages are only loaded by kwokctl; a bare `kwok` refuses to start without
# stages in its config. These are the ones kwokctl picks: fast node init, heartbeat with leases
# (the node-lifecycle controller reads leases), and the fast pod lifecycle.
_KWOK_STAGE_FILES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)


def _build_kwok(layout: CacheLayout, on_line: Line, out: Path) -> None:
    layout.src.mkdir(parents=True, exist_ok=True)
    info = json.loads(
        _run(
            [_go(), "mod", "download", "-json", f"sigs.k8s.io/kwok@{versions.KWOK}"],
            layout.src,
            on_line,
        )
    )
    stages = [(Path(info["Dir"]) / f).read_text().strip() for f in _KWOK_STAGE_FILES]
    (out / versions.KWOK_STAGES).write_text("\n---\n".join(stages) + "\n")
    _go_install(
        f"sigs.k8s.io/kwok/cmd/kwok@{versions.KWOK}", layout.src, on_line, {"GOBIN": str(out)}
    )


def _go_install(module: str, cwd: Path, on_line: Line, env: dict[str, str]) -> None:
    """`go install` of one pinned module, stripped, into env["GOBIN"]."""
    _run([_go(), "install", "-trimpath", "-ldflags", "-s -w", module], cwd, on_line, env=env)


def kustomize_path() -> Path:
    """Where the pinned kustomize is (or will be) cached."""
    return versions.cache_root() / f"kustomize-{KUSTOMIZE}" / "kustomize"


def _build_tool(module: str, target: Path, on_line: Line, force: bool) -> Path:
    """One pinned Go tool, built with `go install` into its cache folder when missing."""
    if os.access(target, os.X_OK) and not force:
        return target
    scratch = target.parent / ".build"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    _go_install(module, scratch, on_line, {"GOBIN": str(scratch), "GOTOOLCHAIN": "local"})
    (scratch / target.name).replace(target)
    shutil.rmtree(scratch, ignore_errors=True)
    return target


def build_kustomize(on_line: Line, force: bool = False) -> Path:
    """The pinned kustomize, built into its cache folder when missing."""
    module = f"sigs.k8s.io/kustomize/kustomize/v5@{KUSTOMIZE}"
    return _build_tool(module, kustomize_path(), on_line, force)


def cyclonus_path() -> Path:
    """Where the pinned cyclonus is (or will be) cached."""
    return versions.cache_root() / f"cyclonus-{CYCLONUS}" / "cyclonus"


def build_cyclonus(on_line: Line, force: bool = False) -> Path:
    """The pinned cyclonus, built into its cache folder when missing."""
    module = f"github.com/mattfenwick/cyclonus/cmd/cyclonus@{CYCLONUS}"
    return _build_tool(module, cyclonus_path(), on_line, force)


def openshift_crds_dir() -> Path:
    """Where the pinned OpenShift CRD manifests are (or will be) cached."""
    return versions.cache_root() / f"openshift-api-{OPENSHIFT_API}"


def openshift_crd_paths() -> list[Path]:
    return [openshift_crds_dir() / Path(name).name for name in OPENSHIFT_CRDS]


def fetch_openshift_crds(on_line: Line, force: bool = False) -> Path:
    """The CRD manifests of the pinned github.com/openshift/api module, copied from the Go module
    cache (`go mod download`, the module proxy) into their cache folder when missing."""
    target = openshift_crds_dir()
    if not force and all(p.is_file() for p in openshift_crd_paths()):
        return target
    scratch = target.parent / f".build-openshift-api-{OPENSHIFT_API}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    module = f"github.com/openshift/api@{OPENSHIFT_API}"
    info = json.loads(_run([_go(), "mod", "download", "-json", module], scratch, on_line))
    for name in OPENSHIFT_CRDS:
        shutil.copyfile(Path(info["Dir"]) / name, scratch / Path(name).name)
    shutil.rmtree(target, ignore_errors=True)
    scratch.replace(target)
    return target


_STEPS: dict[str, Callable[[CacheLayout, Line, Path], None]] = {
    "kube-apiserver": _build_kube,
    "etcd": _build_etcd,
    "kwok": _build_kwok,
}
_PRODUCES = {
    "kube-apiserver": versions.KUBE_BINARIES,
    "etcd": ("etcd",),
    "kwok": ("kwok", versions.KWOK_STAGES),
}
_TITLES = {
    "kube-apiserver": f"Kubernetes {versions.KUBERNETES} (apiserver, controller-manager, "
    "scheduler)",
    "etcd": f"etcd {versions.ETCD}",
    "kwok": f"kwok {versions.KWOK}",
}


# the pinned tools beside the version sets: key -> build(on_line, force)
_TOOLS: dict[str, Callable[[Line, bool], Path]] = {
    "kustomize": lambda on_line, force: build_kustomize(on_line, force=force),
    "cyclonus": lambda on_line, force: build_cyclonus(on_line, force=force),
    "openshift-api": lambda on_line, force: fetch_openshift_crds(on_line, force=force),
}


def durations_path() -> Path:
    """Where the seconds each step took on this machine are kept (berth.sim.progress)."""
    return versions.cache_root() / "build-seconds.json"


def pending(layout: CacheLayout, force: bool = False) -> list[str]:
    """The steps a build would run now (keys of `title`), in order; empty when all is cached."""
    missing = set(versions.ALL_BINARIES if force else layout.missing())
    keys = [key for key in _STEPS if missing.intersection(_PRODUCES[key])]
    if force or not os.access(kustomize_path(), os.X_OK):
        keys.append("kustomize")
    if force or not os.access(cyclonus_path(), os.X_OK):
        keys.append("cyclonus")
    if force or not all(p.is_file() for p in openshift_crd_paths()):
        keys.append("openshift-api")
    return keys


def title(key: str) -> str:
    tools = {
        "kustomize": f"kustomize {KUSTOMIZE}",
        "cyclonus": f"cyclonus {CYCLONUS}",
        "openshift-api": f"OpenShift API CRDs {OPENSHIFT_API}",
    }
    return _TITLES.get(key) or tools[key]


def build(layout: CacheLayout, on_step: Step, on_line: Line, force: bool = False) -> list[str]:
    """Build what is missing from the cache; return the names built (empty when all reused).

    `on_step(key)` is called as each step begins (`title(key)` names it). Each step builds into
    a scratch folder and renames into bin/ only when it succeeded, so an interrupted build never
    leaves a binary that looks finished. The seconds each step took are recorded for the next
    build's estimate (`durations_path`).
    """
    built: list[str] = []
    layout.bin.mkdir(parents=True, exist_ok=True)
    took: dict[str, float] = {}
    for key in pending(layout, force):
        on_step(key)
        began = time.monotonic()
        if key in _TOOLS:
            _TOOLS[key](on_line, force)
            built.append(key)
        else:
            scratch = layout.root / f".build-{key}"
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            _STEPS[key](layout, on_line, scratch)
            for name in _PRODUCES[key]:
                (scratch / name).replace(layout.binary(name))
            shutil.rmtree(scratch, ignore_errors=True)
            built.extend(_PRODUCES[key])
        took[key] = time.monotonic() - began
        save_durations(durations_path(), took)
    return built


def tracked_build(
    layout: CacheLayout,
    on_progress: Callable[[Snapshot], None],
    on_line: Line = lambda _line: None,
    *,
    force: bool = False,
    every: float = 1.0,
) -> list[str]:
    """`build` with `on_progress(snapshot)` called as each step begins and every `every`
    seconds while it runs (from a thread of its own), and once at the end."""
    keys = pending(layout, force)
    progress = BuildProgress(keys, load_durations(durations_path()))
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(every):
            on_progress(progress.snapshot())

    def on_step(key: str) -> None:
        progress.begin(key, title(key))
        on_progress(progress.snapshot())

    ticker = threading.Thread(target=tick, name="sim-build-progress", daemon=True)
    ticker.start()
    try:
        built = build(layout, on_step, on_line, force=force)
    finally:
        stop.set()
        ticker.join()
        progress.finish()
    on_progress(progress.snapshot())
    return built
