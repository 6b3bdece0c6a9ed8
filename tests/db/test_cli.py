"""The `berth` command against the test database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from berth.cli import app
from berth.store import tokens, users
from berth.store.db import Database


@pytest.fixture
def cli_env(db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("BERTH_DATABASE_URL", db.url)
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    return CliRunner()


def test_user_add_with_password_from_stdin_then_token(cli_env: CliRunner, db: Database) -> None:
    r = cli_env.invoke(
        app, ["user", "add", "dana", "--admin", "--password-stdin"], input="a-good-password\n"
    )
    assert r.exit_code == 0, r.output
    with db.transaction() as tx:
        assert users.authenticate(tx, "dana", "a-good-password") is not None
    t = cli_env.invoke(app, ["token", "create", "--user", "dana", "--name", "laptop"])
    assert t.exit_code == 0, t.output
    secret = t.stdout.strip().splitlines()[0]
    with db.transaction() as tx:
        who = tokens.resolve(tx, secret, datetime.now(UTC))
    assert who is not None
    assert (who.username, who.role) == ("dana", "admin")


def test_user_add_refuses_bad_names_and_duplicates(cli_env: CliRunner) -> None:
    bad = cli_env.invoke(app, ["user", "add", "Not OK"])
    assert bad.exit_code == 2
    assert "cannot add user" in bad.output
    assert cli_env.invoke(app, ["user", "add", "erin"]).exit_code == 0
    dup = cli_env.invoke(app, ["user", "add", "erin"])
    assert dup.exit_code == 2
    assert "already exists" in dup.output


def test_check_pools_reports_kinds_and_errors(cli_env: CliRunner, tmp_path: Path) -> None:
    from berth.config import demo_pool_path

    ok = cli_env.invoke(app, ["check-pools", str(demo_pool_path())])
    assert ok.exit_code == 0
    assert "4 x mig-1g.24gb (2 slots each), 1 x gpu (4 slots each)" in ok.output
    broken = tmp_path / "p.yaml"
    broken.write_text("pools:\n  - name: x\n    nodes: []\n")
    bad = cli_env.invoke(app, ["check-pools", str(broken)])
    assert bad.exit_code == 2
    assert f"{broken}:3: pools.0.nodes" in bad.output


def test_serve_leaves_forwarded_headers_to_the_app(
    cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn's proxy handling (which trusts 127.0.0.1 by default) is off; the app decides."""
    import signal

    import uvicorn

    seen: dict[str, object] = {}
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    result = cli_env.invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert seen["proxy_headers"] is False


def test_user_add_refuses_a_common_password(cli_env: CliRunner) -> None:
    result = cli_env.invoke(
        app, ["user", "add", "erin", "--password-stdin"], input="password1234\n"
    )
    assert result.exit_code != 0
    assert "too common" in result.output


def test_token_create_is_capped_by_the_maximum_lifetime(
    cli_env: CliRunner, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BERTH_TOKEN_MAX_DAYS", "30")
    monkeypatch.setenv("BERTH_TOKEN_DAYS", "30")
    with db.transaction() as tx:
        users.create(tx, "frank", "a-long-enough-password", "user", actor="test")
    result = cli_env.invoke(app, ["token", "create", "--user", "frank", "--days", "31"])
    assert result.exit_code != 0
    assert "at most 30 days" in result.output


def test_the_first_admin_password_goes_to_a_private_file_when_not_on_a_terminal(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import stat

    from berth.cli import _ensure_admin
    from berth.config import Settings

    with db.transaction() as tx:
        assert users.list_all(tx) == []
    _ensure_admin(db, Settings(data_dir=tmp_path))
    out = capsys.readouterr().out
    path = tmp_path / "admin-password"
    password = path.read_text().strip()
    assert str(path) in out
    assert password not in out
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with db.transaction() as tx:
        assert users.authenticate(tx, "admin", password) is not None
    _ensure_admin(db, Settings(data_dir=tmp_path))  # only the first start makes one
    assert capsys.readouterr().out == ""


def test_the_first_admin_password_is_printed_on_a_terminal(
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import sys

    from berth.cli import _ensure_admin
    from berth.config import Settings

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    _ensure_admin(db, Settings(data_dir=tmp_path))
    assert "created user 'admin' with password: " in capsys.readouterr().out
    assert not (tmp_path / "admin-password").exists()


def test_cache_token_prints_a_node_credential_once_and_revokes_the_old(
    cli_env: CliRunner, db: Database, tmp_path: Path
) -> None:
    from berth.store import cache

    first = cli_env.invoke(app, ["cache", "token", "--node", "ucs-c845a-01"])
    assert first.exit_code == 0, first.output
    old = first.stdout.strip()
    assert old.startswith("berthnode_")
    file = tmp_path / "node.token"
    second = cli_env.invoke(
        app, ["cache", "token", "--node", "ucs-c845a-01", "--token-file", str(file)]
    )
    assert second.exit_code == 0, second.output
    assert old not in second.stdout
    new = file.read_text().strip()
    assert file.stat().st_mode & 0o777 == 0o600
    now = datetime.now(UTC)
    with db.transaction() as tx:
        assert cache.credential_node(tx, old, now) is None
        assert cache.credential_node(tx, new, now) == "ucs-c845a-01"
    revoked = cli_env.invoke(app, ["cache", "token", "--node", "ucs-c845a-01", "--revoke"])
    assert revoked.exit_code == 0
    with db.transaction() as tx:
        assert cache.credential_node(tx, new, now) is None
    unknown = cli_env.invoke(app, ["cache", "token", "--node", "nowhere"])
    assert unknown.exit_code == 2
    assert "no pool includes node 'nowhere'" in unknown.output


def test_cache_status_shows_each_model_with_its_progress(cli_env: CliRunner, db: Database) -> None:
    from berth.domain.cache_protocol import ModelReport, NodeReport
    from berth.domain.catalog import ArtifactState, FailureReason
    from berth.store import cache

    node = "ucs-c845a-01"
    empty = cli_env.invoke(app, ["cache", "status"])
    assert empty.exit_code == 0, empty.output
    assert node in empty.stdout
    assert "no report yet" in empty.stdout
    report = NodeReport(
        node=node,
        reported_at=datetime.now(UTC),
        capacity_bytes=2**30,
        used_bytes=2**29,
        bandwidth_bytes_per_second=2**20,
        models=(
            ModelReport("demo-hf-tiny", ArtifactState.DOWNLOADING, 2**20, 2**19),
            ModelReport(
                "demo-ollama-tiny",
                ArtifactState.FAILED,
                2**20,
                0,
                reason=FailureReason.SOURCE_UNAVAILABLE,
                detail="every source answered 503",
            ),
        ),
    )
    with db.transaction() as tx:
        cache.record_report(tx, report, datetime.now(UTC))
    r = cli_env.invoke(app, ["cache", "status", "--node", node], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    out = " ".join(r.stdout.split())
    assert "used 512.0 MiB of 1.0 GiB; bandwidth 1.0 MiB/s" in out
    assert "demo-hf-tiny downloading" in out
    assert "512.0 KiB / 1.0 MiB" in out
    assert "source-unavailable every source answered 503" in out
    missing = cli_env.invoke(app, ["cache", "status", "--node", "nowhere"])
    assert missing.exit_code == 2


def test_make_run_starts_the_demo_source_and_one_agent_for_the_sims_nodes(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from berth.cli import DEMO_SOURCE_PORT, demo_staging_commands, start_demo_staging
    from berth.config import Settings
    from berth.store import cache

    source, agent = demo_staging_commands(
        ["berth"], tmp_path, "http://127.0.0.1:8000", ["n1", "n2"]
    )
    assert source[:5] == ["berth", "cache", "demo-source", "--port", str(DEMO_SOURCE_PORT)]
    assert "--rate" in source  # slow enough to watch "staging N%"
    assert agent[:6] == ["berth", "cache-agent", "--node", "n1", "--node", "n2"]
    assert agent[agent.index("--token-file") + 1] == str(tmp_path / "cache-tokens/{node}.token")
    assert agent[agent.index("--api") + 1] == "http://127.0.0.1:8000"
    assert "--no-provision" in agent  # the sim runs the provisioner already

    spawned: list[list[str]] = []

    def spawn(argv: list[str]) -> Any:
        spawned.append(argv)
        return argv

    # another catalog than the demo's: nothing to stage from the demo source, no credential
    custom = Settings(data_dir=tmp_path, catalog_file=tmp_path / "catalog.yaml")
    assert start_demo_staging(db, custom, "http://x", spawn) == []
    assert not (tmp_path / "cache-tokens").exists()
    # the demo catalog: a credential file per pool node, then the two processes
    settings = Settings(data_dir=tmp_path)
    assert len(start_demo_staging(db, settings, "http://x", spawn)) == 2
    assert [a[1:3] for a in spawned] == [["cache", "demo-source"], ["cache-agent", "--node"]]
    token = tmp_path / "cache-tokens" / "ucs-c845a-01.token"
    assert token.stat().st_mode & 0o777 == 0o600
    with db.transaction() as tx:
        node = cache.credential_node(tx, token.read_text().strip(), datetime.now(UTC))
    assert node == "ucs-c845a-01"


def test_serve_with_workers_runs_the_app_factory_and_leaves_the_environment_as_it_was(
    cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several workers each build the app from the environment `serve` prepares (the database
    URL, a share of the connections, a shared metrics folder), and `serve` puts it back."""
    import os
    import signal

    import uvicorn

    seen: dict[str, object] = {}

    def run(app: object, **kw: object) -> None:
        seen.update(kw, app=app, env={k: os.environ.get(k) for k in ("BERTH_WORKER_DB_POOL",)})
        seen["metrics_dir"] = os.environ.get("PROMETHEUS_MULTIPROC_DIR")

    monkeypatch.setattr(signal, "signal", lambda *a: None)
    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("BERTH_DB_POOL_SIZE", "12")
    result = cli_env.invoke(app, ["serve", "--port", "0", "--workers", "3"])
    assert result.exit_code == 0, result.output
    assert seen["app"] == "berth.api.app:worker_app"
    assert seen["factory"] is True
    assert seen["workers"] == 3
    assert seen["proxy_headers"] is False
    assert seen["env"] == {"BERTH_WORKER_DB_POOL": "4"}
    assert seen["metrics_dir"]
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert "BERTH_WORKER_DB_POOL" not in os.environ


def test_the_default_number_of_workers_is_the_usable_cpus_at_most_eight() -> None:
    import os

    from berth.cli import default_workers

    assert 1 <= default_workers() <= min(8, len(os.sched_getaffinity(0)))
