"""The cache agent's first piece: the provisioner of the artifact cache's StorageClass.

Each session's claim `artifacts` (class `berth-cache`, ReadOnlyMany) is made by the reconciler;
the volume behind it is made here, on the node, by the one agent that runs there. The class
binds `WaitForFirstConsumer`: the scheduler places the workspace pod, writes the node on the
claim as `volume.kubernetes.io/selected-node`, and waits. The agent of that node then creates a
hostPath PersistentVolume of the node's *read-only view* of the cache (`/var/lib/berth/cache-ro`),
pinned to the node and pre-bound to the claim by its uid; when the namespace goes, the volume is
Released and the agent deletes the PersistentVolume object (reclaim policy Delete). A volume
deleted under a bound claim (the claim is `Lost`) is made again with the same name and claim
uid, and the PV controller binds the two again: the cache is the node's, nothing is lost. It never
touches the node's files: the cache's contents are staged by the agent's other parts.

The read-only view is a bind mount of the writable cache (`/var/lib/berth/cache`) remounted
read-only, made by `mount_read_only_view` when the agent starts: the kernel then refuses writes
through the view even if every policy in front of it were bypassed. The hostPath type is
`Directory`, so a node without the view fails the mount instead of creating an empty writable
directory. (The sim runs no kubelet: the bind mount is never exercised there; `berth sim up`
runs the agent with `--no-bind-mount`.)

This is what took hostPath PersistentVolumes away from the reconciler: it creates only the
namespaced claim; the node-local agent, whose RBAC allows PersistentVolumes, makes the volume.

Run as `berth cache-agent --node NAME` (or `python -m berth.cache.provisioner --node NAME ...`;
several `--node`s serve several nodes from one process, as the sim does). Stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from berth.kube.adapter import KubeCluster
from berth.kube.errors import Conflict, KubeError, NotFound
from berth.kube.provisioning import Json, Provisioner, serve

PROVISIONER = "cache.berth.io/node-cache"
CACHE_DIR = "/var/lib/berth/cache"  # writable, the agent's own
READ_ONLY_VIEW = "/var/lib/berth/cache-ro"  # what sessions' volumes point at
POLL_SECONDS = 0.5


def cache_provisioner(nodes: Iterable[str], view: str = READ_ONLY_VIEW) -> Provisioner:
    """The provisioner of the nodes this agent serves: every volume is the same directory, the
    node's read-only view of the cache; only the claim it is bound to differs."""
    return Provisioner(
        PROVISIONER,
        host_path=lambda _claim: view,
        nodes=frozenset(nodes),
        path_type="Directory",
        restores_lost=True,
    )


def storage_class(name: str) -> Json:
    """The artifact cache's StorageClass (installed once; `SessionConfig.cache_storage_class`)."""
    return Provisioner(PROVISIONER, host_path=lambda _claim: READ_ONLY_VIEW).storage_class(name)


def read_only_view_commands(cache_dir: str, view: str) -> list[list[str]]:
    """The two mounts that make `view` a read-only bind of `cache_dir` (a bind mount takes the
    read-only flag only on a remount)."""
    return [
        ["mount", "--bind", cache_dir, view],
        ["mount", "-o", "remount,bind,ro", view],
    ]


def mount_read_only_view(
    cache_dir: str = CACHE_DIR,
    view: str = READ_ONLY_VIEW,
    run: Callable[[list[str]], object] = lambda argv: subprocess.run(argv, check=True),
) -> None:
    """Create both directories and bind-mount the view read-only (the agent needs
    CAP_SYS_ADMIN on the node for this, and nothing else privileged)."""
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    Path(view).mkdir(parents=True, exist_ok=True)
    for argv in read_only_view_commands(cache_dir, view):
        run(argv)


class KubeRest:
    """`berth.kube.provisioning.RestApi` on the adapter: an object that already exists counts
    as created, one already gone as deleted."""

    def __init__(self, cluster: KubeCluster) -> None:
        self.cluster = cluster

    def get(self, path: str) -> Any:
        return self.cluster.request("GET", path)

    def create(self, path: str, body: Json) -> Any:
        with contextlib.suppress(Conflict):
            return self.cluster.request("POST", path, body)
        return None

    def delete(self, path: str) -> None:
        with contextlib.suppress(NotFound):
            self.cluster.request("DELETE", path)

    def watch(self, path: str, resource_version: str, seconds: int) -> Iterator[Json]:
        return self.cluster.watch(path, resource_version, seconds)


def run(
    nodes: Sequence[str],
    *,
    kubeconfig: str | None = None,
    view: str = READ_ONLY_VIEW,
    cache_dir: str = CACHE_DIR,
    bind_mount: bool = True,
    poll: float = POLL_SECONDS,
) -> None:
    """Serve `nodes` until SIGTERM or SIGINT."""
    if bind_mount:
        mount_read_only_view(cache_dir, view)
    provisioner = cache_provisioner(nodes, view)
    with KubeCluster.from_kubeconfig(kubeconfig) as cluster:
        serve(KubeRest(cluster), provisioner, poll=poll, errors=(KubeError,), name="cache-agent")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="berth.cache.provisioner")
    parser.add_argument("--node", action="append", required=True)
    parser.add_argument("--kubeconfig")
    parser.add_argument("--no-bind-mount", action="store_true")
    args = parser.parse_args(argv)
    run(args.node, kubeconfig=args.kubeconfig, bind_mount=not args.no_bind_mount)


if __name__ == "__main__":
    main()
