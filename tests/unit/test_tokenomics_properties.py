"""Properties the cost model must keep for any fleet and workload, checked with Hypothesis."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from berth.tokenomics.breakeven import CloudApi, break_even
from berth.tokenomics.model import (
    MILLION,
    Costs,
    Fleet,
    ModelClass,
    Redundancy,
    Server,
    Workload,
    annual_cost,
    cost,
)
from berth.tokenomics.sizing import ClassDemand, Demand, size

money = st.floats(min_value=1.0, max_value=200_000.0)
watts = st.floats(min_value=0.0, max_value=10_000.0)
utilization = st.floats(min_value=0.01, max_value=1.0)


@st.composite
def servers(draw: st.DrawFn) -> Server:
    idle = draw(watts)
    return Server(
        gpus=draw(st.integers(1, 8)),
        gpu_price=draw(money),
        platform_price=draw(st.floats(0.0, 100_000.0)),
        idle_watts=idle,
        load_watts=idle + draw(watts),
    )


@st.composite
def fleets(draw: st.DrawFn) -> Fleet:
    costs = Costs(
        life_years=draw(st.floats(1.0, 10.0)),
        cost_of_capital=draw(st.floats(0.0, 0.2)),
        maintenance_rate=draw(st.floats(0.0, 0.3)),
        software_per_gpu=draw(st.floats(0.0, 10_000.0)),
        software_per_server=draw(st.floats(0.0, 10_000.0)),
        electricity_price=draw(st.floats(0.0, 0.5)),
        pue=draw(st.floats(1.0, 2.5)),
        facility_per_server=draw(st.floats(0.0, 20_000.0)),
        staff_fte=draw(st.floats(0.0, 3.0)),
        staff_cost_per_fte=draw(st.floats(0.0, 250_000.0)),
    )
    redundancy = draw(
        st.one_of(
            st.builds(Redundancy, n_plus=st.integers(0, 2)),
            st.builds(Redundancy, percent=st.floats(0.0, 50.0)),
        )
    )
    return Fleet(draw(servers()), draw(st.integers(1, 40)), redundancy, costs)


@st.composite
def workloads(draw: st.DrawFn) -> Workload:
    n = draw(st.integers(1, 4))
    weights = draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n))
    classes = tuple(
        ModelClass(
            name=f"c{i}",
            share=w / sum(weights),
            gpus_per_replica=draw(st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0, 8.0])),
            output_tokens_per_s=draw(st.floats(10.0, 20_000.0)),
            input_tokens=draw(st.one_of(st.just(0.0), st.floats(1.0, 8_000.0))),
            output_tokens=draw(st.floats(1.0, 4_000.0)),
        )
        for i, w in enumerate(weights)
    )
    return Workload(classes, output_input_cost_ratio=draw(st.floats(1.0, 8.0)))


@given(fleets(), workloads(), utilization, utilization)
def test_cost_per_token_falls_as_utilization_rises(
    fleet: Fleet, workload: Workload, u1: float, u2: float
) -> None:
    assume(u2 > u1 + 1e-4)
    assert cost(fleet, workload, u2).cost_per_mtok < cost(fleet, workload, u1).cost_per_mtok


@given(fleets(), workloads(), st.floats(0.01, 0.5))
def test_with_power_flat_doubling_utilization_halves_cost(
    fleet: Fleet, workload: Workload, u: float
) -> None:
    flat = replace(fleet, server=replace(fleet.server, load_watts=fleet.server.idle_watts))
    low = cost(flat, workload, u).cost_per_mtok
    high = cost(flat, workload, 2 * u).cost_per_mtok
    assert high == pytest.approx(low / 2, rel=1e-9)


@given(fleets(), workloads(), st.floats(0.01, 0.5))
def test_with_power_rising_doubling_utilization_leaves_more_than_half(
    fleet: Fleet, workload: Workload, u: float
) -> None:
    fixed, variable = annual_cost(fleet, 0).total, annual_cost(fleet, 1).total
    variable -= fixed
    ratio = cost(fleet, workload, 2 * u).cost_per_mtok / cost(fleet, workload, u).cost_per_mtok
    # c(2u)/c(u) = 1/2 + V u / (2 (F + V u)), the formula of the module docstring
    assert ratio == pytest.approx(0.5 + variable * u / (2 * (fixed + variable * u)), rel=1e-9)
    assert ratio >= 0.5 - 1e-12


@given(fleets(), workloads(), utilization)
def test_costs_and_tokens_add_up(fleet: Fleet, workload: Workload, u: float) -> None:
    r = cost(fleet, workload, u)
    assert sum(c.annual_cost for c in r.classes) == pytest.approx(r.annual_cost, rel=1e-9)
    assert sum(c.tokens_per_year for c in r.classes) == pytest.approx(r.tokens_per_year, rel=1e-9)
    # Input and output prices recover the whole cost, per class and blended.
    recovered = (r.input_tokens_per_year * r.prices.input
                 + r.output_tokens_per_year * r.prices.output) / MILLION  # fmt: skip
    assert recovered == pytest.approx(r.annual_cost, rel=1e-9)
    for c in r.classes:
        got = (c.input_tokens_per_year * c.prices.input
               + c.output_tokens_per_year * c.prices.output) / MILLION  # fmt: skip
        assert got == pytest.approx(c.annual_cost, rel=1e-9)
        assert c.prices.output == pytest.approx(workload.output_input_cost_ratio * c.prices.input)


@given(fleets(), workloads(), st.floats(0.01, 0.99), st.floats(0.0, 1.0))
def test_break_even_makes_on_prem_cost_equal_the_api_price(
    fleet: Fleet, workload: Workload, target: float, input_share_of_price: float
) -> None:
    # Build an API whose blended price equals on-prem $/Mtok at `target`, with any split
    # between input and output prices: break-even must land back on `target`.
    r = cost(fleet, workload, target)
    n_in, n_out = r.input_tokens_per_year, r.output_tokens_per_year
    assume(n_in > 0 and n_out > 0)
    total = r.cost_per_mtok * (n_in + n_out)
    p_in = input_share_of_price * total / n_in
    p_out = (1 - input_share_of_price) * total / n_out
    b = break_even(fleet, workload, CloudApi("api", p_in, p_out), ceiling=1.0)
    assert b.api_price_per_mtok == pytest.approx(r.cost_per_mtok, rel=1e-9)
    assert b.utilization == pytest.approx(target, rel=1e-6)
    assert cost(fleet, workload, b.utilization).cost_per_mtok == pytest.approx(
        b.api_price_per_mtok, rel=1e-9
    )


@given(fleets(), workloads(), st.floats(0.001, 100.0), st.data())
def test_break_even_for_any_price_meets_it_or_says_never(
    fleet: Fleet, workload: Workload, price: float, data: st.DataObject
) -> None:
    cls = data.draw(st.sampled_from([None, *[m.name for m in workload.classes]]))
    b = break_even(fleet, workload, CloudApi("api", price, price, model_class=cls), ceiling=0.85)
    if b.utilization is None:
        assert b.reason is not None
        assert b.required_utilization is None or b.required_utilization > 0.85
        return
    assert 0 <= b.utilization <= 0.85
    assume(b.utilization > 0)
    r = cost(fleet, workload, b.utilization)
    on_prem = (
        r.cost_per_mtok
        if cls is None
        else next(c.prices.blended for c in r.classes if c.name == cls)
    )
    assert on_prem == pytest.approx(price, rel=1e-6)


@given(fleets(), workloads(), st.data())
def test_sizing_then_costing_at_the_implied_utilization_round_trips(
    fleet: Fleet, workload: Workload, data: st.DataObject
) -> None:
    wide = replace(fleet, server=replace(fleet.server, gpus=8))  # every replica fits a server
    demand = Demand(
        classes=tuple(
            ClassDemand(m.name, data.draw(st.floats(1e6, 1e13), label=m.name))
            for m in workload.classes
        ),
        peak_to_average=data.draw(st.floats(1.0, 5.0), label="peak_to_average"),
        target_peak_utilization=data.draw(st.floats(0.1, 1.0), label="target"),
    )
    s = size(wide, workload, demand)
    assert 0 < s.utilization <= 1
    assert s.peak_utilization <= demand.target_peak_utilization * (1 + 1e-9)
    assert s.fleet.serving_gpus >= s.gpus_required
    again = cost(s.fleet, s.workload, s.utilization)
    assert again.annual_cost == pytest.approx(s.result.annual_cost, rel=1e-9)
    for want, got in zip(demand.classes, again.classes, strict=True):
        assert got.name == want.model_class
        assert got.tokens_per_year == pytest.approx(want.tokens_per_year, rel=1e-9)
    assert again.tokens_per_year == pytest.approx(
        sum(d.tokens_per_year for d in demand.classes), rel=1e-9
    )
