"""The fair waitlist's pure rules: decayed usage, the order of offers, states, offer holds."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.domain import waitlist as w
from berth.domain.waitlist import Held, Waiting, WaitlistState

NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
WEEK = timedelta(hours=168)


def test_usage_is_units_times_hours_halved_per_half_life_since_the_end() -> None:
    team = ("team", 1)
    held = [
        # ended one half-life ago: 2 units x 3 h x 0.5
        Held(team, 2.0, NOW - WEEK - timedelta(hours=3), NOW - WEEK),
        # still running: counts in full, 1 x 4 h
        Held(team, 1.0, NOW - timedelta(hours=1), NOW + timedelta(hours=3)),
        # a MIG slice of four: 0.25 x 8 h, ended two half-lives ago: x 0.25
        Held(("user", 7), 0.25, NOW - 2 * WEEK - timedelta(hours=8), NOW - 2 * WEEK),
    ]
    usage = w.decayed_usage(held, NOW, WEEK)
    assert usage[team] == pytest.approx(3.0 + 4.0)
    assert usage[("user", 7)] == pytest.approx(0.5)


def test_a_group_without_usage_goes_first_then_lowest_usage_then_arrival() -> None:
    a, b, c = ("team", 1), ("team", 2), ("user", 9)
    waiting = [
        Waiting(1, a, NOW),  # the first to arrive, but its team used the most
        Waiting(2, b, NOW + timedelta(minutes=1)),
        Waiting(3, c, NOW + timedelta(minutes=2)),  # no usage at all
        Waiting(4, b, NOW + timedelta(minutes=1)),  # same team and instant as 2: by id
    ]
    usage = {a: 100.0, b: 5.0}
    assert [x.id for x in w.order(waiting, usage)] == [3, 2, 4, 1]


def test_not_arrival_alone_a_heavy_team_waits_behind_a_later_light_one() -> None:
    heavy, light = ("team", 1), ("team", 2)
    usage = w.decayed_usage(
        [Held(heavy, 4.0, NOW - timedelta(hours=10), NOW - timedelta(hours=2))], NOW, WEEK
    )
    first = Waiting(1, heavy, NOW - timedelta(hours=1))
    later = Waiting(2, light, NOW)
    assert w.order([first, later], usage) == [later, first]


def test_usage_decays_so_an_old_heavy_user_ranks_below_a_recent_light_one() -> None:
    old, recent = ("team", 1), ("team", 2)
    usage = w.decayed_usage(
        [
            Held(old, 8.0, NOW - 10 * WEEK - timedelta(hours=100), NOW - 10 * WEEK),  # 800 x 2^-10
            Held(recent, 1.0, NOW - timedelta(hours=2), NOW - timedelta(hours=1)),  # 1
        ],
        NOW,
        WEEK,
    )
    assert usage[old] < usage[recent]


def test_an_offer_is_held_for_its_minutes_but_never_past_the_window_start() -> None:
    hold = timedelta(minutes=15)
    assert w.offer_until(NOW, hold, NOW + timedelta(hours=2)) == NOW + hold
    assert w.offer_until(NOW, hold, NOW + timedelta(minutes=5)) == NOW + timedelta(minutes=5)


def test_the_half_life_must_be_positive() -> None:
    with pytest.raises(ValueError, match="half-life"):
        w.weight(NOW, NOW, timedelta(0))


def test_states_move_only_forward() -> None:
    assert w.transition(WaitlistState.WAITING, WaitlistState.OFFERED) is WaitlistState.OFFERED
    assert w.transition(WaitlistState.OFFERED, WaitlistState.LAPSED) is WaitlistState.LAPSED
    for done in (
        WaitlistState.ACCEPTED,
        WaitlistState.DECLINED,
        WaitlistState.LAPSED,
        WaitlistState.WITHDRAWN,
        WaitlistState.GONE,
    ):
        for target in WaitlistState:
            with pytest.raises(w.StateError):
                w.transition(done, target)
    with pytest.raises(w.StateError):
        w.transition(
            WaitlistState.WAITING, WaitlistState.ACCEPTED
        )  # nothing to accept without an offer
    assert w.group_of(5, None) == ("user", 5)
    assert w.group_of(5, 2) == ("team", 2)


groups = st.sampled_from([("team", 1), ("team", 2), ("team", 3), ("user", 1), ("user", 2)])
instants = st.integers(min_value=-2000, max_value=200).map(lambda h: NOW + timedelta(hours=h))
helds = st.builds(
    lambda g, units, start, hours: Held(g, units, start, start + timedelta(hours=hours)),
    groups,
    st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0]),
    instants,
    st.integers(min_value=1, max_value=168),
)


@given(
    st.lists(helds, max_size=30),
    st.lists(st.tuples(groups, st.integers(min_value=0, max_value=50)), max_size=20),
)
def test_order_is_a_permutation_sorted_by_usage_then_arrival(
    held: list[Held], arrivals: list[tuple[w.Group, int]]
) -> None:
    usage = w.decayed_usage(held, NOW, WEEK)
    waiting = [Waiting(i + 1, g, NOW + timedelta(minutes=m)) for i, (g, m) in enumerate(arrivals)]
    got = w.order(waiting, usage)
    assert sorted(x.id for x in got) == [x.id for x in waiting]
    for x, y in itertools.pairwise(got):
        ux, uy = usage.get(x.group, 0.0), usage.get(y.group, 0.0)
        assert ux < uy or (ux == uy and (x.created_at, x.id) < (y.created_at, y.id))
    # within one group, the order is arrival order
    for g in {x.group for x in waiting}:
        mine = [x for x in got if x.group == g]
        assert mine == sorted(mine, key=lambda x: (x.created_at, x.id))


@given(st.lists(helds, max_size=20), helds)
def test_more_usage_never_moves_a_group_earlier(held: list[Held], extra: Held) -> None:
    before = w.decayed_usage(held, NOW, WEEK)
    after = w.decayed_usage([*held, extra], NOW, WEEK)
    assert after.get(extra.group, 0.0) >= before.get(extra.group, 0.0)
    for g, u in before.items():
        if g != extra.group:
            assert after[g] == u


@given(helds, st.integers(min_value=1, max_value=2000))
def test_the_weight_halves_every_half_life_and_never_exceeds_one(h: Held, later: int) -> None:
    assert w.weight(h.end, NOW, WEEK) <= 1.0
    then = max(NOW, h.end)
    assert w.weight(h.end, then + WEEK, WEEK) == pytest.approx(
        w.weight(h.end, then, WEEK) / 2, rel=1e-9
    )
    assert w.weight(h.end, NOW + timedelta(hours=later), WEEK) <= w.weight(h.end, NOW, WEEK)
