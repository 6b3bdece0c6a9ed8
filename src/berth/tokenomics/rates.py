"""The cost ledger's dollars per GPU-hour, from tokenomics scenarios (`BERTH_USAGE_COSTS`).

The setting maps pools (or one GPU kind of a pool) to where their rate comes from:

    BERTH_USAGE_COSTS="*=c845a, big=/etc/berth/fleet.yaml, big/mig-1g.10gb=0.9, lab=2.5"

- a key is `*` (every pool not named), a pool name, or `pool/kind`; the most specific wins;
- a source is a built-in scenario (`c845a`, `fleet`), a scenario YAML file, or a flat number of
  dollars per GPU-hour held (an internal chargeback rate; no load part).

A scenario's rate is `model.gpu_hour_cost` of its fleet: its fixed annual cost per serving
GPU-hour for every reserved GPU-hour, and the energy full load adds per used GPU-hour. The rate
is per physical GPU; a MIG slice pays its fraction because the ledger counts it as one. Unset,
every pool is costed with the reference C845A scenario (the demo pool's hardware).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from berth.domain.usage import CostTable, Rate
from berth.tokenomics.model import gpu_hour_cost
from berth.tokenomics.scenario import BUILTIN, REFERENCE, Scenario, load_builtin, load_scenario
from berth.yamlfile import FileError

DEFAULT_KEY = "*"


def scenario_rate(scenario: Scenario, source: str) -> Rate:
    cost = gpu_hour_cost(scenario.to_domain().fleet)
    return Rate(held=cost.held, load=cost.load, source=source)


def _rate(source: str) -> Rate:
    try:
        flat = float(source)
    except ValueError:
        pass
    else:
        if not flat >= 0 or flat == float("inf"):
            raise ValueError(f"{source!r}: a flat rate must be a finite number of dollars >= 0")
        return Rate(held=flat, load=0.0, source=f"flat ${flat:g}/GPU-hour")
    if source in BUILTIN:
        return scenario_rate(load_builtin(source), f"scenario {source}")
    path = Path(source)
    if not path.is_file():
        raise ValueError(
            f"{source!r} is neither a built-in scenario ({', '.join(BUILTIN)}), "
            "a scenario file nor a number"
        )
    try:
        return scenario_rate(load_scenario(path), f"scenario file {source}")
    except FileError as exc:
        raise ValueError(str(exc)) from exc


@lru_cache(maxsize=8)
def cost_table(setting: str = "") -> CostTable:
    """The rates the setting names; ValueError with the entry at fault."""
    default = scenario_rate(load_builtin(REFERENCE), f"scenario {REFERENCE}")
    overrides: dict[str, Rate] = {}
    for entry in (e.strip() for e in setting.split(",")):
        if not entry:
            continue
        key, sep, source = (part.strip() for part in entry.partition("="))
        if not sep or not key or not source:
            raise ValueError(f"BERTH_USAGE_COSTS: {entry!r} is not KEY=SOURCE")
        try:
            rate = _rate(source)
        except ValueError as exc:
            raise ValueError(f"BERTH_USAGE_COSTS: {key}: {exc}") from exc
        if key == DEFAULT_KEY:
            default = rate
        else:
            overrides[key] = rate
    return CostTable(default=default, overrides=overrides)
