"""`berth tokenomics`: JSON keys, human tables, charts, and exit code 2 on bad input."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from berth.tokenomics.cli import app

REFERENCE = (
    resources.files("berth.tokenomics").joinpath("scenarios", "c845a.yaml").read_text("utf-8")
)
runner = CliRunner()


def run_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("command", ["cost", "breakeven", "size"])
def test_json_has_the_promised_keys(command: str) -> None:
    data = run_json(command)
    for key in ("annual_cost", "tokens_per_year", "cost_per_mtok", "breakdown", "classes"):
        assert key in data
    assert data["annual_cost"] > 0
    assert data["cost_per_mtok"] == pytest.approx(
        data["annual_cost"] / data["tokens_per_year"] * 1e6
    )


def test_breakeven_json_names_the_break_even_and_the_api_price() -> None:
    data = run_json("breakeven")
    assert data["api"] == "OpenAI GPT-4.1"  # the first API listed is the headline
    assert data["breakeven_utilization"] is not None
    assert data["api_price_per_mtok"] == pytest.approx(0.8 * 2.0 + 0.2 * 8.0)  # 80 % input
    assert len(data["apis"]) == 4
    other = run_json("breakeven", "--api", "OpenAI GPT-4o mini")
    assert other["api_price_per_mtok"] == pytest.approx(0.8 * 0.15 + 0.2 * 0.60)


def test_utilization_overrides_the_scenario() -> None:
    default = run_json("cost")
    busy = run_json("cost", "--utilization", "0.8")
    assert default["utilization"] == 0.4
    assert busy["utilization"] == 0.8
    assert busy["tokens_per_year"] == pytest.approx(2 * default["tokens_per_year"])
    assert busy["cost_per_mtok"] < default["cost_per_mtok"]


def test_size_json_has_the_fleet_and_the_verdict() -> None:
    data = run_json("size")
    assert data["installed"]["verdict"] == "right-sized"
    assert data["servers"] == 1
    assert data["budget"]["servers"] == 1
    fleet = run_json(
        "size", "--scenario", str(resources.files("berth.tokenomics") / "scenarios/fleet.yaml")
    )
    assert fleet["installed"]["verdict"] == "over-provisioned"


def test_human_output_is_tables() -> None:
    result = runner.invoke(app, ["cost"])
    assert result.exit_code == 0
    assert "Annual cost" in result.stdout
    assert "Sensitivity" in result.stdout
    assert "of $/Mtok at 40%" in result.stdout
    for command, title in (("breakeven", "Break-even"), ("size", "Installed fleet")):
        out = runner.invoke(app, [command])
        assert out.exit_code == 0
        assert title in out.stdout


def test_bad_scenario_exits_2_naming_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, REFERENCE.replace("utilization: 0.4", "utilization: 1.3"))
    result = runner.invoke(app, ["cost", "--scenario", path])
    assert result.exit_code == 2
    assert f"{path}:" in result.stderr
    assert "utilization: Input should be less than or equal to 1" in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("value", ["1.5", "0", "-0.2"])
def test_bad_utilization_exits_2(value: str) -> None:
    result = runner.invoke(app, ["cost", "--utilization", value])
    assert result.exit_code == 2
    assert "--utilization must be within (0, 1]" in result.stderr


def test_missing_file_and_missing_sections_exit_2(tmp_path: Path) -> None:
    gone = runner.invoke(app, ["cost", "--scenario", str(tmp_path / "nope.yaml")])
    assert gone.exit_code == 2
    assert "cannot read" in gone.stderr
    bare = REFERENCE[: REFERENCE.index("apis:")]
    no_api = runner.invoke(app, ["breakeven", "--scenario", write(tmp_path, bare)])
    assert no_api.exit_code == 2
    assert "lists no cloud API" in no_api.stderr
    no_sizing = runner.invoke(app, ["size", "--scenario", write(tmp_path, bare)])
    assert no_sizing.exit_code == 2
    assert "no sizing section" in no_sizing.stderr
    unknown = runner.invoke(app, ["breakeven", "--api", "nobody"])
    assert unknown.exit_code == 2
    assert "no API named 'nobody'" in unknown.stderr


def test_plot_writes_a_png(tmp_path: Path) -> None:
    png = tmp_path / "curve.png"
    result = runner.invoke(app, ["breakeven", "--plot", str(png), "--json"])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "breakeven_utilization" in json.loads(result.stdout)


def test_plot_to_an_unwritable_place_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cost", "--plot", str(tmp_path / "no" / "dir" / "x.png")])
    assert result.exit_code == 2
    assert "cannot write" in result.stderr


def test_wired_into_the_berth_command() -> None:
    from berth.cli import app as berth

    result = runner.invoke(berth, ["tokenomics", "cost", "--json"])
    assert result.exit_code == 0, result.output
    assert "cost_per_mtok" in json.loads(result.stdout)
