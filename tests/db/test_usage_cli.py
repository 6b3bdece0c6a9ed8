"""`berth usage report` against the test database: a table, CSV, refusals."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from berth.cli import app
from berth.store import users
from berth.store.db import Database
from tests.usage_rows import add_reservation, add_samples, every

T = datetime(2026, 1, 5, 22, tzinfo=UTC)  # in the past of any clock these tests run on
H = timedelta(hours=1)


@pytest.fixture
def cli(db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("BERTH_DATABASE_URL", db.url)
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    with db.transaction() as tx:
        for name in ("ann", "bob"):
            users.create(tx, name, f"pw-{name}-long-enough", "user", actor="test")
    ann = add_reservation(db, "ann", T, T + 4 * H)  # 22:00-02:00: two days
    add_samples(db, ann, every(T, T + 4 * H, H), 3600, 0.25)
    bob = add_reservation(db, "bob", T, T + H, kind="mig-1g.24gb", count=2)
    add_samples(db, bob, every(T, T + H, H), 3600, 1.0, 900_000, 100_000)
    return CliRunner()


def test_report_as_a_table_and_as_csv(cli: CliRunner) -> None:
    args = ["usage", "report", "--from", "2026-01-05", "--to", "2026-01-07"]
    shown = cli.invoke(app, [*args, "--group-by", "user"])
    assert shown.exit_code == 0, shown.output
    words = " ".join(shown.output.split())
    assert "days in UTC; 2 reservations" in words
    assert "ann" in words
    assert "total" in words
    out = cli.invoke(app, [*args, "--group-by", "user,day", "--csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    got = {(r["user"], r["day"]): r for r in rows}
    assert set(got) == {("ann", "2026-01-05"), ("ann", "2026-01-06"), ("bob", "2026-01-05")}
    assert float(got[("ann", "2026-01-05")]["reserved_gpu_hours"]) == 2.0
    assert float(got[("ann", "2026-01-06")]["used_gpu_hours"]) == 0.5
    assert float(got[("ann", "2026-01-06")]["idle_share"]) == 0.75
    bob = got[("bob", "2026-01-05")]
    assert float(bob["reserved_gpu_hours"]) == 0.5
    assert float(bob["tokens_prompt"]) == 900_000
    assert float(bob["cost_per_mtok_usd"]) == pytest.approx(float(bob["cost_usd"]))
    # one user's, per reservation
    one = cli.invoke(app, [*args, "--user", "bob", "--sessions", "--csv"])
    assert [r["user"] for r in csv.DictReader(io.StringIO(one.stdout))] == ["bob"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--from", "2026-01-07", "--to", "2026-01-05"], "--to: must be after from"),
        (["--from", "2026-01-05", "--to", "2026-01-07", "--group-by", "project"], "--group-by"),
        (["--from", "5 Jan", "--to", "2026-01-07"], "--from: '5 Jan' is not an ISO 8601"),
        (["--from", "2026-01-05", "--to", "2026-01-07", "--tz", "Mars/Base"], "--tz: unknown"),
        (["--from", "2026-01-05", "--to", "2026-01-07", "--user", "nobody"], "no user 'nobody'"),
    ],
)
def test_bad_options_are_refused(cli: CliRunner, extra: list[str], message: str) -> None:
    r = cli.invoke(app, ["usage", "report", *extra])
    assert r.exit_code == 2
    assert message in r.output
