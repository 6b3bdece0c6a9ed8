"""Dollars per million tokens from what a GPU fleet costs to own and how much of it is used.

Finance compares owned GPUs with cloud APIs in one unit, dollars per million tokens ($/Mtok),
and wants every assumption behind the figure in view. This module is that model as plain
algebra — no I/O, no clock, no defaults hidden in code — so the CLI, the API and the tests
evaluate the same formulas. The annual cost is linear in utilization (A = F + V·u), which is
what lets `breakeven.py` and `sizing.py` solve it the other way in closed form.

Formulas (a year is 8,760 h = 31,536,000 s; u is the utilization, 0 < u <= 1: the share of
the year the serving GPUs run at their rated throughput)

Capital recovery factor over a life of n years at a cost of capital r:
    CRF = r (1 + r)^n / ((1 + r)^n - 1)                 CRF = 1/n when r = 0
Servers: N serve, S are spares: S = n_plus + ceil(percent/100 · N)   (S = 0 when N = 0)
Capital C = (N + S) · (platform_price + gpus · gpu_price)
    capital      = C · CRF
    maintenance  = C · maintenance_rate
    software     = (N + S) · (gpus · software_per_gpu + software_per_server)
    IT power  W  = N · (idle_W + u · (load_W - idle_W)) + S · idle_W    spares idle, hot
    power        = W · 8,760 h / 1,000 · price_per_kWh
    cooling      = power · (PUE - 1)
    facility     = (N + S) · facility_per_server
    staff        = staff_fte · cost_per_fte
    A(u)         = the sum = F + V · u,   F = A(0),  V = A(1) - A(0)

Tokens. Class i has a share s_i of requests, g_i GPUs per replica (a MIG slice is a fraction
of a GPU), T_i output tokens/s per replica at full load, I_i input and O_i output tokens per
request. Capacity is pooled: the mix decides how GPU-time is split between classes.
    GPU-seconds per request   w_i = g_i · O_i / T_i
    requests per year         R   = u · G · 31,536,000 / Σ s_j w_j          G = N · gpus
    tokens per year           K_i = s_i · R · (I_i + O_i),   K = Σ K_i
    GPU-time share            f_i = s_i w_i / Σ s_j w_j      (the class's share of A)
    $/Mtok blended            c   = A(u) / K · 10^6
    $/Mtok of class i         c_i = f_i · A(u) / K_i · 10^6
Input and output prices at an output:input cost ratio k over N_in and N_out tokens:
    p_in = c · (N_in + N_out) / (N_in + k · N_out),   p_out = k · p_in
so that N_in · p_in + N_out · p_out = c · (N_in + N_out): the split conserves the cost.

Sensitivity. K is proportional to u (K = K1 · u), so c(u) = (F/u + V) / K1 · 10^6: it falls
as u rises, and halves when u doubles only if V = 0 (power flat). In general
    c(2u) / c(u) = 1/2 + V·u / (2 (F + V·u))
e.g. c(0.8)/c(0.4) = 1/2 + 0.4 V / (2 (F + 0.4 V)): above one half by the share of the
energy that depends on load.

Cost per GPU-hour (the cost ledger's rates). Spread A(u) = F + V·u over the serving GPUs'
hours, G · 8,760:
    held  = F / (G · 8,760)     $ per GPU-hour a GPU is held, busy or idle (spares included)
    load  = V / (G · 8,760)     $ per GPU-hour of full-load activity, on top
so a year in which every serving GPU is held all the time and busy a share u of it costs
G · 8,760 · (held + u · load) = A(u): the rates give back the annual cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

HOURS_PER_YEAR = 8760.0
SECONDS_PER_YEAR = HOURS_PER_YEAR * 3600.0
MILLION = 1_000_000.0
_EPS = 1e-9


def ceil_count(x: float) -> int:
    """Round a count up, forgiving float noise: 2.0000000001 replicas are 2, not 3."""
    return max(0, math.ceil(x - _EPS))


def capital_recovery_factor(rate: float, years: float) -> float:
    """The share of a capital sum to pay each year to repay it with interest over `years`."""
    if years <= 0:
        raise ValueError("life must be > 0 years")
    if rate < 0:
        raise ValueError("cost of capital must be >= 0")
    if rate == 0:
        return 1.0 / years
    # expm1/log1p keep (1 + r)^n - 1 exact for tiny rates, where it would round to 0.
    gain = math.expm1(years * math.log1p(rate))
    return rate * (1.0 + gain) / gain


@dataclass(frozen=True)
class Redundancy:
    """Spare servers on top of the serving ones: N+`n_plus`, and/or `percent` of N (rounded up)."""

    n_plus: int = 0
    percent: float = 0.0

    def spares(self, serving: int) -> int:
        if serving <= 0:
            return 0
        return self.n_plus + ceil_count(self.percent / 100.0 * serving)


@dataclass(frozen=True)
class Server:
    """One server model: what it costs to buy and what it draws from the wall."""

    gpus: int
    gpu_price: float
    platform_price: float
    idle_watts: float
    load_watts: float

    @property
    def price(self) -> float:
        return self.platform_price + self.gpus * self.gpu_price


@dataclass(frozen=True)
class Costs:
    """Running costs and finance terms; money in dollars, rates as fractions per year."""

    life_years: float
    cost_of_capital: float
    maintenance_rate: float
    software_per_gpu: float
    software_per_server: float
    electricity_price: float
    pue: float
    facility_per_server: float = 0.0
    staff_fte: float = 0.0
    staff_cost_per_fte: float = 0.0


@dataclass(frozen=True)
class Fleet:
    """`servers` serving servers of one model, plus the spares its redundancy adds."""

    server: Server
    servers: int
    redundancy: Redundancy
    costs: Costs

    @property
    def spare_servers(self) -> int:
        return self.redundancy.spares(self.servers)

    @property
    def total_servers(self) -> int:
        return self.servers + self.spare_servers

    @property
    def serving_gpus(self) -> int:
        return self.servers * self.server.gpus


@dataclass(frozen=True)
class ModelClass:
    """A class of model (7B, 70B, ...) with how it is served and what a request looks like."""

    name: str
    share: float
    gpus_per_replica: float
    output_tokens_per_s: float
    input_tokens: float
    output_tokens: float

    @property
    def gpu_seconds_per_request(self) -> float:
        return self.gpus_per_replica * self.output_tokens / self.output_tokens_per_s

    @property
    def tokens_per_replica_second(self) -> float:
        """Input and output tokens a fully loaded replica serves per second."""
        return (
            self.output_tokens_per_s
            * (self.input_tokens + self.output_tokens)
            / (self.output_tokens)
        )


@dataclass(frozen=True)
class Workload:
    """The traffic mix; `output_input_cost_ratio` splits a blended price into input/output."""

    classes: tuple[ModelClass, ...]
    output_input_cost_ratio: float = 4.0


@dataclass(frozen=True)
class CostBreakdown:
    """Annual cost by component, dollars per year."""

    capital: float
    maintenance: float
    software: float
    power: float
    cooling: float
    facility: float
    staff: float

    @property
    def total(self) -> float:
        return (
            self.capital
            + self.maintenance
            + self.software
            + self.power
            + self.cooling
            + self.facility
            + self.staff
        )

    def as_dict(self) -> dict[str, float]:
        return {
            "capital": self.capital,
            "maintenance": self.maintenance,
            "software": self.software,
            "power": self.power,
            "cooling": self.cooling,
            "facility": self.facility,
            "staff": self.staff,
        }


def annual_cost(fleet: Fleet, utilization: float) -> CostBreakdown:
    """What owning and running the fleet costs for a year at `utilization` (0 <= u <= 1)."""
    if not 0.0 <= utilization <= 1.0:
        raise ValueError("utilization must be within [0, 1]")
    server, costs = fleet.server, fleet.costs
    total = fleet.total_servers
    capex = total * server.price
    watts = (
        fleet.servers * (server.idle_watts + utilization * (server.load_watts - server.idle_watts))
        + fleet.spare_servers * server.idle_watts
    )
    power = watts * HOURS_PER_YEAR / 1000.0 * costs.electricity_price
    return CostBreakdown(
        capital=capex * capital_recovery_factor(costs.cost_of_capital, costs.life_years),
        maintenance=capex * costs.maintenance_rate,
        software=total * (server.gpus * costs.software_per_gpu + costs.software_per_server),
        power=power,
        cooling=power * (costs.pue - 1.0),
        facility=total * costs.facility_per_server,
        staff=costs.staff_fte * costs.staff_cost_per_fte,
    )


@dataclass(frozen=True)
class GpuHourCost:
    """Dollars per serving-GPU-hour: `held` whatever the GPU does, `load` per hour at full load."""

    held: float
    load: float


def gpu_hour_cost(fleet: Fleet) -> GpuHourCost:
    """The fleet's annual cost A(u) = F + V·u spread over its serving GPU-hours (see above)."""
    if fleet.serving_gpus <= 0:
        raise ValueError("the fleet has no serving GPU")
    hours = fleet.serving_gpus * HOURS_PER_YEAR
    fixed = annual_cost(fleet, 0.0).total
    load = annual_cost(fleet, 1.0).total - fixed
    return GpuHourCost(held=fixed / hours, load=load / hours)


@dataclass(frozen=True)
class Prices:
    """Dollars per million tokens: blended, and split into input and output prices."""

    blended: float
    input: float
    output: float


def split_price(blended: float, input_tokens: float, output_tokens: float, ratio: float) -> Prices:
    """Split a blended $/Mtok into input and output prices with output = ratio x input."""
    p_in = blended * (input_tokens + output_tokens) / (input_tokens + ratio * output_tokens)
    return Prices(blended=blended, input=p_in, output=ratio * p_in)


@dataclass(frozen=True)
class ClassTokens:
    """One model class's tokens per year and its share of the fleet's GPU-time."""

    name: str
    input_tokens: float
    output_tokens: float
    gpu_time_share: float

    @property
    def tokens(self) -> float:
        return self.input_tokens + self.output_tokens


def tokens_per_year(
    fleet: Fleet, workload: Workload, utilization: float
) -> tuple[ClassTokens, ...]:
    """Tokens each class gets through the serving GPUs in a year at `utilization`."""
    weights = [m.share * m.gpu_seconds_per_request for m in workload.classes]
    total_weight = sum(weights)
    requests = utilization * fleet.serving_gpus * SECONDS_PER_YEAR / total_weight
    return tuple(
        ClassTokens(
            name=m.name,
            input_tokens=m.share * requests * m.input_tokens,
            output_tokens=m.share * requests * m.output_tokens,
            gpu_time_share=w / total_weight,
        )
        for m, w in zip(workload.classes, weights, strict=True)
    )


@dataclass(frozen=True)
class ClassCost:
    """One model class: tokens per year, the share of the cost it carries, its prices."""

    name: str
    tokens_per_year: float
    input_tokens_per_year: float
    output_tokens_per_year: float
    gpu_time_share: float
    annual_cost: float
    prices: Prices


@dataclass(frozen=True)
class CostResult:
    """The fleet's annual cost and unit cost at one utilization."""

    utilization: float
    breakdown: CostBreakdown
    serving_gpus: int
    servers: int
    spare_servers: int
    capital_expenditure: float
    tokens_per_year: float
    input_tokens_per_year: float
    output_tokens_per_year: float
    prices: Prices
    classes: tuple[ClassCost, ...]

    @property
    def annual_cost(self) -> float:
        return self.breakdown.total

    @property
    def cost_per_mtok(self) -> float:
        return self.prices.blended


def _check_costable(fleet: Fleet, workload: Workload, utilization: float) -> None:
    if not 0.0 < utilization <= 1.0:
        raise ValueError("utilization must be within (0, 1]: no tokens at 0")
    if fleet.serving_gpus <= 0:
        raise ValueError("the fleet has no serving GPU")
    if not workload.classes:
        raise ValueError("the workload has no model class")


def cost(fleet: Fleet, workload: Workload, utilization: float) -> CostResult:
    """$/Mtok blended, by input/output and by model class, at `utilization` (0 < u <= 1)."""
    _check_costable(fleet, workload, utilization)
    breakdown = annual_cost(fleet, utilization)
    total = breakdown.total
    ratio = workload.output_input_cost_ratio
    per_class = tokens_per_year(fleet, workload, utilization)
    classes = []
    for t in per_class:
        share_cost = t.gpu_time_share * total
        blended = share_cost / t.tokens * MILLION
        classes.append(
            ClassCost(
                name=t.name,
                tokens_per_year=t.tokens,
                input_tokens_per_year=t.input_tokens,
                output_tokens_per_year=t.output_tokens,
                gpu_time_share=t.gpu_time_share,
                annual_cost=share_cost,
                prices=split_price(blended, t.input_tokens, t.output_tokens, ratio),
            )
        )
    n_in = sum(t.input_tokens for t in per_class)
    n_out = sum(t.output_tokens for t in per_class)
    return CostResult(
        utilization=utilization,
        breakdown=breakdown,
        serving_gpus=fleet.serving_gpus,
        servers=fleet.servers,
        spare_servers=fleet.spare_servers,
        capital_expenditure=fleet.total_servers * fleet.server.price,
        tokens_per_year=n_in + n_out,
        input_tokens_per_year=n_in,
        output_tokens_per_year=n_out,
        prices=split_price(total / (n_in + n_out) * MILLION, n_in, n_out, ratio),
        classes=tuple(classes),
    )


@dataclass(frozen=True)
class CostPoint:
    """One point of the sensitivity curve."""

    utilization: float
    annual_cost: float
    tokens_per_year: float
    cost_per_mtok: float


def default_utilizations(step: float = 0.05) -> tuple[float, ...]:
    """0.05, 0.10, ..., 1.00: the grid the sensitivity curve is drawn on."""
    n = round(1.0 / step)
    return tuple(round((i + 1) * step, 10) for i in range(n))


def sensitivity(
    fleet: Fleet, workload: Workload, utilizations: Iterable[float] | None = None
) -> tuple[CostPoint, ...]:
    """$/Mtok across utilization: the curve that shows what an idle GPU costs."""
    points = []
    for u in default_utilizations() if utilizations is None else utilizations:
        r = cost(fleet, workload, u)
        points.append(CostPoint(u, r.annual_cost, r.tokens_per_year, r.cost_per_mtok))
    return tuple(points)


def unit_cost_ratio(fleet: Fleet, workload: Workload, high: float, low: float) -> float:
    """c(high) / c(low); exactly low/high only when power does not depend on load."""
    return cost(fleet, workload, high).cost_per_mtok / cost(fleet, workload, low).cost_per_mtok
