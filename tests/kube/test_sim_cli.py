"""`berth sim up|status|kubeconfig|down` as a user types them, in a private data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from berth.cli import app
from berth.sim import cluster

pytestmark = pytest.mark.kube

POOL_FILE = Path(__file__).parent / "pool.yaml"


def test_up_status_kubeconfig_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    state_dir = tmp_path / "sim"
    try:
        up = runner.invoke(app, ["sim", "up", "--pool-file", str(POOL_FILE)])
        assert up.exit_code == 0, up.output
        assert f"export KUBECONFIG={state_dir / 'kubeconfig'}" in up.output

        status = runner.invoke(app, ["sim", "status"])
        assert status.exit_code == 0, status.output
        for component in cluster.ORDER:
            assert component in status.output

        path = runner.invoke(app, ["sim", "kubeconfig"])
        assert path.exit_code == 0
        assert Path(path.output.strip()) == state_dir / "kubeconfig"
        assert "client-certificate" in (state_dir / "kubeconfig").read_text()

        again = runner.invoke(app, ["sim", "up", "--pool-file", str(POOL_FILE)])
        assert again.exit_code == 1
        assert "already running" in again.output
    finally:
        down = runner.invoke(app, ["sim", "down"])
    assert down.exit_code == 0
    assert "sim stopped" in down.output
    current = cluster.status(state_dir)
    assert current is None

    stopped = runner.invoke(app, ["sim", "status"])
    assert stopped.exit_code == 1


def test_a_bad_pool_file_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    bad = tmp_path / "pools.yaml"
    bad.write_text("pools:\n  - name: p\n    nodes:\n      - name: n\n        cpu: lots\n")

    result = CliRunner().invoke(app, ["sim", "up", "--pool-file", str(bad)])

    assert result.exit_code == 1
    assert "pools.yaml:5" in result.output
    assert cluster.status(tmp_path / "sim") is None
