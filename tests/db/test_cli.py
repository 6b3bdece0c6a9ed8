"""The `berth` command against the test database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

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
