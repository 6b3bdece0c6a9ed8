"""Request validation, defaults and the status state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from berth.config import load_pool_file
from berth.domain.policy import BookingPolicy
from berth.domain.reservation import (
    Mode,
    Request,
    RequestError,
    Status,
    TransitionError,
    can_transition,
    transition,
    validate_request,
)

NOW = datetime(2030, 1, 7, 9, 7, 30, tzinfo=UTC)  # deliberately off the 15-minute grid
POOL = load_pool_file()[0]
POLICY = BookingPolicy()


def req(
    start: datetime, end: datetime, kind: str = "mig-1g.24gb", count: int = 1, **kw: int
) -> Request:
    return Request("c845a", start, end, kind, count, Mode.INTERACTIVE, **kw)  # type: ignore[arg-type]


def at(h: int, m: int = 0) -> datetime:
    return datetime(2030, 1, 7, h, m, tzinfo=UTC)


def test_from_now_until_a_grid_time_is_accepted_and_starts_exactly_now() -> None:
    accepted = validate_request(req(NOW, at(17)), POOL, POLICY, NOW)
    assert accepted.start == NOW
    assert accepted.end == at(17)


def test_a_start_a_few_seconds_ago_means_now() -> None:
    accepted = validate_request(req(NOW - timedelta(seconds=20), at(17)), POOL, POLICY, NOW)
    assert accepted.start == NOW


@pytest.mark.parametrize(
    ("start", "end", "field", "words"),
    [
        (at(8), at(10), "start", "in the past"),
        (at(10, 5), at(11), "start", "15-minute grid"),
        (at(10), at(11, 5), "end", "15-minute grid"),
        (at(11), at(10), "end", "after start"),
        (at(10), at(10) + timedelta(days=8), "end", "at most 168 hours"),
        (at(10) + timedelta(days=91), at(11) + timedelta(days=91), "start", "horizon"),
    ],
)
def test_window_rules(start: datetime, end: datetime, field: str, words: str) -> None:
    with pytest.raises(RequestError) as err:
        validate_request(req(start, end), POOL, POLICY, NOW)
    assert err.value.field == field
    assert words in err.value.message


def test_naive_times_are_refused() -> None:
    with pytest.raises(RequestError, match="timezone"):
        validate_request(req(at(10).replace(tzinfo=None), at(11)), POOL, POLICY, NOW)


def test_unknown_kind_lists_the_pool_kinds() -> None:
    with pytest.raises(RequestError) as err:
        validate_request(req(at(10), at(11), kind="mig-3g.48gb"), POOL, POLICY, NOW)
    assert err.value.field == "gpu.kind"
    assert "gpu, mig-1g.24gb" in err.value.message


def test_more_units_than_the_pool_has_is_refused_up_front() -> None:
    with pytest.raises(RequestError, match="only 4 units"):
        validate_request(req(at(10), at(11), count=5), POOL, POLICY, NOW)


def test_defaults_are_per_unit_of_the_booked_kind() -> None:
    accepted = validate_request(req(at(10), at(11), count=2), POOL, POLICY, NOW)
    assert accepted.cpu_millicores == 2 * 16_000
    assert accepted.memory_bytes == 2 * 96 * 2**30
    explicit = validate_request(
        req(at(10), at(11), cpu_millicores=500, memory_bytes=2**30), POOL, POLICY, NOW
    )
    assert (explicit.cpu_millicores, explicit.memory_bytes) == (500, 2**30)


def test_cpu_beyond_the_pool_is_refused() -> None:
    with pytest.raises(RequestError, match="only 127 CPUs"):
        validate_request(req(at(10), at(11), cpu_millicores=128_000), POOL, POLICY, NOW)


def test_transitions_follow_the_design() -> None:
    allowed = {
        (Status.PENDING, Status.APPROVED),  # a lead or an admin approved (or an offer taken)
        (Status.PENDING, Status.REJECTED),
        (Status.PENDING, Status.EXPIRED),
        (Status.PENDING, Status.CANCELED),
        (Status.APPROVED, Status.ACTIVE),
        (Status.APPROVED, Status.CANCELED),
        (Status.APPROVED, Status.FAILED),
        (Status.ACTIVE, Status.COMPLETED),
        (Status.ACTIVE, Status.CANCELED),
        (Status.ACTIVE, Status.FAILED),
    }
    for a in Status:
        for b in Status:
            assert can_transition(a, b) == ((a, b) in allowed), (a, b)
    assert transition(Status.APPROVED, Status.ACTIVE) is Status.ACTIVE
    with pytest.raises(TransitionError, match="a CANCELED reservation cannot become ACTIVE"):
        transition(Status.CANCELED, Status.ACTIVE)
