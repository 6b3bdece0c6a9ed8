"""`berth sim up|status|kubeconfig|down` as a user types them, in a private data folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from berth.cli import app
from berth.kube.adapter import KubeCluster
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


def test_named_sims_run_side_by_side(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two sims at once, each with its own ports, etcd, PKI and context; stopping one leaves
    the other running; a bad name is refused before any folder is made."""
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    bad = runner.invoke(app, ["sim", "up", "--name", "Not_A_Label"])
    assert bad.exit_code == 2
    said = " ".join(re.sub("[│╭╮╰╯─]", " ", bad.output).split())  # rich's box, unwrapped
    assert "'Not_A_Label': use 1-32 lowercase letters" in said
    assert not (tmp_path / "sims").exists()
    try:
        for name in ("east", "west"):
            up = runner.invoke(app, ["sim", "up", "--name", name, "--pool-file", str(POOL_FILE)])
            assert up.exit_code == 0, up.output
            assert f"berth sim down --name {name}" in up.output
        listed = runner.invoke(app, ["sim", "list"])
        assert listed.exit_code == 0
        assert "east" in listed.output
        assert "west" in listed.output

        servers = set()
        for name in ("east", "west"):
            kubeconfig = yaml.safe_load((tmp_path / "sims" / name / "kubeconfig").read_text())
            assert kubeconfig["current-context"] == f"berth-sim-{name}"
            servers.add(kubeconfig["clusters"][0]["cluster"]["server"])
            with KubeCluster.from_kubeconfig(str(tmp_path / "sims" / name / "kubeconfig")) as kube:
                assert kube.request("GET", "/api/v1/nodes")["items"], f"{name} has no nodes"
        assert len(servers) == 2

        assert runner.invoke(app, ["sim", "down", "--name", "east"]).exit_code == 0
        assert runner.invoke(app, ["sim", "status", "--name", "east"]).exit_code == 1
        west = runner.invoke(app, ["sim", "status", "--name", "west"])
        assert west.exit_code == 0, west.output
        assert runner.invoke(app, ["sim", "status"]).exit_code == 1  # the default never started
    finally:
        for name in ("east", "west"):
            runner.invoke(app, ["sim", "down", "--name", name])
    assert cluster.status(tmp_path / "sims" / "west") is None
