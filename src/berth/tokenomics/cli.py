"""`berth tokenomics`: the cost model at a terminal, for people who justify GPU spend.

The commands read a scenario file (or the reference C845A one), compute through
berth.tokenomics.report — the same figures the API returns — and print rich tables, JSON
for scripts, or a chart. A bad scenario is the user's input, not a bug: it gets the
file:line: field: message list and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from berth.tokenomics.report import (
    Report,
    breakeven_report,
    cost_report,
    curve_report,
    size_report,
)
from berth.tokenomics.scenario import Scenario, load_scenario
from berth.yamlfile import FileError

app = typer.Typer(
    help="Cost per million tokens, break-even against cloud APIs, and sizing in reverse.",
    no_args_is_help=True,
    add_completion=False,
)

ScenarioOpt = Annotated[
    Path | None,
    typer.Option(
        "--scenario",
        help="Scenario YAML file; without it, the reference C845A scenario.",
        dir_okay=False,
    ),
]
UtilizationOpt = Annotated[
    float | None,
    typer.Option("--utilization", help="Utilization in (0, 1]; overrides the scenario's."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
PlotOpt = Annotated[
    Path | None,
    typer.Option("--plot", help="Also draw $/Mtok against utilization to this PNG file."),
]

EXIT_BAD_INPUT = 2


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _load(path: Path | None, utilization: float | None) -> Scenario:
    try:
        scenario = load_scenario(path)
    except FileError as exc:
        raise _fail(f"invalid scenario\n{exc}") from None
    if utilization is None:
        return scenario
    if not 0.0 < utilization <= 1.0:
        raise _fail(f"--utilization must be within (0, 1], got {utilization:g}")
    try:
        return scenario.with_utilization(utilization)
    except ValidationError as exc:
        raise _fail(f"--utilization {utilization:g}: {exc.errors()[0]['msg']}") from None


def _run(
    build: Callable[[Scenario], Report],
    show: Callable[[Console, Report], None],
    scenario_path: Path | None,
    utilization: float | None,
    as_json: bool,
    plot: Path | None,
) -> None:
    scenario = _load(scenario_path, utilization)
    try:
        report = build(scenario)
    except ValueError as exc:  # ReportError, or a refusal of the model
        raise _fail(str(exc)) from None
    if plot is not None:
        from berth.tokenomics.plot import plot_curve

        try:
            plot_curve(curve_report(scenario), plot)
        except OSError as exc:
            raise _fail(f"cannot write {plot}: {exc.strerror}") from None
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    show(console, report)
    if plot is not None:
        console.print(f"chart written to {plot}")


def _money(x: float) -> str:
    return f"${x:,.0f}"


def _money_short(x: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(x) >= size:
            return f"${x / size:,.1f}{unit}"
    return f"${x:,.0f}"


def _price(x: float | None) -> str:
    return "n/a" if x is None else f"${x:,.4f}"


def _tokens(x: float) -> str:
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6)):
        if abs(x) >= size:
            return f"{x / size:,.2f} {unit}"
    return f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return "never" if x is None else f"{x:.1%}"


def _show_breakdown(console: Console, r: Report, title: str) -> None:
    table = Table(title=title)
    table.add_column("component")
    table.add_column("$ / year", justify="right")
    table.add_column("share", justify="right")
    total = r["annual_cost"]
    for name, value in r["breakdown"].items():
        table.add_row(name, _money(value), f"{value / total:.1%}" if total else "")
    table.add_row("total", _money(total), "100.0%", style="bold")
    console.print(table)


def _show_units(console: Console, r: Report) -> None:
    table = Table(title=f"Tokens and unit cost at {r['utilization']:.0%} utilization")
    for col in (
        "model class",
        "tokens / year",
        "GPU-time",
        "$ / year",
        "$/Mtok",
        "input",
        "output",
    ):
        table.add_column(col, justify="left" if col == "model class" else "right")
    for c in r["classes"]:
        table.add_row(
            c["name"],
            _tokens(c["tokens_per_year"]),
            f"{c['gpu_time_share']:.1%}",
            _money_short(c["annual_cost"]),
            _price(c["cost_per_mtok"]),
            _price(c["input_price_per_mtok"]),
            _price(c["output_price_per_mtok"]),
        )
    table.add_row(
        "blended",
        _tokens(r["tokens_per_year"]),
        "100.0%",
        _money_short(r["annual_cost"]),
        _price(r["cost_per_mtok"]),
        _price(r["input_price_per_mtok"]),
        _price(r["output_price_per_mtok"]),
        style="bold",
    )
    console.print(table)


def _show_cost(console: Console, r: Report) -> None:
    fleet = f"{r['servers']} serving + {r['spare_servers']} spare servers, {r['serving_gpus']} GPUs"
    _show_breakdown(console, r, f"Annual cost — {r['scenario']} ({fleet})")
    _show_units(console, r)
    table = Table(title="Sensitivity: $/Mtok against utilization")
    table.add_column("utilization", justify="right")
    table.add_column("$/Mtok", justify="right")
    table.add_column("tokens / year", justify="right")
    for p in r["sensitivity"]:
        if round(p["utilization"] * 100) % 10 == 0:
            table.add_row(
                f"{p['utilization']:.0%}", _price(p["cost_per_mtok"]), _tokens(p["tokens_per_year"])
            )
    console.print(table)
    ratio = r["unit_cost_80_vs_40"]
    console.print(
        f"$/Mtok at 80% is {ratio:.2%} of $/Mtok at 40% "
        f"({(ratio - 0.5) / 0.5:+.1%} against exactly half: power rises with utilization)."
    )


def _show_breakeven(console: Console, r: Report) -> None:
    console.print(
        f"On-prem at {r['utilization']:.0%} utilization: "
        f"{_price(r['cost_per_mtok'])}/Mtok blended, {_money(r['annual_cost'])}/year, "
        f"{_tokens(r['tokens_per_year'])} tokens/year."
    )
    table = Table(
        title=f"Break-even against cloud APIs (practical ceiling {r['practical_ceiling']:.0%})"
    )
    now = f"at {r['utilization']:.0%}"
    for col in ("API", "compared with", "API $/Mtok", "break-even", now, "note"):
        table.add_column(
            col, justify="left" if col in ("API", "compared with", "note") else "right"
        )
    for a in r["apis"]:
        at = a["breakeven_utilization"]
        table.add_row(
            a["api"],
            a["model_class"] or "whole mix",
            _price(a["api_price_per_mtok"]),
            _pct(at),
            "on-prem" if at is not None and r["utilization"] >= at else "API",
            a["verdict"] if at is None else "",
        )
    console.print(table)


def _show_size(console: Console, r: Report) -> None:
    table = Table(
        title=f"Sizing — peak {r['peak_to_average']:g}x average, "
        f"target peak utilization {r['target_peak_utilization']:.0%}"
    )
    for col in ("model class", "tokens / day", "peak tokens/s", "per replica", "replicas", "GPUs"):
        table.add_column(col, justify="left" if col == "model class" else "right")
    for c in r["demand"]:
        table.add_row(
            c["name"],
            _tokens(c["tokens_per_year"] / 365),
            f"{c['peak_tokens_per_s']:,.0f}",
            f"{c['replica_tokens_per_s']:,.0f}",
            str(c["replicas"]),
            f"{c['gpus']:g}",
        )
    console.print(table)
    console.print(
        f"Needs {r['gpus_required']:g} GPUs: {r['servers']} serving + {r['spare_servers']} spare "
        f"servers ({r['serving_gpus']} serving GPUs), average utilization {r['utilization']:.1%}, "
        f"peak {r['peak_utilization']:.1%}."
    )
    _show_breakdown(console, r, "Annual cost of the sized fleet")
    _show_units(console, r)
    v = r["installed"]
    console.print(
        f"Installed fleet: [bold]{v['verdict']}[/bold] — {v['installed_gpus']} GPUs on "
        f"{v['installed_servers']} servers against {v['required_gpus']:g} GPUs on "
        f"{v['required_servers']} needed (ratio {v['ratio']:.2f}; at peak it would run at "
        f"{v['peak_utilization']:.0%})."
    )
    b = r["budget"]
    if b is not None:
        console.print(
            f"Budget {_money(b['budget_per_year'])}/year buys {b['servers']} serving + "
            f"{b['spare_servers']} spare servers ({b['serving_gpus']} GPUs) for "
            f"{_money(b['annual_cost'])}/year: {_tokens(b['tokens_per_year'])} tokens/year at "
            f"{b['utilization']:.0%} utilization, {_price(b['cost_per_mtok'])}/Mtok."
        )


@app.command()
def cost(
    scenario: ScenarioOpt = None,
    utilization: UtilizationOpt = None,
    as_json: JsonOpt = False,
    plot: PlotOpt = None,
) -> None:
    """Annual cost by component, tokens per year and $/Mtok (blended, input/output, by class)."""
    _run(cost_report, _show_cost, scenario, utilization, as_json, plot)


@app.command()
def breakeven(
    scenario: ScenarioOpt = None,
    utilization: UtilizationOpt = None,
    as_json: JsonOpt = False,
    plot: PlotOpt = None,
    api: Annotated[
        str | None, typer.Option("--api", help="API whose figures go at the top of --json.")
    ] = None,
) -> None:
    """The utilization at which owning the GPUs costs what each cloud API charges."""

    def build(s: Scenario) -> Report:
        return breakeven_report(s, api)

    _run(build, _show_breakeven, scenario, utilization, as_json, plot)


@app.command()
def size(
    scenario: ScenarioOpt = None,
    utilization: UtilizationOpt = None,
    as_json: JsonOpt = False,
    plot: PlotOpt = None,
) -> None:
    """Servers a token demand needs, the installed fleet's verdict, what the budget buys.

    --utilization sets the utilization at which the budget's capacity is costed.
    """
    _run(size_report, _show_size, scenario, utilization, as_json, plot)
