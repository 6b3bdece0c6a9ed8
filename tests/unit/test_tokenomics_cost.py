"""The cost model on worked examples small enough to check by hand (arithmetic in comments)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from berth.tokenomics.model import (
    SECONDS_PER_YEAR,
    Costs,
    Fleet,
    ModelClass,
    Redundancy,
    Server,
    Workload,
    annual_cost,
    capital_recovery_factor,
    ceil_count,
    cost,
    default_utilizations,
    sensitivity,
    split_price,
    tokens_per_year,
    unit_cost_ratio,
)

# One server, one $10,000 GPU, 100 W idle / 500 W loaded, 5 years at 0 %, 10 % maintenance,
# $500/GPU/year software, $0.10/kWh, PUE 1.5.
SERVER = Server(gpus=1, gpu_price=10_000, platform_price=0, idle_watts=100, load_watts=500)
COSTS = Costs(
    life_years=5,
    cost_of_capital=0.0,
    maintenance_rate=0.10,
    software_per_gpu=500,
    software_per_server=0,
    electricity_price=0.10,
    pue=1.5,
)
FLEET = Fleet(server=SERVER, servers=1, redundancy=Redundancy(), costs=COSTS)
# One class: 1 GPU per replica, 1,000 output tokens/s, 1,000 in + 1,000 out per request.
ONE = ModelClass("m", share=1.0, gpus_per_replica=1, output_tokens_per_s=1000,
                 input_tokens=1000, output_tokens=1000)  # fmt: skip
WORKLOAD = Workload(classes=(ONE,), output_input_cost_ratio=4.0)


def test_annual_cost_by_component_at_half_utilization() -> None:
    b = annual_cost(FLEET, 0.5)
    assert b.capital == pytest.approx(2_000.0)  # 10,000 x 1/5
    assert b.maintenance == pytest.approx(1_000.0)  # 10,000 x 0.10
    assert b.software == pytest.approx(500.0)  # 1 GPU x 500
    # 100 + 0.5 x (500 - 100) = 300 W; 300 x 8,760 h / 1,000 = 2,628 kWh; x $0.10 = $262.80
    assert b.power == pytest.approx(262.80)
    assert b.cooling == pytest.approx(131.40)  # 262.80 x (1.5 - 1)
    assert b.facility == 0.0
    assert b.staff == 0.0
    assert b.total == pytest.approx(3_894.20)  # 2,000 + 1,000 + 500 + 262.80 + 131.40


def test_cost_per_million_tokens_at_half_utilization() -> None:
    r = cost(FLEET, WORKLOAD, 0.5)
    # 1 GPU-s per request (1 GPU x 1,000 out / 1,000 out/s); 0.5 x 31,536,000 s = 15,768,000
    # requests; x 2,000 tokens = 31,536,000,000 tokens/year.
    assert r.tokens_per_year == pytest.approx(31_536_000_000)
    assert r.input_tokens_per_year == pytest.approx(15_768_000_000)
    # $3,894.20 / 31,536 Mtok = $0.123484.../Mtok
    assert r.cost_per_mtok == pytest.approx(3_894.20 / 31_536)
    assert r.cost_per_mtok == pytest.approx(0.1234843, rel=1e-6)
    # Equal input and output tokens, ratio 4: p_in = c x 2 / (1 + 4) = 0.4 c; p_out = 1.6 c.
    assert r.prices.input == pytest.approx(0.4 * r.cost_per_mtok)
    assert r.prices.output == pytest.approx(1.6 * r.cost_per_mtok)
    assert r.capital_expenditure == 10_000
    (only,) = r.classes
    assert only.gpu_time_share == 1.0
    assert only.prices.blended == pytest.approx(r.cost_per_mtok)


def test_cost_of_capital_uses_the_capital_recovery_factor() -> None:
    # 1.08^5 = 1.469328; 0.08 x 1.469328 / 0.469328 = 0.250456
    assert capital_recovery_factor(0.08, 5) == pytest.approx(0.2504565, rel=1e-6)
    assert capital_recovery_factor(0.0, 4) == 0.25  # no interest: straight line, 1/4
    fleet = replace(FLEET, costs=replace(COSTS, cost_of_capital=0.08))
    assert annual_cost(fleet, 0.5).capital == pytest.approx(2_504.565, rel=1e-6)  # 10,000 x CRF


def test_crf_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="life"):
        capital_recovery_factor(0.05, 0)
    with pytest.raises(ValueError, match="cost of capital"):
        capital_recovery_factor(-0.01, 5)


def test_redundancy_adds_spares_that_cost_capital_and_idle_power() -> None:
    assert Redundancy(n_plus=1).spares(8) == 1
    assert Redundancy(percent=10).spares(8) == 1  # ceil(0.8)
    assert Redundancy(percent=10).spares(25) == 3  # ceil(2.5)
    assert Redundancy(percent=10).spares(10) == 1  # exactly 1.0: no float noise to 2
    assert Redundancy(n_plus=1).spares(0) == 0  # nothing to protect
    fleet = replace(FLEET, servers=2, redundancy=Redundancy(n_plus=1))
    b = annual_cost(fleet, 0.5)
    assert b.capital == pytest.approx(6_000.0)  # 3 servers x 10,000 / 5
    assert b.software == pytest.approx(1_500.0)  # 3 GPUs x 500
    # 2 x 300 W serving + 1 x 100 W spare = 700 W; 700 x 8.76 = 6,132 kWh -> $613.20
    assert b.power == pytest.approx(613.20)
    # Tokens come from the 2 serving GPUs only: twice the one-server figure.
    assert cost(fleet, WORKLOAD, 0.5).tokens_per_year == pytest.approx(2 * 31_536_000_000)


def test_facility_staff_and_per_server_software() -> None:
    costs = replace(
        COSTS, facility_per_server=1_200, staff_fte=0.5, staff_cost_per_fte=100_000,
        software_per_server=300,
    )  # fmt: skip
    b = annual_cost(replace(FLEET, servers=3, costs=costs), 0.5)
    assert b.facility == pytest.approx(3_600.0)  # 3 x 1,200
    assert b.staff == pytest.approx(50_000.0)  # 0.5 x 100,000
    assert b.software == pytest.approx(2_400.0)  # 3 x (1 x 500 + 300)


def test_cost_is_split_between_classes_by_gpu_time() -> None:
    # A: 1 GPU, 1,000 out/s, 1,000 + 1,000 tokens -> 1 GPU-s per request.
    # B: 2 GPUs, 500 out/s, 500 + 500 tokens -> 2 x 500 / 500 = 2 GPU-s per request.
    # Equal request shares: sum s w = 0.5 + 1.0 = 1.5; A gets 1/3 of GPU-time, B 2/3.
    a = replace(ONE, name="A", share=0.5)
    b = ModelClass("B", share=0.5, gpus_per_replica=2, output_tokens_per_s=500,
                   input_tokens=500, output_tokens=500)  # fmt: skip
    fleet = replace(FLEET, server=replace(SERVER, gpus=2))
    r = cost(fleet, Workload(classes=(a, b)), 1.0)
    ra, rb = r.classes
    assert ra.gpu_time_share == pytest.approx(1 / 3)
    assert rb.gpu_time_share == pytest.approx(2 / 3)
    # R = 2 GPUs x 31,536,000 s / 1.5 = 42,048,000 requests; A: 0.5 x R x 2,000 tokens
    assert ra.tokens_per_year == pytest.approx(42_048_000_000)
    assert rb.tokens_per_year == pytest.approx(21_024_000_000)  # 0.5 x R x 1,000
    assert ra.annual_cost + rb.annual_cost == pytest.approx(r.annual_cost)
    # B carries twice A's cost over half A's tokens: 4x A's $/Mtok.
    assert rb.prices.blended == pytest.approx(4 * ra.prices.blended)


def test_tokens_use_request_shares_and_lengths() -> None:
    (t,) = tokens_per_year(FLEET, WORKLOAD, 1.0)
    assert t.tokens == pytest.approx(2 * SECONDS_PER_YEAR * 1000)  # every s at 1,000 out/s x 2


def test_split_price_conserves_the_cost() -> None:
    p = split_price(1.0, input_tokens=3, output_tokens=1, ratio=5)
    # p_in = 1 x 4 / (3 + 5) = 0.5; p_out = 2.5; 3 x 0.5 + 1 x 2.5 = 4 = 1 x 4 tokens
    assert (p.input, p.output) == (0.5, 2.5)


def test_eighty_percent_is_nearly_but_not_exactly_half_of_forty() -> None:
    # F = A(0) = 2,000 + 1,000 + 500 + 100 W (876 kWh: $87.60 + $43.80) = 3,631.40
    # V = 400 W (3,504 kWh: $350.40 + $175.20) = 525.60
    # c(0.8)/c(0.4) = (F/0.8 + V)/(F/0.4 + V) = (4,539.25 + 525.60)/(9,078.50 + 525.60)
    #               = 5,064.85 / 9,604.10 = 0.527364
    ratio = unit_cost_ratio(FLEET, WORKLOAD, 0.8, 0.4)
    assert ratio == pytest.approx(5_064.85 / 9_604.10)
    assert ratio == pytest.approx(0.5 + 0.4 * 525.60 / (2 * (3_631.40 + 0.4 * 525.60)))
    flat = replace(FLEET, server=replace(SERVER, load_watts=100))
    assert unit_cost_ratio(flat, WORKLOAD, 0.8, 0.4) == pytest.approx(0.5)


def test_sensitivity_curve_on_the_default_grid() -> None:
    grid = default_utilizations()
    assert grid[0] == 0.05
    assert grid[-1] == 1.0
    assert len(grid) == 20
    points = sensitivity(FLEET, WORKLOAD)
    assert [p.utilization for p in points] == list(grid)
    assert points[9].cost_per_mtok == pytest.approx(cost(FLEET, WORKLOAD, 0.5).cost_per_mtok)


def test_cost_refuses_zero_utilization_and_empty_fleets() -> None:
    with pytest.raises(ValueError, match="utilization"):
        cost(FLEET, WORKLOAD, 0.0)
    with pytest.raises(ValueError, match="utilization"):
        annual_cost(FLEET, 1.5)
    with pytest.raises(ValueError, match="no serving GPU"):
        cost(replace(FLEET, servers=0), WORKLOAD, 0.5)
    with pytest.raises(ValueError, match="no model class"):
        cost(FLEET, Workload(classes=()), 0.5)


def test_ceil_count_forgives_float_noise() -> None:
    assert ceil_count(2.0000000000001) == 2
    assert ceil_count(2.01) == 3
    assert ceil_count(0.0) == 0
