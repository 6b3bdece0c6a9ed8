"""`berth sim build` stopped with SIGTERM takes its go command's process group with it.

`make test` starts the build beside the rest of its setup and stops it that way when the setup
fails; a go command left behind would compile on for many minutes. The build's go command is
stood in for by a shell that starts a long sleep in its own process group, as go starts its
compilers; everything else (the command, its signal handler, `_run`) is the real one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from berth.sim import build, cli

    pid_file = sys.argv[1]
    def fake_go(layout, on_line, out):
        build._run(["sh", "-c", f"sleep 300 & echo $! > {pid_file}; wait"], Path("."), on_line)

    build.pending = lambda layout, force=False: ["kube-apiserver"]
    build._STEPS["kube-apiserver"] = fake_go
    cli.app(["build"])
    """
)


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie nobody has reaped yet (gone for our purposes)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(check: Callable[[], object], what: str, budget: float = 30.0) -> None:
    deadline = time.monotonic() + budget
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {budget:.0f} s")
        time.sleep(0.05)


def test_sigterm_stops_the_build_and_its_go_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "sleep.pid"
    output = tmp_path / "output.txt"
    env = {**os.environ, "BERTH_SIM_CACHE": str(tmp_path / "cache")}
    with output.open("wb") as out:
        build = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(pid_file)], env=env, stdout=out, stderr=out
        )
    try:
        _wait_for(lambda: pid_file.is_file() and pid_file.read_text().strip(), "the build began")
        sleeper = int(pid_file.read_text())
        assert _alive(sleeper)
        build.send_signal(signal.SIGTERM)
        code = build.wait(30)
        _wait_for(lambda: not _alive(sleeper), "the go command's process group was killed")
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
    assert code == 128 + signal.SIGTERM, output.read_text()
