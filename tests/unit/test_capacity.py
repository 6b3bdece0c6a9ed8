"""The capacity sweep against a brute-force oracle that checks every instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain.capacity import (
    Booking,
    align_up,
    availability,
    changes_of,
    fits,
    fits_usage,
    next_fit,
    peak_usage,
    usage_steps,
    usage_steps_of_changes,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)
RESOURCES = ("gpu", "mig", "cpu")


def t(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def b(start: int, end: int, **demand: int) -> Booking:
    return Booking(t(start), t(end), demand)


def test_sweep_fits_where_a_plain_sum_of_overlaps_refuses() -> None:
    # capacity 2; A=[0,10) and B=[20,30) never overlap each other, so C=[5,25) meets at most one.
    cap = {"gpu": 2}
    existing = [b(0, 10, gpu=1), b(20, 30, gpu=1)]
    request = b(5, 25, gpu=1)
    plain_sum = sum(x.demand["gpu"] for x in existing) + 1
    assert plain_sum > cap["gpu"]  # the naive check would refuse
    assert fits(cap, existing, request) is None


def test_shortage_names_resource_time_free_and_asked() -> None:
    cap = {"gpu": 1, "cpu": 10}
    existing = [b(10, 20, gpu=1, cpu=2)]
    shortage = fits(cap, existing, b(0, 30, gpu=1, cpu=2))
    assert shortage is not None
    assert (shortage.resource, shortage.start, shortage.end) == ("gpu", t(10), t(20))
    assert (shortage.free, shortage.asked) == (0, 1)


def test_half_open_intervals_touching_do_not_overlap() -> None:
    assert fits({"gpu": 1}, [b(0, 10, gpu=1)], b(10, 20, gpu=1)) is None
    assert fits({"gpu": 1}, [b(0, 10, gpu=1)], b(9, 20, gpu=1)) is not None


def test_resource_missing_from_the_pool_has_zero_capacity() -> None:
    shortage = fits({"gpu": 1}, [], Booking(t(0), t(10), {"mig-1g.24gb": 1}))
    assert shortage is not None
    assert (shortage.resource, shortage.free, shortage.asked) == ("mig-1g.24gb", 0, 1)


def test_peak_usage_is_the_true_peak() -> None:
    peaks = peak_usage([b(0, 10, gpu=1), b(20, 30, gpu=1), b(5, 25, gpu=1)], t(0), t(30))
    assert peaks["gpu"] == (2, t(5))


def test_availability_covers_the_window_with_free_capacity() -> None:
    steps = availability({"gpu": 2, "cpu": 8}, [b(10, 20, gpu=1, cpu=4)], t(0), t(30))
    assert [(s.start, s.end, dict(s.amounts)) for s in steps] == [
        (t(0), t(10), {"gpu": 2, "cpu": 8}),
        (t(10), t(20), {"gpu": 1, "cpu": 4}),
        (t(20), t(30), {"gpu": 2, "cpu": 8}),
    ]


def test_next_fit_finds_the_first_gap_on_the_grid() -> None:
    existing = [b(0, 50, gpu=1), b(70, 120, gpu=1)]
    grid = timedelta(minutes=15)
    start = next_fit({"gpu": 1}, existing, {"gpu": 1}, timedelta(minutes=10), t(0), t(500), grid)
    assert start == t(60)  # the end 50 rounded up to the grid; [60, 70) ends as [70, 120) starts
    start15 = next_fit({"gpu": 1}, existing, {"gpu": 1}, timedelta(minutes=15), t(0), t(500), grid)
    assert start15 == t(120)  # [60, 75) would overlap [70, 120)
    assert next_fit({"gpu": 1}, existing, {"gpu": 2}, grid, t(0), t(500), grid) is None


def test_align_up() -> None:
    grid = timedelta(minutes=15)
    assert align_up(t(0), grid) == t(0)
    assert align_up(t(1), grid) == t(15)
    assert align_up(t(15) - timedelta(microseconds=1), grid) == t(15)


# ---- property tests against brute force -------------------------------------------------

bookings = st.lists(
    st.builds(
        lambda s, d, r, q: Booking(t(s), t(s + d), {r: q}),
        st.integers(0, 60),
        st.integers(1, 30),
        st.sampled_from(RESOURCES),
        st.integers(1, 3),
    ),
    max_size=12,
)
capacities = st.fixed_dictionaries({r: st.integers(0, 5) for r in RESOURCES})


def used_at(existing: list[Booking], minute: int, resource: str) -> int:
    return sum(x.demand.get(resource, 0) for x in existing if x.start <= t(minute) < x.end)


def oracle_fits(cap: dict[str, int], existing: list[Booking], req: Booking) -> bool:
    minutes = range(
        int((req.start - T0).total_seconds() // 60), int((req.end - T0).total_seconds() // 60)
    )
    return all(
        used_at(existing, m, r) + q <= cap.get(r, 0) for m in minutes for r, q in req.demand.items()
    )


@settings(max_examples=400, deadline=None)
@given(capacities, bookings, bookings.filter(lambda x: len(x) >= 1))
def test_fits_agrees_with_checking_every_instant(
    cap: dict[str, int], existing: list[Booking], requests: list[Booking]
) -> None:
    req = requests[0]
    shortage = fits(cap, existing, req)
    assert (shortage is None) == oracle_fits(cap, existing, req)
    if shortage is not None:
        minute = int((shortage.start - T0).total_seconds() // 60)
        free = cap.get(shortage.resource, 0) - used_at(existing, minute, shortage.resource)
        assert shortage.free == max(free, 0)
        assert shortage.asked == req.demand[shortage.resource]
        assert (
            used_at(existing, minute, shortage.resource) + shortage.asked > cap[shortage.resource]
        )


@settings(max_examples=200, deadline=None)
@given(bookings)
def test_usage_steps_match_usage_at_every_minute(existing: list[Booking]) -> None:
    steps = usage_steps(existing, t(0), t(100))
    assert (steps[0].start, steps[-1].end) == (t(0), t(100))
    for prev, nxt in pairwise(steps):
        assert prev.end == nxt.start
    for s in steps:
        for minute in range(
            int((s.start - T0).total_seconds() // 60), int((s.end - T0).total_seconds() // 60)
        ):
            for r in RESOURCES:
                assert s.amounts.get(r, 0) == used_at(existing, minute, r)


@settings(max_examples=200, deadline=None)
@given(capacities, bookings, st.integers(1, 40), st.sampled_from(RESOURCES), st.integers(1, 3))
def test_next_fit_is_the_earliest_fitting_grid_start(
    cap: dict[str, int], existing: list[Booking], duration: int, resource: str, amount: int
) -> None:
    grid = timedelta(minutes=5)
    demand = {resource: amount}
    found = next_fit(cap, existing, demand, timedelta(minutes=duration), t(0), t(120), grid)
    fitting = [
        m
        for m in range(0, 121, 5)
        if fits(cap, existing, Booking(t(m), t(m + duration), demand)) is None
    ]
    assert found == (t(fitting[0]) if fitting else None)


@settings(max_examples=300, deadline=None)
@given(bookings, st.integers(-10, 90), st.integers(1, 100))
def test_usage_from_changes_per_instant_equals_the_sweep_of_the_bookings(
    existing: list[Booking], start: int, length: int
) -> None:
    """What the store asks the database for (each booking's +demand at its start and -demand
    at its end, summed per instant) gives the very steps the sweep of the bookings gives, for
    any window, whether it holds the changes or cuts through them."""
    window = (t(start), t(start + length))
    assert usage_steps_of_changes(changes_of(existing), *window) == usage_steps(existing, *window)


# a booking as the pool's sweep sees one: a GPU kind, and always cpu and memory
several = st.lists(
    st.builds(
        lambda s, d, kind, q, cpu, mem: Booking(t(s), t(s + d), {kind: q, "cpu": cpu, "mem": mem}),
        st.integers(0, 60),
        st.integers(1, 30),
        st.sampled_from(("gpu", "mig")),
        st.integers(1, 3),
        st.integers(0, 3),
        st.integers(1, 3),
    ),
    max_size=14,
)


@settings(max_examples=400, deadline=None)
@given(
    st.fixed_dictionaries({r: st.integers(0, 8) for r in ("gpu", "mig", "cpu", "mem")}),
    several,
    several.filter(lambda x: len(x) >= 1),
    st.integers(-10, 20),
)
def test_fits_from_the_usage_summed_per_instant_is_fits_from_the_bookings(
    cap: dict[str, int], existing: list[Booking], requests: list[Booking], shift: int
) -> None:
    """What the booking path does (the database sums the pool's changes of usage per instant
    in the window, `fits_usage` checks the steps) gives the very answer, shortage and all,
    that the sweep of the bookings gives, though the steps split where resources the request
    does not ask for change."""
    req = requests[0]
    req = Booking(
        req.start + timedelta(minutes=shift), req.end + timedelta(minutes=shift), req.demand
    )
    usage = usage_steps_of_changes(changes_of(existing), req.start, req.end)
    assert fits_usage(cap, usage, req) == fits(cap, existing, req)
