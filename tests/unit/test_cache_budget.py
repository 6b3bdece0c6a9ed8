"""The disk budget's rules as properties over random sequences of operations
(berth.domain.cache_budget): never over capacity, downloads reserved before they start, kept
models never evicted, eviction least-recently-used first and down to the low watermark."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from berth.domain.cache_budget import Admitted, Budget, Refused

MODELS = [f"m{i}" for i in range(8)]

op = st.one_of(
    st.tuples(st.just("admit"), st.sampled_from(MODELS), st.integers(1, 60)),
    st.tuples(st.just("publish"), st.sampled_from(MODELS), st.just(0)),
    st.tuples(st.just("release"), st.sampled_from(MODELS), st.just(0)),
    st.tuples(st.just("trim"), st.sampled_from(MODELS), st.just(0)),
    st.tuples(st.just("touch"), st.sampled_from(MODELS), st.just(0)),
)


@st.composite
def budgets(draw: st.DrawFn) -> Budget:
    capacity = draw(st.integers(10, 200))
    high = draw(st.integers(0, capacity))
    low = draw(st.integers(0, high))
    return Budget(capacity, high, low)


@settings(max_examples=300)
@given(
    budget=budgets(),
    ops=st.lists(op, max_size=40),
    keep=st.sets(st.sampled_from(MODELS), max_size=4),
)
def test_rules_hold_over_any_sequence(
    budget: Budget, ops: list[tuple[str, str, int]], keep: set[str]
) -> None:
    now = 0.0
    for kind, model, size in ops:
        now += 1
        before = dict(budget.held)
        committed = budget.committed
        if kind == "admit":
            result = budget.admit(model, size, keep)
            if isinstance(result, Refused):
                # a refusal changes nothing: no eviction for a download that does not start
                assert budget.held == before
                assert budget.committed == committed
                assert model not in budget.reserved
            elif before.get(model) is None and committed + size <= budget.high:
                assert isinstance(result, Admitted)
                assert result.evict == ()
            if isinstance(result, Admitted) and result.evict:
                evicted = set(result.evict)
                # never a kept model, never the LRU order broken
                assert not evicted & keep
                remaining = [m for m in before if m not in evicted and m not in keep]
                remaining = [m for m in remaining if m not in budget.reserved]
                for e in evicted:
                    for r in remaining:
                        assert (before[e].last_used, e) <= (before[r].last_used, r)
                # evicted only as far as needed to reach the low watermark
                last = max(evicted, key=lambda m: (before[m].last_used, m))
                assert budget.committed + before[last].size > budget.low
        elif kind == "publish" and model in budget.reserved:
            budget.publish(model, budget.reserved[model], now)
        elif kind == "release":
            budget.release(model)
        elif kind == "touch":
            budget.touch(model, now)
        elif kind == "trim":
            evicted = set(budget.trim(keep))
            assert not evicted & keep
            if committed > budget.high:
                left = budget.candidates(keep)
                assert budget.committed <= budget.low or not left
            else:
                assert not evicted
        # never more committed than the capacity: two downloads that fit alone but not
        # together are never both admitted
        assert budget.committed <= budget.capacity or budget.committed == committed
        assert budget.committed <= max(budget.capacity, committed)
        for m in keep & set(before):
            assert m in budget.held


@given(
    capacity=st.integers(2, 100),
    a=st.integers(1, 100),
    b=st.integers(1, 100),
)
def test_two_that_fit_alone_but_not_together(capacity: int, a: int, b: int) -> None:
    budget = Budget(capacity, capacity, capacity)
    first = budget.admit("a", a, ())
    second = budget.admit("b", b, ())
    admitted = [r for r in (first, second) if isinstance(r, Admitted)]
    if a <= capacity and b <= capacity and a + b > capacity:
        assert len(admitted) == 1
        assert isinstance(second, Refused)
        assert second.waits  # the first will finish (or fail) and free the room
    assert sum(budget.reserved.values()) <= capacity


def test_a_model_bigger_than_what_kept_models_leave_cannot_wait() -> None:
    budget = Budget(100, 90, 50)
    budget.publish("kept", 60, 1.0)
    result = budget.admit("big", 50, {"kept"})
    assert isinstance(result, Refused)
    assert not result.waits
    assert "kept for bookings" in result.detail


def test_room_is_made_by_evicting_the_least_recently_used_down_to_low() -> None:
    budget = Budget(100, 80, 40)
    budget.publish("old", 30, 1.0)
    budget.publish("mid", 30, 2.0)
    budget.publish("new", 20, 3.0)
    result = budget.admit("x", 20, ())
    assert result == Admitted(("old", "mid"))  # 80+20 > 80; down to ≤ 40: 20+20
    assert set(budget.held) == {"new"}
    assert budget.reserved == {"x": 20}
