"""Tokenomics results as JSON-ready dicts, one shape for the CLI, the API and the UI.

`berth tokenomics ... --json`, `POST /api/v1/tokenomics/...` and the portal's chart must
agree to the cent and to the key, so they all take their figures from these functions
instead of each walking the model's dataclasses in its own way. A route is then a one-line
call: validate the body as a `Scenario`, return `cost_report(body)`.
"""

from __future__ import annotations

from typing import Any

from berth.tokenomics.breakeven import BreakEven, break_even
from berth.tokenomics.model import (
    CostResult,
    Prices,
    default_utilizations,
    sensitivity,
    unit_cost_ratio,
)
from berth.tokenomics.model import cost as model_cost
from berth.tokenomics.scenario import Scenario, ScenarioInputs
from berth.tokenomics.sizing import budget_capacity, judge, size

Report = dict[str, Any]


class ReportError(ValueError):
    """The scenario is valid but lacks what this report needs (no API, no sizing section)."""


def _prices(p: Prices) -> Report:
    return {
        "cost_per_mtok": p.blended,
        "input_price_per_mtok": p.input,
        "output_price_per_mtok": p.output,
    }


def _cost_fields(r: CostResult) -> Report:
    return {
        "utilization": r.utilization,
        "annual_cost": r.annual_cost,
        "breakdown": r.breakdown.as_dict(),
        "capital_expenditure": r.capital_expenditure,
        "servers": r.servers,
        "spare_servers": r.spare_servers,
        "serving_gpus": r.serving_gpus,
        "tokens_per_year": r.tokens_per_year,
        "input_tokens_per_year": r.input_tokens_per_year,
        "output_tokens_per_year": r.output_tokens_per_year,
        **_prices(r.prices),
        "classes": [
            {
                "name": c.name,
                "tokens_per_year": c.tokens_per_year,
                "gpu_time_share": c.gpu_time_share,
                "annual_cost": c.annual_cost,
                **_prices(c.prices),
            }
            for c in r.classes
        ],
    }


def cost_report(scenario: Scenario) -> Report:
    """Annual cost by component, tokens, $/Mtok (blended, in/out, per class), sensitivity."""
    s = scenario.to_domain()
    result = model_cost(s.fleet, s.workload, s.utilization)
    return {
        "scenario": s.name,
        **_cost_fields(result),
        "unit_cost_80_vs_40": unit_cost_ratio(s.fleet, s.workload, 0.8, 0.4),
        "sensitivity": [
            {
                "utilization": p.utilization,
                "annual_cost": p.annual_cost,
                "tokens_per_year": p.tokens_per_year,
                "cost_per_mtok": p.cost_per_mtok,
            }
            for p in sensitivity(s.fleet, s.workload)
        ],
    }


def _breakeven_fields(b: BreakEven) -> Report:
    return {
        "api": b.api,
        "model_class": b.model_class,
        "api_price_per_mtok": b.api_price_per_mtok,
        "breakeven_utilization": b.utilization,
        "required_utilization": b.required_utilization,
        "verdict": b.reason or f"on-prem cheaper above {b.utilization:.1%} utilization",
    }


def _break_evens(s: ScenarioInputs) -> list[BreakEven]:
    return [break_even(s.fleet, s.workload, a, s.practical_ceiling) for a in s.apis]


def breakeven_report(scenario: Scenario, api: str | None = None) -> Report:
    """On-prem cost at the scenario's utilization and the break-even against each API.

    The top-level `api_price_per_mtok` and `breakeven_utilization` are for `api` (by name),
    or the first API listed; every API's figures are under `apis`.
    """
    s = scenario.to_domain()
    if not s.apis:
        raise ReportError("the scenario lists no cloud API to compare with (apis:)")
    names = [a.name for a in s.apis]
    if api is not None and api not in names:
        raise ReportError(f"no API named {api!r} in the scenario (there are: {', '.join(names)})")
    points = _break_evens(s)
    primary = points[names.index(api) if api is not None else 0]
    result = model_cost(s.fleet, s.workload, s.utilization)
    return {
        "scenario": s.name,
        **_cost_fields(result),
        **_breakeven_fields(primary),
        "practical_ceiling": s.practical_ceiling,
        "apis": [_breakeven_fields(b) for b in points],
    }


def size_report(scenario: Scenario) -> Report:
    """The fleet a demand needs, its cost at the implied utilization, the installed fleet's
    verdict, and what the budget buys at the scenario's utilization."""
    s = scenario.to_domain()
    if s.demand is None:
        raise ReportError("the scenario has no sizing section (sizing: demand, peak_to_average…)")
    sizing = size(s.fleet, s.workload, s.demand)
    verdict = judge(s.fleet, sizing)
    report: Report = {
        "scenario": s.name,
        **_cost_fields(sizing.result),
        "peak_utilization": sizing.peak_utilization,
        "gpus_required": sizing.gpus_required,
        "total_servers": sizing.fleet.total_servers,
        "peak_to_average": s.demand.peak_to_average,
        "target_peak_utilization": s.demand.target_peak_utilization,
        "demand": [
            {
                "name": c.name,
                "tokens_per_year": c.tokens_per_year,
                "average_tokens_per_s": c.average_tokens_per_s,
                "peak_tokens_per_s": c.peak_tokens_per_s,
                "replica_tokens_per_s": c.replica_tokens_per_s,
                "replicas": c.replicas,
                "gpus": c.gpus,
            }
            for c in sizing.classes
        ],
        "installed": {
            "verdict": verdict.verdict,
            "ratio": verdict.ratio,
            "installed_gpus": verdict.installed_gpus,
            "required_gpus": verdict.required_gpus,
            "installed_servers": verdict.installed_servers,
            "required_servers": verdict.required_servers,
            "peak_utilization": verdict.peak_utilization,
        },
        "budget": None,
    }
    if s.budget_per_year is not None:
        b = budget_capacity(s.fleet, s.workload, s.budget_per_year, s.utilization)
        report["budget"] = {
            "budget_per_year": b.budget_per_year,
            "utilization": b.utilization,
            "servers": b.servers,
            "spare_servers": b.spare_servers,
            "serving_gpus": b.serving_gpus,
            "annual_cost": b.annual_cost,
            "unspent": b.unspent,
            "tokens_per_year": b.tokens_per_year,
            "cost_per_mtok": b.cost_per_mtok,
        }
    return report


def curve_report(scenario: Scenario) -> Report:
    """$/Mtok against utilization, blended and per class, with each API's price line and
    break-even point: what the CLI's --plot and the portal's chart draw."""
    s = scenario.to_domain()
    grid = default_utilizations(0.025)
    results = [model_cost(s.fleet, s.workload, u) for u in grid]
    curves: dict[str, list[float]] = {"blended": [r.cost_per_mtok for r in results]}
    for i, m in enumerate(s.workload.classes):
        curves[m.name] = [r.classes[i].prices.blended for r in results]
    return {
        "scenario": s.name,
        "utilization": s.utilization,
        "practical_ceiling": s.practical_ceiling,
        "utilizations": list(grid),
        "curves": curves,
        "apis": [_breakeven_fields(b) for b in _break_evens(s)],
    }
