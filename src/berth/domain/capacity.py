"""Capacity over time: the true peak usage of a window, fits(), availability, the next slot.

A plain sum of every booking that overlaps a window overstates its use: two bookings can each
overlap the window and never overlap each other. The sweep here walks the start and end events
inside the window in time order, so the usage it reports is the usage at each instant and the
peak is the real peak. Intervals are half-open, [start, end): a booking that ends at 10:00 and
one that starts at 10:00 never share an instant.

Resources are plain names with integer amounts: GPU kinds in physical units, `cpu` in
millicores, `memory` in bytes. Capacity of a resource the pool does not have is zero.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from operator import attrgetter


@dataclass(frozen=True)
class Booking:
    """Something holding resources over [start, end)."""

    start: datetime
    end: datetime
    demand: Mapping[str, int]


@dataclass(frozen=True)
class Step:
    """Usage (or free capacity) constant over [start, end)."""

    start: datetime
    end: datetime
    amounts: Mapping[str, int]


@dataclass(frozen=True)
class Shortage:
    """Why a request does not fit: the first instant a resource runs short, and by how much."""

    resource: str
    start: datetime  # first instant of the shortage
    end: datetime  # the shortage lasts at least until here
    free: int  # free at `start`
    asked: int


def usage_steps(bookings: Iterable[Booking], start: datetime, end: datetime) -> list[Step]:
    """Usage of every resource as piecewise-constant steps covering [start, end) exactly."""
    if end <= start:
        return []
    deltas: dict[datetime, dict[str, int]] = {}
    for b in bookings:  # plain dicts and comparisons: this loop runs for every overlap
        s = b.start if b.start > start else start
        e = b.end if b.end < end else end
        if s >= e:
            continue
        up = deltas.get(s)
        if up is None:
            up = deltas[s] = {}
        down = deltas.get(e)
        if down is None:
            down = deltas[e] = {}
        for resource, amount in b.demand.items():
            if amount:
                up[resource] = up.get(resource, 0) + amount
                down[resource] = down.get(resource, 0) - amount
    return _steps(deltas, start, end)


def changes_of(bookings: Iterable[Booking]) -> dict[datetime, Counter[str]]:
    """How usage changes at each instant: +demand at a booking's start, -demand at its end.
    A database can sum these per instant (see `usage_steps_of_changes`)."""
    deltas: dict[datetime, Counter[str]] = defaultdict(Counter)
    for b in bookings:
        for resource, amount in b.demand.items():
            if amount and b.start < b.end:
                deltas[b.start][resource] += amount
                deltas[b.end][resource] -= amount
    return deltas


def usage_steps_of_changes(
    changes: Mapping[datetime, Mapping[str, int]], start: datetime, end: datetime
) -> list[Step]:
    """`usage_steps` from net changes of usage per instant instead of bookings: usage at t is
    the sum of every change at or before t. Changes before `start` count from `start`; those
    at or after `end` do not count. The same steps as `usage_steps` of the bookings whose
    `changes_of` they are (summed per instant, in any grouping)."""
    if end <= start:
        return []
    deltas: dict[datetime, Mapping[str, int]] = {}
    before: Counter[str] = Counter()
    for at, change in changes.items():
        if at <= start:
            before.update(change)
        elif at < end:
            deltas[at] = change
    deltas[start] = before
    return _steps(deltas, start, end)


def _steps(
    deltas: Mapping[datetime, Mapping[str, int]], start: datetime, end: datetime
) -> list[Step]:
    """Steps covering [start, end) from usage changes at instants within [start, end]."""
    times = sorted({start, end, *(t for t in deltas if t < end)})
    usage: dict[str, int] = {}  # the resources in use, never a zero (so equal means equal)
    steps: list[Step] = []
    previous: dict[str, int] | None = None
    for t0, t1 in pairwise(times):
        for resource, amount in deltas.get(t0, {}).items():
            total = usage.get(resource, 0) + amount
            if total:
                usage[resource] = total
            else:
                usage.pop(resource, None)
        if usage == previous:
            steps[-1] = Step(steps[-1].start, t1, previous)
        else:
            previous = dict(usage)
            steps.append(Step(t0, t1, previous))
    return steps


def peak_usage(
    bookings: Iterable[Booking], start: datetime, end: datetime
) -> dict[str, tuple[int, datetime]]:
    """The highest usage of each resource in [start, end) and the first instant it is reached."""
    peaks: dict[str, tuple[int, datetime]] = {}
    for step in usage_steps(bookings, start, end):
        for resource, amount in step.amounts.items():
            if resource not in peaks or amount > peaks[resource][0]:
                peaks[resource] = (amount, step.start)
    return peaks


def fits(
    capacity: Mapping[str, int], existing: Iterable[Booking], request: Booking
) -> Shortage | None:
    """None if `request` fits beside `existing` at every instant; else the earliest shortage.

    Of several resources short at the same first instant, the one short by most is named.
    """
    asked_names = {r for r, q in request.demand.items() if q > 0}
    # a booking of none of them cannot make the request short
    relevant = [b for b in existing if not asked_names.isdisjoint(b.demand)]
    return fits_usage(capacity, usage_steps(relevant, request.start, request.end), request)


def fits_usage(
    capacity: Mapping[str, int], usage: Sequence[Step], request: Booking
) -> Shortage | None:
    """`fits` from the usage over the request's window instead of the bookings: steps covering
    [request.start, request.end), such as `usage_steps_of_changes` makes of what a database
    summed per instant. Steps split by changes of resources the request does not ask for give
    the same answer: only the asked ones are compared, and a shortage runs over steps."""
    asked = {r: q for r, q in request.demand.items() if q > 0}
    for i, step in enumerate(usage):
        short = [
            (asked[r] - (capacity.get(r, 0) - step.amounts.get(r, 0)), r)
            for r in sorted(asked)
            if step.amounts.get(r, 0) + asked[r] > capacity.get(r, 0)
        ]
        if not short:
            continue
        _, resource = max(short)
        free = capacity.get(resource, 0) - step.amounts.get(resource, 0)
        until = step.end
        for later in usage[i + 1 :]:
            if later.amounts.get(resource, 0) + asked[resource] <= capacity.get(resource, 0):
                break
            until = later.end
        return Shortage(resource, step.start, until, max(free, 0), asked[resource])
    return None


def availability(
    capacity: Mapping[str, int], bookings: Iterable[Booking], start: datetime, end: datetime
) -> list[Step]:
    """Free capacity of every resource of `capacity` as steps covering [start, end)."""
    return free_steps(capacity, usage_steps(bookings, start, end))


def free_steps(capacity: Mapping[str, int], usage: Iterable[Step]) -> list[Step]:
    """Usage steps turned into free capacity of every resource of `capacity` (equal
    neighbours merged)."""
    steps: list[Step] = []
    for step in usage:
        free = {r: cap - step.amounts.get(r, 0) for r, cap in capacity.items()}
        if steps and steps[-1].amounts == free:
            steps[-1] = Step(steps[-1].start, step.end, free)
        else:
            steps.append(Step(step.start, step.end, free))
    return steps


def clip(steps: Sequence[Step], start: datetime, end: datetime) -> list[Step]:
    """The part of contiguous `steps` within [start, end) (steps cut at its edges)."""
    first = bisect_right(steps, start, key=_END)  # the first step ending after `start`
    last = bisect_left(steps, end, key=_START)  # past the last step starting before `end`
    out = list(steps[first:last])
    if out:
        if out[0].start < start:
            out[0] = Step(start, out[0].end, out[0].amounts)
        if out[-1].end > end:
            out[-1] = Step(out[-1].start, end, out[-1].amounts)
    return out


_START = attrgetter("start")
_END = attrgetter("end")


def align_up(t: datetime, grid: timedelta) -> datetime:
    """The first grid instant at or after `t` (grid counted from the Unix epoch, UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=t.tzinfo)
    rest = (t - epoch) % grid
    return t if not rest else t + (grid - rest)


def next_fit(
    capacity: Mapping[str, int],
    existing: Sequence[Booking],
    demand: Mapping[str, int],
    duration: timedelta,
    not_before: datetime,
    latest_start: datetime,
    grid: timedelta,
) -> datetime | None:
    """The earliest start in [not_before, latest_start] where `demand` fits for `duration`.

    Usage only falls when a booking ends, so if a request does not fit at `not_before`, the
    next start worth trying is the next booking end (rounded up to the grid).
    """
    candidates = {not_before} | {
        align_up(b.end, grid) for b in existing if not_before < b.end <= latest_start
    }
    for start in sorted(candidates):
        if start > latest_start:
            break
        if fits(capacity, existing, Booking(start, start + duration, demand)) is None:
            return start
    return None
