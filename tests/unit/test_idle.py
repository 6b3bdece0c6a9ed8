"""The idle policy (domain/idle.py) on recorded series: examples, then properties."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain.idle import (
    Clear,
    IdlePolicy,
    IdleState,
    Nothing,
    Reason,
    Release,
    Sample,
    Warn,
    decide,
    idle_seconds,
)

T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)
STEP = 60  # seconds per sample, as the collector's default
POLICY = IdlePolicy(idle_minutes=10, answer_minutes=5, keep_minutes=30)
NO_SHOW = IdlePolicy(no_show_minutes=15, answer_minutes=5)


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def series(values: list[float | None], start: float = 0) -> list[Sample]:
    """One sample per minute after `start`: a value is the GPU activity, None is unmeasured."""
    return [Sample(t(start + i + 1), STEP, v) for i, v in enumerate(values)]


def state(**kw: object) -> IdleState:
    return IdleState(ready_at=T0, **kw)  # type: ignore[arg-type]


def test_off_by_default_nothing_happens_however_idle() -> None:
    idle_day = series([0.0] * 600)
    assert decide(None, idle_day, state(), t(600)) == Nothing()
    assert decide(IdlePolicy(), idle_day, state(), t(600)) == Nothing()


def test_idle_for_the_policys_minutes_is_warned_then_released_without_an_answer() -> None:
    s = series([0.0] * 9)
    assert decide(POLICY, s, state(), t(9)) == Nothing()
    s = series([0.005] * 10)  # under the noise floor is idle
    warn = decide(POLICY, s, state(), t(10))
    assert warn == Warn(Reason.IDLE, t(15), 600)
    warned = state(warned_at=t(10), reason=Reason.IDLE)
    assert decide(POLICY, series([0.0] * 14), warned, t(14)) == Nothing()  # answer window
    assert decide(POLICY, series([0.0] * 15), warned, t(15)) == Release(Reason.IDLE)


def test_activity_resets_the_count_and_clears_a_warning() -> None:
    s = series([0.0] * 8 + [0.4] + [0.0] * 8)
    assert idle_seconds(s, 0.01, T0) == 8 * STEP
    assert decide(POLICY, s, state(), t(17)) == Nothing()
    warned = state(warned_at=t(10), reason=Reason.IDLE)
    s = series([0.0] * 11 + [0.2])
    assert decide(POLICY, s, warned, t(12)) == Clear()


def test_only_the_part_of_a_sample_after_the_start_counts() -> None:
    """A sample that began before the session was ready (or before a keep ran out) counts
    only its part after: the idle time never exceeds the time since."""
    straddling = [Sample(t(0.5), STEP, 0.0), Sample(t(1.5), STEP, 0.0)]
    assert idle_seconds(straddling, 0.01, T0) == 30 + 60


def test_an_unopened_idle_session_is_a_no_show_not_idle_when_both_are_due() -> None:
    both = IdlePolicy(idle_minutes=6, no_show_minutes=6, answer_minutes=5)
    s = [Sample(t(0.5 + i), STEP, 0.0) for i in range(6)]
    assert decide(both, s, state(), t(5.5)) == Nothing()  # 5.5 min since ready
    assert decide(both, s, state(), t(6)) == Warn(Reason.NO_SHOW, t(11), 360)


def test_tokens_count_as_activity_for_an_inference_session() -> None:
    s = [Sample(t(i + 1), STEP, None, tokens=0 if i != 5 else 120) for i in range(12)]
    assert idle_seconds(s, 0.01, T0) == 6 * STEP
    assert decide(POLICY, s, state(), t(12)) == Nothing()


def test_missing_data_counts_neither_way() -> None:
    gaps = series([0.0] * 5 + [None] * 30 + [0.0] * 4)
    assert idle_seconds(gaps, 0.01, T0) == 9 * STEP
    assert decide(POLICY, gaps, state(), t(39)) == Nothing()  # 39 min, 9 of them measured
    # a warning whose answer window went unmeasured is not released
    warned = state(warned_at=t(10), reason=Reason.IDLE)
    s = series([0.0] * 10 + [None] * 20)
    assert decide(POLICY, s, warned, t(30)) == Nothing()


def test_keep_suppresses_for_its_window_then_counts_afresh() -> None:
    kept = state(keep_until=t(40))
    s = series([0.0] * 60)
    assert decide(POLICY, s, kept, t(39)) == Nothing()
    assert decide(POLICY, s, kept, t(49)) == Nothing()  # 9 idle minutes since the keep
    assert isinstance(decide(POLICY, s, kept, t(50)), Warn)


def test_a_no_show_is_warned_then_released_and_opening_clears_it() -> None:
    s = series([None] * 20)  # Prometheus answered, but no GPU series: nothing runs on one
    assert decide(NO_SHOW, s, state(), t(14)) == Nothing()
    assert decide(NO_SHOW, s, state(), t(15)) == Warn(Reason.NO_SHOW, t(20), 900)
    warned = state(warned_at=t(15), reason=Reason.NO_SHOW)
    assert decide(NO_SHOW, s, warned, t(19)) == Nothing()
    assert decide(NO_SHOW, s, warned, t(20)) == Release(Reason.NO_SHOW)
    opened = state(warned_at=t(15), reason=Reason.NO_SHOW, opened_at=t(17))
    assert decide(NO_SHOW, s, opened, t(20)) == Clear()
    assert decide(NO_SHOW, s, state(opened_at=t(1)), t(60)) == Nothing()
    busy = series([0.0] * 3 + [0.5] + [0.0] * 16)  # any activity: it was used
    assert decide(NO_SHOW, busy, state(), t(20)) == Nothing()


def test_a_policy_switched_off_withdraws_its_warning() -> None:
    warned = state(warned_at=t(10), reason=Reason.IDLE)
    assert decide(NO_SHOW, series([0.0] * 20), warned, t(20)) == Clear()
    assert decide(None, series([0.0] * 20), warned, t(20)) == Clear()


# ---- properties on random recorded series -------------------------------------------------

values = st.one_of(
    st.none(),
    st.just(0.0),
    st.floats(min_value=0, max_value=0.01),
    st.floats(min_value=0.0101, max_value=1),
)
recorded = st.lists(values, min_size=0, max_size=90)
policies = st.builds(
    IdlePolicy,
    threshold=st.just(0.01),
    idle_minutes=st.one_of(st.none(), st.integers(1, 40).map(float)),
    answer_minutes=st.integers(1, 20).map(float),
    keep_minutes=st.integers(1, 60).map(float),
    no_show_minutes=st.one_of(st.none(), st.integers(1, 40).map(float)),
)
moments = st.integers(0, 120).map(lambda m: t(m))
optional_moments = st.one_of(st.none(), moments)
states = st.builds(
    IdleState,
    ready_at=st.just(T0),
    opened_at=optional_moments,
    warned_at=optional_moments,
    reason=st.sampled_from(list(Reason)),
    keep_until=optional_moments,
).map(lambda s: s if s.warned_at else IdleState(s.ready_at, s.opened_at, keep_until=s.keep_until))


@settings(max_examples=400)
@given(policies, recorded, states, st.integers(0, 150))
def test_never_released_without_a_warning_at_least_the_answer_window_old(
    policy: IdlePolicy, values: list[float | None], s: IdleState, minute: int
) -> None:
    now = t(minute)
    got = decide(policy, series(values), s, now)
    if isinstance(got, Release):
        assert s.warned_at is not None
        assert now - s.warned_at >= policy.answer
        assert got.reason is s.reason


@settings(max_examples=400)
@given(policies, recorded, states, st.integers(0, 150))
def test_missing_samples_change_no_decision(
    policy: IdlePolicy, values: list[float | None], s: IdleState, minute: int
) -> None:
    """For idleness, dropping the unmeasured samples (as if never recorded) decides the same.
    (No-show reads a sample without a GPU series as Prometheus having answered; see below.)"""
    policy = dataclasses.replace(policy, no_show_minutes=None)
    s = s if s.reason is not Reason.NO_SHOW else IdleState(s.ready_at, s.opened_at)
    full = series(values)
    measured = [x for x in full if x.measured()]
    assert decide(policy, full, s, t(minute)) == decide(policy, measured, s, t(minute))


@settings(max_examples=400)
@given(policies, recorded, states, st.integers(0, 150))
def test_a_last_sample_above_the_floor_never_warns_nor_releases_for_idleness(
    policy: IdlePolicy, values: list[float | None], s: IdleState, minute: int
) -> None:
    now = t(max(minute, len(values) + 1))
    busy = [*series(values), Sample(now, STEP, 0.5)]
    got = decide(policy, busy, s, now)
    assert not (isinstance(got, Warn) and got.reason is Reason.IDLE)
    assert not (isinstance(got, Release) and got.reason is Reason.IDLE)
    # and it is a use: no no-show either
    assert not isinstance(got, Warn | Release)


@settings(max_examples=400)
@given(policies, recorded, states, st.integers(0, 150))
def test_keep_suppresses_warnings_and_releases_for_its_window(
    policy: IdlePolicy, values: list[float | None], s: IdleState, minute: int
) -> None:
    now = t(minute)
    kept = IdleState(s.ready_at, s.opened_at, s.warned_at, s.reason, now + timedelta(seconds=1))
    assert not isinstance(decide(policy, series(values), kept, now), Warn | Release)


@settings(max_examples=300)
@given(policies, recorded, st.integers(0, 150))
def test_a_warning_comes_only_after_the_policys_minutes(
    policy: IdlePolicy, values: list[float | None], minute: int
) -> None:
    now = t(minute)
    got = decide(policy, series(values), IdleState(ready_at=T0), now)
    if isinstance(got, Warn) and got.reason is Reason.IDLE:
        assert policy.idle_minutes is not None
        assert got.idle_seconds >= policy.idle_minutes * 60
        assert got.release_at == now + policy.answer
    if isinstance(got, Warn) and got.reason is Reason.NO_SHOW:
        assert policy.no_show_minutes is not None
        assert now - T0 >= timedelta(minutes=policy.no_show_minutes)


@settings(max_examples=300)
@given(recorded, st.integers(0, 90), st.integers(0, 150))
def test_the_idle_time_never_exceeds_the_time_since_the_start(
    values: list[float | None], start: int, minute: int
) -> None:
    now = t(minute)
    past = [s for s in series(values) if s.at <= now]
    assert idle_seconds(past, 0.01, t(start)) <= max((now - t(start)).total_seconds(), 0)


@settings(max_examples=300)
@given(policies, states, st.integers(0, 150))
def test_with_no_samples_at_all_nothing_is_ever_warned_or_released(
    policy: IdlePolicy, s: IdleState, minute: int
) -> None:
    """Prometheus never answered: nothing is known, so nothing happens (a standing warning
    may only be withdrawn)."""
    assert not isinstance(decide(policy, [], s, t(minute)), Warn | Release)
