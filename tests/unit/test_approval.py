"""Approval rules (domain/approval.py): which bookings wait, why, and how long they hold."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.config import load_pool_text
from berth.domain.approval import ApprovalRules, Limits, hold_until, reason, rule_reasons
from berth.domain.reservation import Accepted, Mode
from berth.store.errors import OverBudget
from berth.store.pools import from_json, to_json
from berth.yamlfile import FileError

NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
RULES = ApprovalRules(over_hours=24, over_units=4, kinds={"gpu": Limits(over_units=1)})


def booking(hours: float, count: int, kind: str = "mig-1g.24gb", start_h: float = 1) -> Accepted:
    start = NOW + timedelta(hours=start_h)
    return Accepted(
        pool="c845a",
        start=start,
        end=start + timedelta(hours=hours),
        gpu_kind=kind,
        gpu_count=count,
        mode=Mode.INTERACTIVE,
        cpu_millicores=1000,
        memory_bytes=2**30,
    )


@dataclass
class Refusal:
    detail: str = "over team 'ml''s budget"


def test_within_every_rule_needs_no_approval() -> None:
    assert reason(RULES, booking(24, 4), None, ask=False) is None
    assert reason(None, booking(500, 400), None, ask=False) is None  # a pool without rules


def test_longer_or_larger_needs_approval_and_says_why() -> None:
    assert reason(RULES, booking(24.25, 1), None, False) == "longer than 24 hours (24.25 hours)"
    assert reason(RULES, booking(2, 5), None, False) == "more than 4 x mig-1g.24gb (5 asked)"
    both = reason(RULES, booking(30, 5), None, False)
    assert both == "longer than 24 hours (30 hours); more than 4 x mig-1g.24gb (5 asked)"


def test_a_kind_overrides_only_what_it_sets() -> None:
    assert RULES.for_kind("gpu") == Limits(over_hours=24, over_units=1)
    assert RULES.for_kind("mig-1g.24gb") == Limits(over_hours=24, over_units=4)
    assert reason(RULES, booking(2, 2, "gpu"), None, False) == "more than 1 x gpu (2 asked)"
    assert reason(RULES, booking(25, 1, "gpu"), None, False) is not None


def test_over_budget_asks_only_when_asked() -> None:
    over = Refusal()
    # not asking: no approval request, the caller refuses (409), even if a rule also applies
    assert reason(RULES, booking(2, 1), over, ask=False) is None
    assert reason(RULES, booking(30, 1), over, ask=False) is None
    assert reason(RULES, booking(2, 1), over, ask=True) == "over team 'ml''s budget"
    assert reason(RULES, booking(30, 1), over, ask=True) == (
        "longer than 24 hours (30 hours); over team 'ml''s budget"
    )
    # asking within budget changes nothing
    assert reason(RULES, booking(2, 1), None, ask=True) is None


def test_the_stores_budget_refusal_is_a_reason() -> None:
    over = OverBudget(
        team="ml", pool="c845a", gpu_kind="gpu", budget="units", limit=1, used=1, asked=1
    )
    assert reason(None, booking(1, 1, "gpu"), over, ask=True) == over.detail


H = timedelta(hours=1)


def test_hold_until_the_start_at_most_the_hold_at_least_the_minimum() -> None:
    hold, least = 48 * H, H
    far = NOW + 100 * H
    assert hold_until(NOW, far, far + H, hold, least) == NOW + 48 * H
    assert hold_until(NOW, NOW + 10 * H, NOW + 11 * H, hold, least) == NOW + 10 * H
    # a booking from now: the minimum, though its window opens meanwhile
    assert hold_until(NOW, NOW, NOW + 8 * H, hold, least) == NOW + H
    assert hold_until(NOW, NOW + H / 4, NOW + 8 * H, hold, least) == NOW + H
    # never past the end of the window
    assert hold_until(NOW, NOW, NOW + H / 2, hold, least) == NOW + H / 2


@given(
    start_m=st.integers(0, 60 * 24 * 90),
    length_m=st.integers(15, 60 * 24 * 7),
    hold_m=st.integers(1, 60 * 24 * 7),
    least_m=st.integers(1, 60 * 6),
)
def test_hold_until_properties(start_m: int, length_m: int, hold_m: int, least_m: int) -> None:
    start = NOW + timedelta(minutes=start_m)
    end = start + timedelta(minutes=length_m)
    hold, least = timedelta(minutes=hold_m), timedelta(minutes=least_m)
    until = hold_until(NOW, start, end, hold, least)
    assert NOW < until <= end
    assert until <= NOW + max(hold, least)
    assert until >= min(NOW + least, end)
    if NOW + least <= start and NOW + least <= end:
        assert until <= start  # when there is time, an unanswered request ends before its window


def oracle(rules: ApprovalRules, a: Accepted, over: bool, ask: bool) -> str:
    """What the rules say, in words of the issue: "refuse", "pending" or "approved"."""
    if over and not ask:
        return "refuse"
    kind = rules.kinds.get(a.gpu_kind, Limits())
    hours = kind.over_hours if kind.over_hours is not None else rules.over_hours
    units = kind.over_units if kind.over_units is not None else rules.over_units
    length = (a.end - a.start) / H
    too_long = hours is not None and length > hours
    too_many = units is not None and a.gpu_count > units
    return "pending" if over or too_long or too_many else "approved"


limits = st.builds(
    Limits,
    over_hours=st.none() | st.sampled_from([1, 8, 24, 48.5]),
    over_units=st.none() | st.integers(0, 8),
)


@given(
    pool=limits,
    gpu=st.none() | limits,
    quarters=st.integers(1, 4 * 72),
    count=st.integers(1, 8),
    kind=st.sampled_from(["gpu", "mig-1g.24gb"]),
    over=st.booleans(),
    ask=st.booleans(),
)
def test_reason_agrees_with_the_oracle(
    pool: Limits, gpu: Limits | None, quarters: int, count: int, kind: str, over: bool, ask: bool
) -> None:
    rules = ApprovalRules(pool.over_hours, pool.over_units, {"gpu": gpu} if gpu else {})
    a = booking(quarters / 4, count, kind)
    got = reason(rules, a, Refusal() if over else None, ask)
    expected = oracle(rules, a, over, ask)
    if expected == "pending":
        assert got is not None
        assert (Refusal.detail in got) == over
    else:
        assert got is None  # "refuse": the caller raises the budget's 409; "approved"
    assert rule_reasons(rules, a) == [] or oracle(rules, a, False, False) == "pending"


FILE = """
pools:
  - name: a
    nodes:
      - {name: n1, cpu: 64, memory: 512Gi, storage_class: local, gpus: [{index: 0, model: H100, memory: 80Gi}]}
    approval:
      APPROVAL
"""


def test_the_pool_file_names_rules_and_they_survive_the_database_copy() -> None:
    text = FILE.replace(
        "APPROVAL", "{over_hours: 24, over_units: 4, kinds: {gpu: {over_units: 1}}}"
    )
    (pool,) = load_pool_text(text)
    assert pool.approval == ApprovalRules(24, 4, {"gpu": Limits(None, 1)})
    assert from_json(to_json(pool)) == pool
    (plain,) = load_pool_text(FILE.replace("    approval:\n      APPROVAL\n", ""))
    assert plain.approval is None
    assert "approval" not in to_json(plain)  # a pool without rules keeps its description


@pytest.mark.parametrize(
    ("approval", "expected"),
    [
        (
            "{over_hours: 24, kinds: {mig-1g.10gb: {over_units: 1}}}",
            "<string>:7: pools.0.approval.kinds.mig-1g.10gb: pool 'a' has no GPU kind "
            "'mig-1g.10gb' (its kinds: gpu)",
        ),
        (
            "{over_hours: 0}",
            "<string>:7: pools.0.approval.over_hours: Input should be greater than 0",
        ),
        (
            "{over_units: 2, hours: 3}",
            "<string>:7: pools.0.approval.hours: Extra inputs are not permitted",
        ),
    ],
)
def test_rule_errors_name_line_and_field(approval: str, expected: str) -> None:
    with pytest.raises(FileError) as err:
        load_pool_text(FILE.replace("APPROVAL", approval))
    assert str(err.value) == expected


def test_the_budgets_409_says_which_budget_and_that_one_may_ask() -> None:
    from berth.api.problems import _store_error

    over = OverBudget(
        team="ml",
        pool="c845a",
        gpu_kind="gpu",
        budget="week",
        limit=40,
        used=38,
        asked=8,
        period_start=datetime(2030, 1, 7, tzinfo=UTC),
    )
    answer = _store_error(None, over)  # type: ignore[arg-type]
    assert answer.status_code == 409
    got = json.loads(bytes(answer.body))
    assert got["ask"] is True
    assert got["detail"] == over.detail
    assert got["budget"] == {
        "team": "ml",
        "pool": "c845a",
        "gpu_kind": "gpu",
        "budget": "week",
        "limit": 40,
        "used": 38,
        "asked": 8,
        "left": 2,
        "period_start": "2030-01-07T00:00:00+00:00",
    }
