"""Team budgets, the pure rules (docs/teams.md).

A budget caps what one team holds in one pool of one GPU kind:

- `max_units`: GPU units of the kind held at once (a MIG kind counts its slices, as booked);
- `gpu_hours_week`, `gpu_hours_month`: GPU-hours per UTC calendar week (from Monday 00:00)
  and month, where a MIG slice counts as its fraction of a GPU (a 1g.10gb of seven is 1/7).

What counts: the team's reservations of the pool and kind that hold capacity (PENDING,
APPROVED, ACTIVE) or held it (COMPLETED, with its end where it really ended), each clipped to
the period. A booking spanning two weeks or months is checked in each. The store reads these
under the pool's booking lock, so two bookings of one team cannot both take the last hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from berth.domain import capacity

EPSILON = 1e-9  # GPU-hours: float sums of exact quarter hours must not refuse an exact fit


@dataclass(frozen=True)
class Budget:
    gpu_kind: str
    max_units: int | None = None
    gpu_hours_week: float | None = None
    gpu_hours_month: float | None = None


@dataclass(frozen=True)
class Held:
    """One of the team's reservations of the budget's pool and kind."""

    start: datetime
    end: datetime
    count: int


@dataclass(frozen=True)
class Exceeded:
    """The first budget a booking would break: `budget` is "units", "week" or "month"."""

    budget: str
    limit: float
    used: float
    asked: float
    period_start: datetime | None = None


def week_start(t: datetime) -> datetime:
    day = t.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def month_start(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def periods(kind: str, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The UTC calendar weeks or months [from, to) that [start, end) touches, in order."""
    p = week_start(start) if kind == "week" else month_start(start)
    while p < end:
        q = p + timedelta(days=7) if kind == "week" else next_month(p)
        yield p, q
        p = q


def span(budget: Budget, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The window the store must read the team's reservations over to check `budget` for a
    booking of [start, end): the window itself, widened to the periods it touches."""
    lo, hi = start, end
    if budget.gpu_hours_week is not None:
        lo, hi = min(lo, week_start(start)), max(hi, list(periods("week", start, end))[-1][1])
    if budget.gpu_hours_month is not None:
        lo, hi = min(lo, month_start(start)), max(hi, list(periods("month", start, end))[-1][1])
    return lo, hi


def hours_in(start: datetime, end: datetime, p_start: datetime, p_end: datetime) -> float:
    overlap = min(end, p_end) - max(start, p_start)
    return max(0.0, overlap.total_seconds() / 3600)


def gpu_hours(held: Iterable[Held], fraction: float, p_start: datetime, p_end: datetime) -> float:
    return sum(h.count * fraction * hours_in(h.start, h.end, p_start, p_end) for h in held)


def check(
    budget: Budget,
    fraction: float,
    holding: Iterable[Held],
    held: Iterable[Held],
    new: Held,
) -> Exceeded | None:
    """The first budget `new` would break, else None. `holding`: the team's reservations that
    hold capacity (for `max_units`); `held`: those and the completed ones (for GPU-hours)."""
    if budget.max_units is not None:
        kind = budget.gpu_kind
        existing = [capacity.Booking(h.start, h.end, {kind: h.count}) for h in holding]
        asked = capacity.Booking(new.start, new.end, {kind: new.count})
        short = capacity.fits({kind: budget.max_units}, existing, asked)
        if short is not None:
            return Exceeded(
                "units", budget.max_units, budget.max_units - short.free, new.count, short.start
            )
    held = list(held)
    for name, limit in (("week", budget.gpu_hours_week), ("month", budget.gpu_hours_month)):
        if limit is None:
            continue
        for p_start, p_end in periods(name, new.start, new.end):
            hours = gpu_hours(held, fraction, p_start, p_end)
            more = gpu_hours([new], fraction, p_start, p_end)
            if hours + more > limit + EPSILON:
                return Exceeded(name, limit, round(hours, 4), round(more, 4), p_start)
    return None


def remaining(
    budget: Budget, fraction: float, held: Iterable[Held], now: datetime
) -> dict[str, float | None]:
    """GPU-hours used and left in the week and the month that hold `now` (for team pages)."""
    held = list(held)
    out: dict[str, float | None] = {}
    for name, limit in (("week", budget.gpu_hours_week), ("month", budget.gpu_hours_month)):
        p_start, p_end = next(periods(name, now, now + timedelta(microseconds=1)))
        used = gpu_hours(held, fraction, p_start, p_end)
        out[f"{name}_used"] = round(used, 2)
        out[f"{name}_left"] = None if limit is None else round(max(0.0, limit - used), 2)
    return out
