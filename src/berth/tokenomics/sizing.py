"""Sizing in reverse: from the tokens people need to the servers to buy, and back to money.

Costing asks "what does this fleet cost per token?"; planning asks the converse questions —
how much hardware a demand needs, what a budget buys, and whether the fleet already
installed is too big or too small. They share model.py's formulas, so a sizing costed
at the utilization it implies gives back the demand and the same annual cost.

Formulas (class i: demand D_i tokens/year, replica capacity C_i = T_i (I_i + O_i) / O_i
tokens/s, g_i GPUs per replica; peak-to-average ratio p; target peak utilization t)
    peak tokens/s         P_i = D_i / 31,536,000 · p
    replicas              r_i = ceil(P_i / (C_i · t))
    GPUs required         g   = Σ r_i g_i
    serving servers       N   = max(1, ceil(g / gpus_per_server));  spares by redundancy
    implied utilization   u   = Σ (D_i / 31,536,000 / C_i · g_i) / (N · gpus_per_server)
    request shares        s_i = (D_i / (I_i + O_i)) / Σ_j D_j / (I_j + O_j)
The fleet is costed at u with the shares s_i (tokenomics.cost), which returns D_i per class.

Budget: the largest N whose annual cost A(N, u) (spares included) fits the budget, found by
bisection since A grows with N. Verdict for an installed fleet of N_0 servers, G_0 GPUs:
under-provisioned when G_0 < g (peak demand cannot be met at the target utilization),
over-provisioned when N_0 > N (a server could go and the peak would still be met),
right-sized otherwise; the ratio G_0 / g is the figure behind the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from berth.tokenomics.model import (
    SECONDS_PER_YEAR,
    CostResult,
    Fleet,
    ModelClass,
    Workload,
    annual_cost,
    ceil_count,
    cost,
)


@dataclass(frozen=True)
class ClassDemand:
    """Tokens per year (input and output) wanted from one model class."""

    model_class: str
    tokens_per_year: float


@dataclass(frozen=True)
class Demand:
    """Token demand per class, how peaky it is, and how hot the fleet may run at peak."""

    classes: tuple[ClassDemand, ...]
    peak_to_average: float
    target_peak_utilization: float


@dataclass(frozen=True)
class ClassSizing:
    """The replicas one class needs to serve its peak at the target utilization."""

    name: str
    tokens_per_year: float
    average_tokens_per_s: float
    peak_tokens_per_s: float
    replica_tokens_per_s: float
    replicas: int
    gpus: float


@dataclass(frozen=True)
class Sizing:
    """A demand turned into a fleet, and that fleet costed at the utilization it implies."""

    classes: tuple[ClassSizing, ...]
    gpus_required: float
    peak_gpus: float
    fleet: Fleet
    workload: Workload
    utilization: float
    peak_utilization: float
    result: CostResult


def _classes_by_name(workload: Workload) -> dict[str, ModelClass]:
    return {m.name: m for m in workload.classes}


def size(template: Fleet, workload: Workload, demand: Demand) -> Sizing:
    """Replicas, GPUs and servers for `demand`, on `template`'s server model and costs."""
    if demand.peak_to_average < 1.0:
        raise ValueError("peak-to-average ratio must be >= 1")
    if not 0.0 < demand.target_peak_utilization <= 1.0:
        raise ValueError("target peak utilization must be within (0, 1]")
    known = _classes_by_name(workload)
    wanted = [d for d in demand.classes if d.tokens_per_year > 0]
    if not wanted:
        raise ValueError("the demand asks for no tokens")
    sized: list[ClassSizing] = []
    derived: list[ModelClass] = []
    average_gpus = 0.0
    for d in wanted:
        if d.model_class not in known:
            raise ValueError(f"demand names unknown model class {d.model_class!r}")
        m = known[d.model_class]
        average = d.tokens_per_year / SECONDS_PER_YEAR
        peak = average * demand.peak_to_average
        capacity = m.tokens_per_replica_second
        replicas = ceil_count(peak / (capacity * demand.target_peak_utilization))
        sized.append(
            ClassSizing(
                m.name,
                d.tokens_per_year,
                average,
                peak,
                capacity,
                replicas,
                replicas * m.gpus_per_replica,
            )
        )
        average_gpus += average / capacity * m.gpus_per_replica
        derived.append(replace(m, share=d.tokens_per_year / (m.input_tokens + m.output_tokens)))
    requests = sum(m.share for m in derived)
    mix = replace(workload, classes=tuple(replace(m, share=m.share / requests) for m in derived))
    gpus_required = sum(c.gpus for c in sized)
    servers = max(1, ceil_count(gpus_required / template.server.gpus))
    fleet = replace(template, servers=servers)
    utilization = average_gpus / fleet.serving_gpus
    return Sizing(
        classes=tuple(sized),
        gpus_required=gpus_required,
        peak_gpus=average_gpus * demand.peak_to_average,
        fleet=fleet,
        workload=mix,
        utilization=utilization,
        peak_utilization=utilization * demand.peak_to_average,
        result=cost(fleet, mix, utilization),
    )


@dataclass(frozen=True)
class BudgetCapacity:
    """What an annual budget buys: servers, GPUs and tokens at a given utilization."""

    budget_per_year: float
    utilization: float
    servers: int
    spare_servers: int
    serving_gpus: int
    annual_cost: float
    unspent: float
    tokens_per_year: float
    cost_per_mtok: float | None


_MAX_SERVERS = 10_000_000


def budget_capacity(
    template: Fleet, workload: Workload, budget_per_year: float, utilization: float
) -> BudgetCapacity:
    """The most serving servers (plus spares) whose annual cost fits `budget_per_year`."""

    def spend(n: int) -> float:
        return annual_cost(replace(template, servers=n), utilization).total

    if spend(1) - spend(0) <= 0:
        raise ValueError(
            "a server costs nothing in this scenario: any budget buys unbounded capacity"
        )
    low, high = 0, 1
    while spend(high) <= budget_per_year:
        low, high = high, high * 2
        if high > _MAX_SERVERS:
            raise ValueError("the budget buys more than ten million servers")
    while high - low > 1:
        mid = (low + high) // 2
        if spend(mid) <= budget_per_year:
            low = mid
        else:
            high = mid
    fleet = replace(template, servers=low)
    spent = spend(low)
    if low == 0:
        return BudgetCapacity(
            budget_per_year, utilization, 0, 0, 0, spent, budget_per_year - spent, 0.0, None
        )
    result = cost(fleet, workload, utilization)
    return BudgetCapacity(
        budget_per_year=budget_per_year,
        utilization=utilization,
        servers=low,
        spare_servers=fleet.spare_servers,
        serving_gpus=fleet.serving_gpus,
        annual_cost=result.annual_cost,
        unspent=budget_per_year - result.annual_cost,
        tokens_per_year=result.tokens_per_year,
        cost_per_mtok=result.cost_per_mtok,
    )


Verdict = Literal["over-provisioned", "under-provisioned", "right-sized"]


@dataclass(frozen=True)
class FleetVerdict:
    """The installed fleet against what the demand needs; `ratio` = installed / required GPUs."""

    verdict: Verdict
    ratio: float
    installed_gpus: int
    required_gpus: float
    installed_servers: int
    required_servers: int
    peak_utilization: float


def judge(installed: Fleet, sizing: Sizing) -> FleetVerdict:
    """Over-provisioned, under-provisioned or right-sized, with the ratio behind it."""
    if installed.server.gpus != sizing.fleet.server.gpus:
        raise ValueError("the installed fleet and the sizing use different servers")
    gpus = installed.serving_gpus
    if gpus <= 0:
        raise ValueError("the installed fleet has no serving GPU")
    verdict: Verdict
    if gpus < sizing.gpus_required:
        verdict = "under-provisioned"
    elif installed.servers > sizing.fleet.servers:
        verdict = "over-provisioned"
    else:
        verdict = "right-sized"
    return FleetVerdict(
        verdict=verdict,
        ratio=gpus / sizing.gpus_required,
        installed_gpus=gpus,
        required_gpus=sizing.gpus_required,
        installed_servers=installed.servers,
        required_servers=sizing.fleet.servers,
        peak_utilization=sizing.peak_gpus / gpus,
    )
