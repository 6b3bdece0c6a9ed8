"""Break-even, sizing, budget, verdict and measured utilization on worked examples."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from berth.domain.utilization import GpuInterval, gpu_hours, measured_utilization
from berth.tokenomics.breakeven import CloudApi, blended_price, break_even
from berth.tokenomics.model import (
    SECONDS_PER_YEAR,
    Costs,
    Fleet,
    ModelClass,
    Redundancy,
    Server,
    Workload,
    cost,
)
from berth.tokenomics.sizing import ClassDemand, Demand, budget_capacity, judge, size

# The same hand-checked fleet as test_tokenomics_cost: one $10,000 GPU, 100/500 W, 5 years at
# 0 %, 10 % maintenance, $500/GPU/year, $0.10/kWh, PUE 1.5 -> A(u) = 3,631.40 + 525.60 u.
SERVER = Server(gpus=1, gpu_price=10_000, platform_price=0, idle_watts=100, load_watts=500)
COSTS = Costs(life_years=5, cost_of_capital=0.0, maintenance_rate=0.10, software_per_gpu=500,
              software_per_server=0, electricity_price=0.10, pue=1.5)  # fmt: skip
FLEET = Fleet(server=SERVER, servers=1, redundancy=Redundancy(), costs=COSTS)
ONE = ModelClass("m", share=1.0, gpus_per_replica=1, output_tokens_per_s=1000,
                 input_tokens=1000, output_tokens=1000)  # fmt: skip
WORKLOAD = Workload(classes=(ONE,))
# At u = 1 the GPU serves 2 x 1,000 tokens/s x 31,536,000 s = 63,072 Mtok/year.


def test_api_price_is_blended_by_the_token_mix() -> None:
    api = CloudApi("x", input_price=1.0, output_price=4.0)
    assert blended_price(api, 1000, 1000) == 2.5  # (1 + 4) / 2
    assert blended_price(api, 3000, 1000) == 1.75  # (3 x 1 + 1 x 4) / 4


def test_break_even_by_hand() -> None:
    # P = 2.50; u* = F / (P K1 - V) = 3,631.40 / (2.5 x 63,072 - 525.60)
    #            = 3,631.40 / 157,154.40 = 0.023107
    b = break_even(FLEET, WORKLOAD, CloudApi("x", 1.0, 4.0))
    assert b.api_price_per_mtok == 2.5
    assert b.utilization == pytest.approx(3_631.40 / 157_154.40)
    assert b.reason is None
    assert cost(FLEET, WORKLOAD, b.utilization).cost_per_mtok == pytest.approx(2.5)


def test_break_even_above_the_ceiling_is_never() -> None:
    # P = 0.06: 0.06 x 63,072 - 525.60 = 3,258.72; u* = 3,631.40 / 3,258.72 = 1.1144 > 0.85
    b = break_even(FLEET, WORKLOAD, CloudApi("cheap", 0.06, 0.06), ceiling=0.85)
    assert b.utilization is None
    assert b.required_utilization == pytest.approx(3_631.40 / 3_258.72)
    assert b.reason is not None
    assert "ceiling" in b.reason
    # 0.05 x 63,072 - 525.60 = 2,628; u* = 1.3818 -> also never, even with ceiling 1
    assert break_even(FLEET, WORKLOAD, CloudApi("c", 0.05, 0.05), ceiling=1.0).utilization is None


def test_break_even_never_when_energy_alone_costs_more() -> None:
    # P = 0.008: 0.008 x 63,072 = 504.58 < V = 525.60: every token loses money on power alone
    b = break_even(FLEET, WORKLOAD, CloudApi("free", 0.008, 0.008))
    assert b.utilization is None
    assert b.required_utilization is None
    assert b.reason is not None
    assert "energy" in b.reason


def test_break_even_against_one_model_class() -> None:
    # A (1 GPU-s/request) carries 1/3 of cost, B (2 GPU-s/request) 2/3 (see test_tokenomics_cost).
    a = replace(ONE, name="A", share=0.5)
    b = ModelClass("B", share=0.5, gpus_per_replica=2, output_tokens_per_s=500,
                   input_tokens=500, output_tokens=500)  # fmt: skip
    fleet = replace(FLEET, server=replace(SERVER, gpus=2))
    work = Workload(classes=(a, b))
    got = break_even(fleet, work, CloudApi("b-api", 1.0, 1.0, model_class="B"))
    assert got.utilization is not None
    r = cost(fleet, work, got.utilization)
    assert r.classes[1].prices.blended == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown model class"):
        break_even(fleet, work, CloudApi("z", 1, 1, model_class="nope"))


def test_sizing_by_hand() -> None:
    # Demand: 31,536,000,000 tokens/year = 1,000 tokens/s average; peak 3x = 3,000 tokens/s.
    # A replica serves 1,000 out/s x 2,000 / 1,000 = 2,000 tokens/s; at a 75 % target peak,
    # 1,500 usable -> 3,000 / 1,500 = 2 replicas = 2 GPUs = 1 server of 2, + 1 spare (N+1).
    template = replace(FLEET, server=replace(SERVER, gpus=2), redundancy=Redundancy(n_plus=1))
    demand = Demand((ClassDemand("m", 31_536_000_000),), peak_to_average=3,
                    target_peak_utilization=0.75)  # fmt: skip
    s = size(template, WORKLOAD, demand)
    (c,) = s.classes
    assert c.average_tokens_per_s == pytest.approx(1_000)
    assert c.peak_tokens_per_s == pytest.approx(3_000)
    assert c.replica_tokens_per_s == pytest.approx(2_000)
    assert c.replicas == 2
    assert s.gpus_required == 2
    assert s.fleet.servers == 1
    assert s.fleet.spare_servers == 1
    # Average load 1,000 / 2,000 = 0.5 GPU of 2 serving GPUs -> u = 0.25; peak 0.75.
    assert s.utilization == pytest.approx(0.25)
    assert s.peak_utilization == pytest.approx(0.75)
    assert s.result.tokens_per_year == pytest.approx(31_536_000_000)
    # Cost: 2 servers x $20,000 / 5 = 8,000 capital; 4,000 maintenance; 4 GPUs x 500 = 2,000;
    # watts are per server (100 idle, 500 loaded): 100 + 0.25 x 400 = 200 W serving + 100 W
    # spare = 300 W -> 2,628 kWh -> $262.80 + $131.40 cooling. Total 14,394.20.
    assert s.result.annual_cost == pytest.approx(14_394.20)


def test_verdicts_for_an_installed_fleet() -> None:
    template = replace(FLEET, server=replace(SERVER, gpus=2))
    demand = Demand((ClassDemand("m", 31_536_000_000),), 3, 0.75)  # needs 2 GPUs, 1 server
    s = size(template, WORKLOAD, demand)
    right = judge(replace(template, servers=1), s)
    assert (right.verdict, right.ratio) == ("right-sized", 1.0)
    over = judge(replace(template, servers=2), s)
    assert (over.verdict, over.ratio) == ("over-provisioned", 2.0)  # 4 GPUs / 2 needed
    assert over.peak_utilization == pytest.approx(0.375)  # peak 1.5 GPUs busy of 4
    # Twice the demand: 4 replicas = 4 GPUs = 2 servers; 1 installed server has half.
    s2 = size(template, WORKLOAD, Demand((ClassDemand("m", 63_072_000_000),), 3, 0.75))
    under = judge(replace(template, servers=1), s2)
    assert (under.verdict, under.ratio) == ("under-provisioned", 0.5)
    assert under.peak_utilization == pytest.approx(1.5)  # 3 GPUs busy at peak, 2 installed


def test_sizing_refuses_bad_demand() -> None:
    with pytest.raises(ValueError, match="no tokens"):
        size(FLEET, WORKLOAD, Demand((ClassDemand("m", 0),), 2, 0.5))
    with pytest.raises(ValueError, match="unknown model class"):
        size(FLEET, WORKLOAD, Demand((ClassDemand("x", 1e9),), 2, 0.5))
    with pytest.raises(ValueError, match="peak-to-average"):
        size(FLEET, WORKLOAD, Demand((ClassDemand("m", 1e9),), 0.5, 0.5))


def test_budget_buys_whole_servers() -> None:
    # One server costs A(0.5) = $3,894.20/year: $10,000 buys 2 ($7,788.40), $2,211.60 unspent.
    b = budget_capacity(FLEET, WORKLOAD, 10_000, 0.5)
    assert (b.servers, b.serving_gpus) == (2, 2)
    assert b.annual_cost == pytest.approx(7_788.40)
    assert b.unspent == pytest.approx(2_211.60)
    assert b.tokens_per_year == pytest.approx(2 * 31_536_000_000)
    nothing = budget_capacity(FLEET, WORKLOAD, 3_000, 0.5)
    assert (nothing.servers, nothing.tokens_per_year, nothing.cost_per_mtok) == (0, 0.0, None)
    # With 10 % redundancy every server brings a spare (ceil): $10,000 buys 1 + 1 spare.
    spared = budget_capacity(replace(FLEET, redundancy=Redundancy(percent=10)), WORKLOAD,
                             10_000, 0.5)  # fmt: skip
    assert (spared.servers, spared.spare_servers) == (1, 1)


T0 = datetime(2030, 1, 1, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_measured_utilization_by_hand() -> None:
    # Period 10:00-20:00 on a 2-GPU pool: 10 h x 2 = 20 GPU-hours available.
    booked = [
        GpuInterval(h(8), h(12), 1.0),  # clipped to 10-12: 2 GPU-h
        GpuInterval(h(12), h(16), 0.25),  # a MIG slice for 4 h: 1 GPU-h
        GpuInterval(h(18), h(22), 1.0),  # clipped to 18-20: 2 GPU-h
        GpuInterval(h(21), h(23), 2.0),  # outside: 0
    ]
    m = measured_utilization(booked, [GpuInterval(h(0), h(24), 2.0)], h(10), h(20))
    assert m.booked_gpu_hours == pytest.approx(5.0)
    assert m.available_gpu_hours == pytest.approx(20.0)
    assert m.utilization == pytest.approx(0.25)  # 5 / 20


def test_measured_utilization_refuses_bad_periods() -> None:
    cap = [GpuInterval(h(0), h(24), 1.0)]
    with pytest.raises(ValueError, match="end after"):
        measured_utilization([], cap, h(5), h(5))
    with pytest.raises(ValueError, match="no GPU capacity"):
        measured_utilization([], [], h(0), h(1))
    with pytest.raises(ValueError, match="exceed"):
        measured_utilization([GpuInterval(h(0), h(1), 2.0)], cap, h(0), h(1))
    with pytest.raises(ValueError, match="timezone-aware"):
        gpu_hours([], datetime(2030, 1, 1), h(1))


def test_sizing_uses_seconds_per_year() -> None:
    assert SECONDS_PER_YEAR == 31_536_000
