"""The cost ledger's arithmetic (domain.usage): properties on random bookings and activity
series, an oracle for the sums, exact day boundaries, and the tokenomics rates behind dollars."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain import usage
from berth.domain.usage import CostTable, Held, Period, Rate, Sample
from berth.tokenomics.model import HOURS_PER_YEAR, annual_cost, gpu_hour_cost
from berth.tokenomics.rates import cost_table
from berth.tokenomics.scenario import load_builtin

T0 = datetime(2030, 3, 28, tzinfo=UTC)  # Europe/Berlin moves to summer time on 2030-03-31
BERLIN = usage.zone_named("Europe/Berlin")
COSTS = CostTable(Rate(2.0, 0.5, "test"), {"q": Rate(3.0, 0.0, "test q")})
REL = 1e-9


def close(a: float, b: float) -> bool:
    return abs(a - b) <= REL * max(1.0, abs(a), abs(b))


@st.composite
def bookings(draw: st.DrawFn) -> list[Held]:
    out = []
    for i in range(draw(st.integers(0, 6))):
        start = T0 + timedelta(minutes=draw(st.integers(0, 6 * 24 * 60)))
        length = timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)))
        kind = draw(st.sampled_from(["gpu", "mig-1g.24gb"]))
        count = draw(st.integers(1, 4))
        out.append(
            Held(
                id=f"r{i}",
                user=draw(st.sampled_from(["ann", "bob", "cy"])),
                pool=draw(st.sampled_from(["p", "q"])),
                gpu_kind=kind,
                gpu_count=count,
                units=count * (1.0 if kind == "gpu" else 0.25),
                start=start,
                end=start + length,
                status="COMPLETED",
            )
        )
    return out


@st.composite
def series(draw: st.DrawFn, held: Sequence[Held], overlapping: bool) -> list[Sample]:
    """Samples around each booking (some before or after its window); back to back unless
    `overlapping`, when they may also cover each other."""
    out = []
    for h in held:
        at = h.start - timedelta(seconds=draw(st.integers(0, 7200)))
        for _ in range(draw(st.integers(0, 25))):
            seconds = draw(st.sampled_from([30, 60, 300, 3600, 7200]))
            at += timedelta(seconds=seconds + draw(st.integers(0, 3600)))
            active = draw(st.none() | st.floats(0.0, 1.0))
            out.append(
                Sample(
                    h.id,
                    at,
                    seconds,
                    active,
                    draw(st.integers(0, 10**6)),
                    draw(st.integers(0, 10**5)),
                )
            )
            if overlapping and draw(st.booleans()):
                at -= timedelta(seconds=seconds // 2)
    # one row per (reservation, at), as the table's primary key has it
    return list({(s.reservation_id, s.at): s for s in out}.values())


@st.composite
def periods(draw: st.DrawFn) -> Period:
    start = T0 + timedelta(minutes=draw(st.integers(-24 * 60, 5 * 24 * 60)))
    end = start + timedelta(minutes=draw(st.integers(0, 6 * 24 * 60)))
    return Period(start, end, draw(st.sampled_from([UTC, BERLIN])))


def ledger(held: list[Held], samples: list[Sample], period: Period) -> list[usage.Line]:
    return usage.lines(held, usage.measure(samples, held, period), COSTS, period)


@st.composite
def cases(draw: st.DrawFn, overlapping: bool = False) -> tuple[list[Held], list[Sample], Period]:
    held = draw(bookings())
    return held, draw(series(held, overlapping)), draw(periods())


@settings(max_examples=150)
@given(cases(overlapping=True))
def test_used_never_exceeds_measured_nor_measured_reserved(
    case: tuple[list[Held], list[Sample], Period],
) -> None:
    held, samples, period = case
    lines = ledger(held, samples, period)
    for line in lines:
        f = line.figures
        assert 0 <= f.used_gpu_hours <= f.measured_gpu_hours * (1 + REL) + 1e-12
        assert f.measured_gpu_hours <= f.reserved_gpu_hours * (1 + REL) + 1e-12
        assert f.idle_share is None or 0 <= f.idle_share <= 1
    for by in (["user"], ["pool", "day"], ["gpu_kind"]):
        for row in usage.group(lines, by):
            assert row.figures.used_gpu_hours <= row.figures.reserved_gpu_hours * (1 + REL) + 1e-12


@settings(max_examples=100)
@given(cases(overlapping=True))
def test_every_grouping_sums_to_the_total(case: tuple[list[Held], list[Sample], Period]) -> None:
    held, samples, period = case
    lines = ledger(held, samples, period)
    whole = usage.total(lines)
    dims = list(usage.DIMENSIONS)
    for n in range(len(dims) + 1):
        for by in combinations(dims, n):
            rows = usage.group(lines, by)
            summed = usage.Figures()
            for r in rows:
                summed = summed + r.figures
            for field in ("reserved_gpu_hours", "used_gpu_hours", "cost", "tokens_prompt"):
                assert close(getattr(summed, field), getattr(whole, field)), (by, field)
            assert len({tuple(r.key.values()) for r in rows}) == len(rows)


@settings(max_examples=100)
@given(cases(), st.floats(0.0, 1.0))
def test_two_halves_of_a_period_add_up_to_the_whole(
    case: tuple[list[Held], list[Sample], Period], cut: float
) -> None:
    held, samples, period = case
    mid = period.start + (period.end - period.start) * cut
    first = usage.total(ledger(held, samples, Period(period.start, mid, period.zone)))
    second = usage.total(ledger(held, samples, Period(mid, period.end, period.zone)))
    whole = usage.total(ledger(held, samples, period))
    for field in (
        "reserved_gpu_hours",
        "measured_gpu_hours",
        "used_gpu_hours",
        "cost",
        "tokens_prompt",
        "tokens_generated",
    ):
        assert close(getattr(first, field) + getattr(second, field), getattr(whole, field)), field


def _overlap_s(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


@settings(max_examples=100)
@given(cases())
def test_totals_match_an_oracle_that_ignores_days(
    case: tuple[list[Held], list[Sample], Period],
) -> None:
    """Per reservation, without days or grouping: R = units x window hours in the period,
    U = units x sum of activity x the sample's seconds inside window and period."""
    held, samples, period = case
    reserved = used = measured = cost = 0.0
    for h in held:
        lo, hi = max(h.start, period.start), min(h.end, period.end)
        r = h.units * _overlap_s(h.start, h.end, period.start, period.end) / 3600
        u = m = 0.0
        for s in samples:
            if s.reservation_id != h.id or s.gpu_active is None:
                continue
            part = _overlap_s(s.at - timedelta(seconds=s.seconds), s.at, lo, hi)
            m += h.units * part / 3600
            u += h.units * part * s.gpu_active / 3600
        rate = COSTS.rate(h.pool, h.gpu_kind)
        reserved, used, measured = reserved + r, used + u, measured + m
        cost += r * rate.held + u * rate.load
    got = usage.total(ledger(held, samples, period))
    assert close(got.reserved_gpu_hours, reserved)
    assert close(got.measured_gpu_hours, measured)
    assert close(got.used_gpu_hours, used)
    assert close(got.cost, cost)


def test_days_start_at_local_midnight_and_a_summer_time_day_has_23_hours() -> None:
    start = datetime(2030, 3, 30, 12, tzinfo=UTC)
    held = [Held("r", "ann", "p", "gpu", 2, 2.0, start, start + timedelta(days=2), "ACTIVE")]
    period = Period(start - timedelta(days=1), start + timedelta(days=3), BERLIN)
    by_day = {
        r.key["day"]: r.figures.reserved_gpu_hours
        for r in usage.group(usage.lines(held, [], COSTS, period), ["day"])
    }
    # 12:00 UTC is 13:00 in Berlin (winter): 11 h of the 30th, all 23 h of the 31st (clocks
    # go forward), and up to 12:00 UTC = 14:00 summer time on 1 April: 14 h
    assert by_day == {"2030-03-30": 2 * 11.0, "2030-03-31": 2 * 23.0, "2030-04-01": 2 * 14.0}
    utc = usage.group(usage.lines(held, [], COSTS, Period(period.start, period.end, UTC)), ["day"])
    assert {r.key["day"]: r.figures.reserved_gpu_hours for r in utc} == {
        "2030-03-30": 24.0,
        "2030-03-31": 48.0,
        "2030-04-01": 24.0,
    }


def test_a_sample_across_midnight_is_split_and_measured_share_and_idle_share() -> None:
    start = datetime(2030, 1, 1, 23, tzinfo=UTC)
    held = [
        Held("r", "ann", "p", "mig-1g.24gb", 2, 0.5, start, start + timedelta(hours=2), "COMPLETED")
    ]
    samples = [
        # 23:30-00:30 at 50 %, 1,000 tokens: half of each day
        Sample("r", start + timedelta(minutes=90), 3600, 0.5, 800, 200),
        # 00:30-00:45 unmeasured
        Sample("r", start + timedelta(minutes=105), 900, None, 0, 0),
    ]
    period = Period(start - timedelta(hours=1), start + timedelta(hours=3), UTC)
    rows = usage.group(ledger(held, samples, period), ["day"])
    first, second = (r.figures for r in rows)
    assert [r.key["day"] for r in rows] == ["2030-01-01", "2030-01-02"]
    assert (first.reserved_gpu_hours, second.reserved_gpu_hours) == (0.5, 0.5)
    assert (first.measured_gpu_hours, first.used_gpu_hours) == (0.25, 0.125)
    assert (first.idle_share, first.measured_share) == (0.5, 0.5)
    assert (first.tokens_prompt, second.tokens_generated) == (400, 100)
    assert first.cost == 0.5 * 2.0 + 0.125 * 0.5
    assert first.cost_per_mtok == pytest.approx(first.cost / 500 * 1e6)
    assert usage.group(ledger(held, [], period), ["day"])[0].figures.idle_share is None


def test_overlapping_samples_cannot_measure_more_than_the_window() -> None:
    start = datetime(2030, 1, 1, 10, tzinfo=UTC)
    held = [Held("r", "ann", "p", "gpu", 1, 1.0, start, start + timedelta(hours=1), "COMPLETED")]
    twice = [
        Sample("r", start + timedelta(hours=1), 3600, 1.0),
        Sample("r", start + timedelta(hours=1, microseconds=1), 3600, 1.0),
    ]
    f = usage.total(ledger(held, twice, Period(start, start + timedelta(hours=1), UTC)))
    assert (f.measured_gpu_hours, f.used_gpu_hours) == pytest.approx((1.0, 1.0))


def test_sessions_are_most_idle_first() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    end = start + timedelta(hours=4)
    held = [
        Held(name, "ann", "p", "gpu", 1, 1.0, start, end, "COMPLETED")
        for name in ("busy", "idle", "half")
    ]
    samples = [
        Sample(h, end, 4 * 3600, a) for h, a in (("busy", 0.9), ("idle", 0.0), ("half", 0.5))
    ]
    report = usage.report(ledger(held, samples, Period(start, end, UTC)), ["user"], top=2)
    assert [s.held.id for s in report.sessions] == ["idle", "half"]
    assert report.session_count == 3


def test_requests_are_checked_with_the_parameter_named() -> None:
    now = datetime(2030, 1, 10, tzinfo=UTC)
    t = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(usage.UsageError, match=r"^to: must be after from"):
        usage.period_for(t, t, now, "UTC")
    with pytest.raises(usage.UsageError, match=r"^to: a report spans at most 366 days"):
        usage.period_for(t, t + timedelta(days=367), now, "UTC")
    with pytest.raises(usage.UsageError, match=r"^tz: unknown time zone 'Mars/Base'"):
        usage.period_for(t, now, now, "Mars/Base")
    with pytest.raises(usage.UsageError, match=r"^group_by: unknown grouping 'project'"):
        usage.parse_group_by("user,project")
    assert usage.parse_group_by("day, user") == ("user", "day")
    assert usage.parse_group_by("") == ("user", "pool", "gpu_kind", "day")
    # the ledger stops at now: what is booked ahead is not yet held
    assert usage.period_for(t, now + timedelta(days=5), now, "UTC").end == now
    assert (
        usage.period_for(now + timedelta(days=1), now + timedelta(days=2), now, "UTC").days() == []
    )


@settings(max_examples=50)
@given(st.floats(0.0, 1.0))
def test_gpu_hour_rates_give_back_the_annual_cost(u: float) -> None:
    fleet = load_builtin("fleet").to_domain().fleet
    rate = gpu_hour_cost(fleet)
    hours = fleet.serving_gpus * HOURS_PER_YEAR
    assert close(hours * (rate.held + u * rate.load), annual_cost(fleet, u).total)


def test_rates_of_the_reference_and_overrides() -> None:
    table = cost_table("")
    # F = $25,346/year and V = $2,398/year over 2 GPUs x 8,760 h (docs/tokenomics.md)
    assert table.default.held == pytest.approx(25345.5 / 17520, rel=1e-3)
    assert table.default.load == pytest.approx(2398.3 / 17520, rel=1e-3)
    assert table.default.source == "scenario c845a"
    table = cost_table("*=fleet, lab=2.5, lab/gpu=c845a")
    assert table.rate("other", "gpu").source == "scenario fleet"
    assert table.rate("lab", "mig-1g.24gb") == Rate(2.5, 0.0, "flat $2.5/GPU-hour")
    assert table.rate("lab", "gpu").source == "scenario c845a"
    for bad, message in (
        ("lab", "is not KEY=SOURCE"),
        ("lab=-1", "a flat rate must be"),
        ("lab=/nowhere.yaml", "neither a built-in scenario"),
    ):
        with pytest.raises(ValueError, match=message):
            cost_table(bad)


def test_day_keys_are_dates() -> None:
    assert usage.Period(T0, T0 + timedelta(hours=1), UTC).days()[0][0] == date(2030, 3, 28)
