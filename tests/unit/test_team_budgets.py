"""Team budgets, the pure rules, against a brute-force oracle (docs/teams.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain.teams import Budget, Held, check, periods, remaining, week_start

T0 = datetime(2030, 1, 7, tzinfo=UTC)  # a Monday
Q = timedelta(minutes=15)


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    sunday = datetime(2030, 1, 13, 23, 0, tzinfo=UTC)
    assert week_start(sunday) == T0
    assert list(periods("week", sunday, sunday + timedelta(hours=2))) == [
        (T0, T0 + timedelta(days=7)),
        (T0 + timedelta(days=7), T0 + timedelta(days=14)),
    ]
    dec = datetime(2030, 12, 31, 20, tzinfo=UTC)
    assert [p for p, _ in periods("month", dec, dec + timedelta(hours=8))] == [
        datetime(2030, 12, 1, tzinfo=UTC),
        datetime(2031, 1, 1, tzinfo=UTC),
    ]


def test_units_cap_counts_what_overlaps_at_once() -> None:
    b = Budget("gpu", max_units=2)
    holding = [Held(T0, T0 + 4 * Q, 1), Held(T0 + 2 * Q, T0 + 6 * Q, 1)]
    over = check(b, 1.0, holding, holding, Held(T0 + 3 * Q, T0 + 5 * Q, 1))
    assert over is not None
    assert (over.budget, over.limit, over.used) == ("units", 2, 2)
    assert check(b, 1.0, holding, holding, Held(T0 + 6 * Q, T0 + 8 * Q, 2)) is None


def test_mig_slices_count_their_fraction_of_gpu_hours() -> None:
    b = Budget("mig", gpu_hours_week=3.0)
    held = [Held(T0, T0 + timedelta(hours=8), 1)]  # 8 h of a quarter GPU: 2 GPU-hours
    assert (
        check(b, 0.25, [], held, Held(T0 + timedelta(days=1), T0 + timedelta(days=1, hours=4), 1))
        is None
    )
    over = check(
        b, 0.25, [], held, Held(T0 + timedelta(days=1), T0 + timedelta(days=1, hours=5), 1)
    )
    assert over is not None
    assert (over.budget, over.used, over.asked) == ("week", 2.0, 1.25)


def test_a_booking_across_two_weeks_is_checked_in_each() -> None:
    b = Budget("gpu", gpu_hours_week=10.0)
    next_week = T0 + timedelta(days=7)
    held = [Held(next_week, next_week + timedelta(hours=9), 1)]
    new = Held(next_week - timedelta(hours=2), next_week + timedelta(hours=2), 1)
    over = check(b, 1.0, [], held, new)
    assert over is not None
    assert (over.period_start, over.asked) == (next_week, 2.0)
    assert remaining(b, 1.0, held, next_week)["week_left"] == 1.0


windows = st.tuples(st.integers(0, 4 * 24 * 16), st.integers(1, 4 * 30)).map(
    lambda t: (T0 + t[0] * Q, T0 + (t[0] + t[1]) * Q)
)
helds = st.builds(lambda w, n: Held(w[0], w[1], n), windows, st.integers(1, 3))


def _oracle(b: Budget, fraction: float, existing: list[Held], new: Held) -> str | None:
    """Quarter hour by quarter hour: units at each instant, GPU-hours summed per period."""
    if b.max_units is not None:
        t = new.start
        while t < new.end:
            at = sum(h.count for h in existing if h.start <= t < h.end)
            if at + new.count > b.max_units:
                return "units"
            t += Q
    for name, limit in (("week", b.gpu_hours_week), ("month", b.gpu_hours_month)):
        if limit is None:
            continue
        for p0, p1 in periods(name, new.start, new.end):
            quarters = 0
            for h in [*existing, new]:
                t = h.start
                while t < h.end:
                    quarters += h.count if p0 <= t < p1 else 0
                    t += Q
            if quarters * 0.25 * fraction > limit + 1e-9:
                return name
    return None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(helds, max_size=12),
    helds,
    st.one_of(st.none(), st.integers(1, 6)),
    st.one_of(st.none(), st.integers(0, 120).map(float)),
    st.one_of(st.none(), st.integers(0, 400).map(float)),
    st.sampled_from([1.0, 0.25, 1 / 7]),
)
def test_check_agrees_with_the_oracle(
    existing: list[Held],
    new: Held,
    units: int | None,
    week: float | None,
    month: float | None,
    fraction: float,
) -> None:
    b = Budget("k", units, week, month)
    over = check(b, fraction, existing, existing, new)
    assert (over.budget if over else None) == _oracle(b, fraction, existing, new)
