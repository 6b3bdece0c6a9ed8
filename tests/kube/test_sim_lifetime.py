"""A test's sim dies with the process that started it, even on SIGKILL; `berth sim up`'s does not.

A child Python process starts a sim and reports its pids; the test kills the child with
SIGKILL, which gives it no chance to stop anything, and watches what happens to the sim.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import SIM_POOL_FILE, eventually

from berth.sim import cluster, processes
from berth.sim.state import Paths, SimState

pytestmark = pytest.mark.kube

CHILD = """
import sys, time
from pathlib import Path
from berth.sim import cluster
state = cluster.up(
    Path(sys.argv[1]), 1, state_dir=Path(sys.argv[2]), timeout=180,
    die_with_parent=sys.argv[3] == "tied",
)
print("up", flush=True)
time.sleep(600)
"""


def start_child(state_dir: Path, tied: bool) -> subprocess.Popen[str]:
    mode = "tied" if tied else "free"
    argv = [sys.executable, "-c", CHILD, str(SIM_POOL_FILE), str(state_dir), mode]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def sim_processes(state_dir: Path) -> list[tuple[int, tuple[str, ...]]]:
    state = SimState.load(Paths(state_dir))
    assert state is not None
    return [(pid, (state.exes[n], str(state_dir))) for n, pid in state.pids.items()]


@pytest.mark.parametrize("tied", [True, False], ids=["test-sim", "berth-sim-up"])
def test_sigkill_of_the_starter(tmp_path: Path, tied: bool) -> None:
    state_dir = tmp_path / "sim"
    child = start_child(state_dir, tied)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "up"  # bounded by the child's own timeout
        procs = sim_processes(state_dir)
        assert len(procs) == len(cluster.ORDER)
        assert all(processes.alive(pid, m) for pid, m in procs)

        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)

        if tied:

            def all_gone() -> None:
                left = [pid for pid, m in procs if processes.alive(pid, m)]
                assert not left, left

            eventually(all_gone, timeout=15)
        else:
            time.sleep(2)  # what the kernel would have killed is dead by now
            assert all(processes.alive(pid, m) for pid, m in procs)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
        cluster.down(state_dir)
