"""`berth sim up --nodes N` and `down`: N copies of every node, and nothing left running after."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client, config

from berth.sim import cluster, processes
from berth.sim.state import Paths

pytestmark = pytest.mark.kube

POOL_FILE = Path(__file__).parent / "pool.yaml"


def test_up_with_a_node_multiplier_then_down_stops_every_process(tmp_path: Path) -> None:
    state = cluster.up(POOL_FILE, 3, state_dir=tmp_path)
    try:
        current = cluster.status(tmp_path)
        assert current is not None
        assert current.running
        assert set(current.alive) == set(cluster.ORDER)
        assert all(rss > 0 for rss in current.rss.values())

        api = config.new_client_from_config(config_file=str(Paths(tmp_path).kubeconfig))
        with api:
            nodes = client.CoreV1Api(api).list_node().items
        names = sorted(n.metadata.name for n in nodes)
        assert names == ["ucs-c845a-01", "ucs-c845a-01-1", "ucs-c845a-01-2"]
        assert {n.status.allocatable["nvidia.com/gpu"] for n in nodes} == {"4"}
        assert state.nodes == 3
    finally:
        assert cluster.down(tmp_path)

    for name, pid in state.pids.items():
        assert not processes.alive(pid, (state.exes[name],)), f"{name} ({pid}) still runs"
    assert cluster.status(tmp_path) is None
    assert not cluster.down(tmp_path)
