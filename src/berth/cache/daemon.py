"""`berth cache-agent`: the provisioner and the staging loop of one or more nodes, one process.

A real node runs one agent for itself (`--node $NODE_NAME --root /var/lib/berth`); the sim and
`make run` serve several nodes from one process, each with its own root (`<root>/<node>`, or a
`--root` holding `{node}`) and its own credential (a `--token-file` holding `{node}`).

Threads: one staging loop per node (when `--api` is given), and the provisioner in the main
thread (it owns SIGTERM/SIGINT there); without the provisioner the main thread waits for the
signal itself. On SIGTERM every loop stops its downloads (partial files stay for the next
start), sends a last report and the process exits 0.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx

from berth.cache import provisioner
from berth.cache.agent import Agent, AgentConfig
from berth.cache.fetch import Fetcher
from berth.cache.portal import HttpPortal
from berth.domain.quantity import parse_bytes

DEFAULT_ROOT = "/var/lib/berth"


@dataclass(frozen=True)
class Options:
    nodes: tuple[str, ...]
    root: str = DEFAULT_ROOT
    api: str | None = None
    token_file: str | None = None
    capacity: str | None = None  # bytes ("500Gi"); default: the root filesystem's size
    high_watermark: str = "0.9"  # a fraction of the capacity, or bytes
    low_watermark: str = "0.8"
    concurrency: int = 2
    poll: float = 5.0
    report_every: float = 5.0
    lead: float = 6 * 3600.0
    rehash: bool = False
    provision: bool = True
    kubeconfig: str | None = None
    bind_mount: bool = True


def node_path(template: str, node: str, *, several: bool) -> Path:
    """`template` with `{node}` filled in; several nodes and no `{node}`: `<template>/<node>`."""
    if "{node}" in template:
        return Path(template.replace("{node}", node))
    return Path(template) / node if several else Path(template)


def amount(value: str, capacity: int) -> int:
    """A watermark: a fraction of the capacity (`0.9`) or bytes (`450Gi`)."""
    try:
        fraction = float(value)
    except ValueError:
        return parse_bytes(value)
    if 0 <= fraction <= 1:
        return int(capacity * fraction)
    return int(fraction)


def configs(options: Options) -> list[AgentConfig]:
    several = len(options.nodes) > 1
    out = []
    for node in options.nodes:
        root = node_path(options.root, node, several=several)
        root.mkdir(parents=True, exist_ok=True)
        if options.capacity is not None:
            capacity = parse_bytes(options.capacity)
        else:
            st = os.statvfs(root)
            capacity = st.f_blocks * st.f_frsize
        high = amount(options.high_watermark, capacity)
        low = amount(options.low_watermark, capacity)
        if not 0 <= low <= high <= capacity:
            raise ValueError(f"watermarks need 0 ≤ low ({low}) ≤ high ({high}) ≤ {capacity}")
        out.append(
            AgentConfig(
                node=node,
                root=root,
                capacity=capacity,
                high=high,
                low=low,
                concurrency=options.concurrency,
                poll=options.poll,
                report_every=options.report_every,
                lead=options.lead,
                rehash=options.rehash,
            )
        )
    return out


def run(options: Options) -> None:
    """Run until SIGTERM or SIGINT."""
    agents: list[Agent] = []
    threads: list[threading.Thread] = []
    client = httpx.Client(trust_env=True, timeout=30.0)
    if options.api is not None:
        for config in configs(options):
            token = (
                Path(options.token_file.replace("{node}", config.node))
                if options.token_file
                else None
            )
            agent = Agent(config, HttpPortal(options.api, client, token), Fetcher(client))
            agents.append(agent)
            threads.append(threading.Thread(target=agent.run, name=f"agent-{config.node}"))
    for t in threads:
        t.start()
    try:
        if options.provision:
            single = len(options.nodes) == 1
            root = Path(options.root)
            provisioner.run(
                options.nodes,
                kubeconfig=options.kubeconfig,
                bind_mount=options.bind_mount,
                cache_dir=str(root / "cache") if single else provisioner.CACHE_DIR,
                view=str(root / "cache-ro") if single else provisioner.READ_ONLY_VIEW,
            )
        else:
            _wait_for_signal()
    finally:
        for agent in agents:
            agent.request_stop()
        for t in threads:
            t.join()
        client.close()


def _wait_for_signal() -> None:
    stopping = threading.Event()

    def _stop(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stopping.wait(1.0):
        pass
