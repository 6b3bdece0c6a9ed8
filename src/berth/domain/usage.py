"""The cost ledger: reserved against used GPU-hours, idle share and dollars, per group.

A reservation holds GPUs for its window whether anyone uses them or not; the activity series
(`session_activity`, one sample per session per interval) says how busy they were. This module
turns both, for one period, into ledger lines (one per reservation per day) and sums them by
any grouping. It is plain arithmetic: the store feeds it (`store.usage`), the API, the CLI and
the UI show it, and the formulas below are the ones docs/usage.md states.

Units: a GPU unit is a physical GPU; a MIG slice counts as its fraction (a 1g.24gb of four is
0.25), so `units = gpu_count × fraction`.

    reserved GPU-hours  R = units × hours of the window inside the period and the day
    measured GPU-hours  M = units × hours of samples with a measured activity (gpu_active not
                            NULL), clipped to the same window, period and day
    used GPU-hours      U = units × Σ gpu_active × seconds / 3600 over those samples
    idle share            = (M − U) / M        over measured time only; none when M = 0
    measured share        = M / R
    dollars               = R × held rate + U × load rate        (rates of the pool and kind)
    $/Mtok                = dollars / (prompt + generated tokens) × 10^6, when tokens exist

A sample covers [at − seconds, at) (the collector's Prometheus range ends at `at`); a sample
that straddles a day, the window's edge or the period's edge is split in proportion to its
overlap (activity and tokens alike), so days and periods add up exactly. Overlapping samples
cannot make a day measure more than it reserved: the measured seconds are capped at the
window's seconds in that day, activity and tokens scaled with them.

Days are calendar days in the period's time zone (UTC unless one is given): a day starts at
local midnight, so a day across a daylight-saving change is 23 or 25 hours long.

Grouping keys are the `DIMENSIONS` below (user, team, pool, GPU kind, day); a reservation of no
team groups under "(no team)".
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

K = TypeVar("K")

MILLION = 1_000_000.0
HOUR = 3600.0


@dataclass(frozen=True)
class Rate:
    """Dollars per GPU-hour: `held` for every reserved GPU-hour, `load` on top for every used
    GPU-hour (the energy full load adds); `source` names where the figures came from."""

    held: float
    load: float
    source: str


@dataclass(frozen=True)
class CostTable:
    """The rate of each pool and GPU kind: `pool/kind`, else `pool`, else the default."""

    default: Rate
    overrides: Mapping[str, Rate] = field(default_factory=dict)

    def rate(self, pool: str, kind: str) -> Rate:
        return self.overrides.get(f"{pool}/{kind}") or self.overrides.get(pool) or self.default


@dataclass(frozen=True)
class Period:
    """[start, end) reported in calendar days of `zone`."""

    start: datetime
    end: datetime
    zone: tzinfo

    def __post_init__(self) -> None:
        for t in (self.start, self.end):
            if t.tzinfo is None or t.utcoffset() is None:
                raise ValueError("a period's bounds must be timezone-aware")
        if self.end < self.start:
            raise ValueError("a period must not end before it starts")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))

    def days(self) -> list[tuple[date, datetime, datetime]]:
        """Each local day the period touches, with the part of the period inside it."""
        out: list[tuple[date, datetime, datetime]] = []
        if self.end == self.start:
            return out
        day = self.start.astimezone(self.zone).date()
        while True:
            lo = max(self.start, midnight(day, self.zone))
            nxt = day + timedelta(days=1)
            hi = min(self.end, midnight(nxt, self.zone))
            if hi > lo:
                out.append((day, lo, hi))
            if hi >= self.end:
                return out
            day = nxt


def midnight(day: date, zone: tzinfo) -> datetime:
    """The instant a local day starts in `zone`, in UTC (Python compares and subtracts two
    datetimes of one zone by their wall clocks, so every instant here is kept in UTC)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def zone_named(name: str) -> tzinfo:
    """An IANA time zone (`UTC`, `Europe/Berlin`); ValueError naming it when unknown. The
    machine's `localtime` is refused: it names a different zone on each server."""
    if name == "localtime" or name not in _zones():
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)"
        ) from exc


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


@dataclass(frozen=True)
class Held:
    """A reservation that held GPUs (APPROVED, ACTIVE or COMPLETED; a released one with its
    end moved to the release). `units` = GPU count × the kind's fraction of a GPU."""

    id: str
    user: str
    pool: str
    gpu_kind: str
    gpu_count: int
    units: float
    start: datetime
    end: datetime
    status: str
    reason: str | None = None
    team: str | None = None  # the team it was booked for (docs/teams.md)


NO_TEAM = "(no team)"


@dataclass(frozen=True)
class Sample:
    """One row of the activity series: [at − seconds, at) of a reservation's session."""

    reservation_id: str
    at: datetime
    seconds: int
    gpu_active: float | None
    tokens_prompt: int | None = None
    tokens_generated: int | None = None


@dataclass(frozen=True)
class Measured:
    """The samples of one reservation in one day, clipped to its window and the period:
    seconds with a measured activity, Σ activity × seconds, and the tokens in them."""

    reservation_id: str
    day: date
    measured_seconds: float
    active_seconds: float
    tokens_prompt: float = 0.0
    tokens_generated: float = 0.0


@dataclass(frozen=True)
class Figures:
    """Summable ledger figures; the shares and $/Mtok derive from them."""

    reserved_gpu_hours: float = 0.0
    measured_gpu_hours: float = 0.0
    used_gpu_hours: float = 0.0
    cost: float = 0.0
    tokens_prompt: float = 0.0
    tokens_generated: float = 0.0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.reserved_gpu_hours + other.reserved_gpu_hours,
            self.measured_gpu_hours + other.measured_gpu_hours,
            self.used_gpu_hours + other.used_gpu_hours,
            self.cost + other.cost,
            self.tokens_prompt + other.tokens_prompt,
            self.tokens_generated + other.tokens_generated,
        )

    @property
    def idle_gpu_hours(self) -> float:
        """Measured but unused GPU-hours (unmeasured time is neither used nor idle)."""
        return max(0.0, self.measured_gpu_hours - self.used_gpu_hours)

    @property
    def measured_share(self) -> float | None:
        if self.reserved_gpu_hours <= 0:
            return None
        return min(1.0, self.measured_gpu_hours / self.reserved_gpu_hours)

    @property
    def idle_share(self) -> float | None:
        if self.measured_gpu_hours <= 0:
            return None
        return self.idle_gpu_hours / self.measured_gpu_hours

    @property
    def tokens(self) -> float:
        return self.tokens_prompt + self.tokens_generated

    @property
    def cost_per_mtok(self) -> float | None:
        return self.cost / self.tokens * MILLION if self.tokens > 0 else None


@dataclass(frozen=True)
class Line:
    """One reservation in one day of the period."""

    held: Held
    day: date
    figures: Figures


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    """Seconds [a0, a1) and [b0, b1) share, by instants (not wall clocks)."""
    lo = max(a0.astimezone(UTC), b0.astimezone(UTC))
    return max(0.0, (min(a1.astimezone(UTC), b1.astimezone(UTC)) - lo).total_seconds())


def measure(samples: Iterable[Sample], held: Iterable[Held], period: Period) -> list[Measured]:
    """The per-reservation, per-day sums of the samples (what `store.usage` computes in SQL;
    this is its reference). Samples of reservations not in `held` are ignored."""
    windows = {h.id: (max(h.start, period.start), min(h.end, period.end)) for h in held}
    days = period.days()
    starts = [d0 for _, d0, _ in days]
    sums: dict[tuple[str, date], list[float]] = {}
    for s in samples:
        window = windows.get(s.reservation_id)
        if window is None:
            continue
        s0, s1 = s.at - timedelta(seconds=s.seconds), s.at
        lo, hi = max(s0, window[0]), min(s1, window[1])
        if hi <= lo:
            continue
        for day, d0, d1 in _days_of(days, starts, lo, hi):
            part = _overlap(lo, hi, d0, d1)
            if part <= 0:
                continue
            share = part / s.seconds
            acc = sums.setdefault((s.reservation_id, day), [0.0, 0.0, 0.0, 0.0])
            if s.gpu_active is not None:
                acc[0] += part
                acc[1] += part * s.gpu_active
            acc[2] += share * (s.tokens_prompt or 0)
            acc[3] += share * (s.tokens_generated or 0)
    return [Measured(rid, day, *acc) for (rid, day), acc in sums.items()]


def _days_of(
    days: Sequence[tuple[date, datetime, datetime]],
    starts: Sequence[datetime],
    lo: datetime,
    hi: datetime,
) -> Sequence[tuple[date, datetime, datetime]]:
    """The days of `days` (in order, `starts` their starts) that [lo, hi) may overlap."""
    first = max(0, bisect_right(starts, lo.astimezone(UTC)) - 1)
    last = bisect_left(starts, hi.astimezone(UTC))
    return days[first:last]


def lines(
    held: Iterable[Held], measured: Iterable[Measured], costs: CostTable, period: Period
) -> list[Line]:
    """One line per reservation per day it held GPUs in the period."""
    by_key = {(m.reservation_id, m.day): m for m in measured}
    out: list[Line] = []
    days = period.days()
    starts = [d0 for _, d0, _ in days]
    for h in held:
        rate = costs.rate(h.pool, h.gpu_kind)
        for day, d0, d1 in _days_of(days, starts, h.start, h.end):
            seconds = _overlap(h.start, h.end, d0, d1)
            if seconds <= 0:
                continue
            m = by_key.get((h.id, day))
            measured_s = active_s = prompt = generated = 0.0
            if m is not None:
                # overlapping samples cannot measure more than the window: scale them down
                scale = min(1.0, seconds / m.measured_seconds) if m.measured_seconds > 0 else 1.0
                measured_s = m.measured_seconds * scale
                active_s = min(m.active_seconds * scale, measured_s)
                prompt, generated = m.tokens_prompt * scale, m.tokens_generated * scale
            reserved = h.units * seconds / HOUR
            used = h.units * active_s / HOUR
            out.append(
                Line(
                    h,
                    day,
                    Figures(
                        reserved_gpu_hours=reserved,
                        measured_gpu_hours=h.units * measured_s / HOUR,
                        used_gpu_hours=used,
                        cost=reserved * rate.held + used * rate.load,
                        tokens_prompt=prompt,
                        tokens_generated=generated,
                    ),
                )
            )
    return out


# The grouping dimensions, in the order a row's key lists them. Issue 17 (teams) adds
# "team": lambda line: line.held.team.
DIMENSIONS: dict[str, Callable[[Line], str]] = {
    "user": lambda line: line.held.user,
    "team": lambda line: line.held.team or NO_TEAM,
    "pool": lambda line: line.held.pool,
    "gpu_kind": lambda line: line.held.gpu_kind,
    "day": lambda line: line.day.isoformat(),
}


def check_group_by(names: Sequence[str]) -> tuple[str, ...]:
    """The dimensions asked for, in DIMENSIONS order; ValueError naming an unknown one."""
    unknown = [n for n in names if n not in DIMENSIONS]
    if unknown:
        raise ValueError(
            f"unknown grouping {', '.join(map(repr, unknown))}; "
            f"group by any of: {', '.join(DIMENSIONS)}"
        )
    return tuple(d for d in DIMENSIONS if d in names)


@dataclass(frozen=True)
class Row:
    key: dict[str, str]
    figures: Figures


def _sum_by(ledger: Iterable[Line], key: Callable[[Line], K]) -> dict[K, Figures]:
    """The lines' figures summed per key (plain floats while summing: a year of lines is
    100,000 additions, and a Figures per addition was most of a report's time)."""
    sums: dict[K, list[float]] = {}
    for line in ledger:
        f = line.figures
        acc = sums.get(key(line))
        if acc is None:
            acc = sums[key(line)] = [0.0] * 6
        acc[0] += f.reserved_gpu_hours
        acc[1] += f.measured_gpu_hours
        acc[2] += f.used_gpu_hours
        acc[3] += f.cost
        acc[4] += f.tokens_prompt
        acc[5] += f.tokens_generated
    return {k: Figures(*acc) for k, acc in sums.items()}


def group(ledger: Iterable[Line], by: Sequence[str]) -> list[Row]:
    """Sum the lines by the dimensions `by` (checked), rows in key order."""
    dims = check_group_by(by)
    keys = [DIMENSIONS[d] for d in dims]
    sums = _sum_by(ledger, lambda line: tuple(k(line) for k in keys))
    return [Row(dict(zip(dims, k, strict=True)), f) for k, f in sorted(sums.items())]


def total(ledger: Iterable[Line]) -> Figures:
    return _sum_by(ledger, lambda _: None).get(None, Figures())


@dataclass(frozen=True)
class SessionUsage:
    """One reservation's figures over the whole period."""

    held: Held
    figures: Figures


def sessions(ledger: Sequence[Line]) -> list[SessionUsage]:
    """Per reservation, most idle GPU-hours first (then most reserved, then id)."""
    held: dict[str, Held] = {}
    for line in ledger:
        held[line.held.id] = line.held
    sums = _sum_by(ledger, lambda line: line.held.id)
    out = [SessionUsage(held[i], f) for i, f in sums.items()]
    out.sort(key=lambda s: (-s.figures.idle_gpu_hours, -s.figures.reserved_gpu_hours, s.held.id))
    return out


MAX_DAYS = 366  # the longest period one report covers
DEFAULT_GROUP_BY = ("user", "pool", "gpu_kind", "day")  # `team` on request


class UsageError(ValueError):
    """A report request that cannot be answered; `field` names the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def parse_group_by(text: str) -> tuple[str, ...]:
    """`user,day` -> ('user', 'day'); empty: every dimension; UsageError on an unknown one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    try:
        return check_group_by(names) if names else DEFAULT_GROUP_BY
    except ValueError as exc:
        raise UsageError("group_by", str(exc)) from exc


def period_for(start: datetime, end: datetime, now: datetime, zone_name: str) -> Period:
    """The period a report of [start, end) covers: up to `now` at most (the ledger counts what
    has been held, not what is booked ahead); UsageError naming a bad bound or zone."""
    if end <= start:
        raise UsageError("to", "must be after from")
    if end - start > timedelta(days=MAX_DAYS):
        raise UsageError("to", f"a report spans at most {MAX_DAYS} days")
    try:
        zone = zone_named(zone_name)
    except ValueError as exc:
        raise UsageError("tz", str(exc)) from exc
    return Period(start, max(start, min(end, now)), zone)


@dataclass(frozen=True)
class Report:
    rows: list[Row]
    total: Figures
    sessions: list[SessionUsage]  # the `top` most idle
    session_count: int


def report(ledger: Sequence[Line], by: Sequence[str], top: int) -> Report:
    """Rows grouped `by`, the total, and the `top` sessions with the most idle GPU-hours."""
    every = sessions(ledger)
    return Report(group(ledger, by), total(ledger), every[:top], len(every))
