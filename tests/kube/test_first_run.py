"""`berth up --sim` serves the portal before the control plane is up, says how far the control
plane is in the portal's status, lets the reconciler join once it is up, and stops it all on
SIGTERM. (The binaries are cached here, so the sim is started, not built: the build's progress
is `berth.sim.progress`, tested on its own.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import eventually

from berth.api.routes.status import CONTROL_PLANE
from berth.cli.first_run import COMPONENT
from berth.sim import cluster
from berth.sim.ports import free_ports

pytestmark = pytest.mark.kube


def call(url: str, token: str | None = None, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is None:
        r = httpx.get(url, headers=headers, timeout=10)
    else:
        r = httpx.post(url, json=body, headers=headers, timeout=10)
    r.raise_for_status()
    return r.json()


def test_portal_first_then_the_control_plane_then_the_reconciler(tmp_path: Path) -> None:
    assert COMPONENT == CONTROL_PLANE  # the CLI writes the heartbeat the API reads
    (port,) = free_ports(1)
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BERTH_DATA_DIR": str(tmp_path)}
    for name in ("KUBECONFIG", "BERTH_KUBECONFIG", "BERTH_DATABASE_URL"):
        env.pop(name, None)
    argv = [str(Path(sys.executable).parent / "berth"), "up", "--sim", "--port", str(port)]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:

        def portal_ready() -> None:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                code = httpx.get(f"{base}/readyz", timeout=5).status_code
            except httpx.TransportError as exc:
                raise AssertionError(f"portal not answering yet: {exc}") from exc
            assert code == 200

        eventually(portal_ready, timeout=120)
        password = (tmp_path / "admin-password").read_text().strip()
        token = call(f"{base}/api/v1/auth/login", body={"username": "admin", "password": password})[
            "token"
        ]
        states: list[str] = []

        def running() -> None:
            status = call(f"{base}/api/v1/status", token)
            plane = status["control_plane"]
            assert plane is not None
            states.append(plane["state"])
            assert plane["state"] == "running", plane
            assert status["reconciler"]["state"] == "running", status["reconciler"]

        eventually(running, timeout=180, interval=0.5)
        assert "failed" not in states
        sim_dir = tmp_path / "sim"
        assert cluster.status(sim_dir) is not None
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 128 + signal.SIGTERM, out  # uvicorn re-raises it as SystemExit
    assert "control plane: starting berth sim" in out
    current = cluster.status(tmp_path / "sim")
    assert current is None or not current.running, out
