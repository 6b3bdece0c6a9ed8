"""The fair waitlist's rules (docs/teams.md, "Fair waitlist"): entry states, who is offered
freed capacity first, and how long an offer is held.

When capacity frees, the waiting requests of a pool are offered in order of the DECAYED RECENT
USAGE of their group, lowest first, ties by arrival (created_at, then id). A group is the
entry's team; a request without a team is its user's own group. A group's usage is

    usage = Σ units × hours × 0.5 ^ (age / half-life)

over the group's reservations that held GPUs (APPROVED, ACTIVE, COMPLETED): `units` is the GPU
count × the kind's fraction of a GPU (a MIG slice counts as its fraction), `hours` the
window's length, `age` the time since the window's end (0 while it has not ended). Pure: the
store reads the rows, this orders them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

HOUR = 3600.0
# Older reservations than this many half-lives weigh less than 2^-30: the store skips them.
HORIZON_HALF_LIVES = 30


class WaitlistState(StrEnum):
    WAITING = "WAITING"  # waiting for capacity
    OFFERED = "OFFERED"  # an offer (a PENDING reservation, hold_kind "offer") waits for its user
    ACCEPTED = "ACCEPTED"  # the offer became an APPROVED reservation
    DECLINED = "DECLINED"  # the user said no (or canceled the offered reservation)
    LAPSED = "LAPSED"  # nobody answered the offer in time
    WITHDRAWN = "WITHDRAWN"  # the user left the waitlist
    GONE = "GONE"  # the window's start passed (or the request cannot be booked any more)


OPEN = frozenset({WaitlistState.WAITING, WaitlistState.OFFERED})

_ALLOWED: dict[WaitlistState, frozenset[WaitlistState]] = {
    WaitlistState.WAITING: frozenset(
        {WaitlistState.OFFERED, WaitlistState.WITHDRAWN, WaitlistState.GONE}
    ),
    WaitlistState.OFFERED: frozenset(
        {
            WaitlistState.ACCEPTED,
            WaitlistState.DECLINED,
            WaitlistState.LAPSED,
            WaitlistState.WITHDRAWN,
        }
    ),
    WaitlistState.ACCEPTED: frozenset(),
    WaitlistState.DECLINED: frozenset(),
    WaitlistState.LAPSED: frozenset(),
    WaitlistState.WITHDRAWN: frozenset(),
    WaitlistState.GONE: frozenset(),
}


class StateError(ValueError):
    def __init__(self, current: WaitlistState, target: WaitlistState) -> None:
        self.current, self.target = current, target
        super().__init__(f"a {current} waitlist entry cannot become {target}")


def transition(current: WaitlistState, target: WaitlistState) -> WaitlistState:
    """Return `target` if the move is allowed, else raise StateError."""
    if target not in _ALLOWED[current]:
        raise StateError(current, target)
    return target


# A group: ("team", team id), or ("user", user id) for a request without a team.
Group = tuple[str, int]


def group_of(user_id: int, team_id: int | None) -> Group:
    return ("team", team_id) if team_id is not None else ("user", user_id)


@dataclass(frozen=True)
class Held:
    """A reservation that held GPUs, as the usage counts it."""

    group: Group
    units: float  # GPU count × the kind's fraction of a GPU
    start: datetime
    end: datetime


def weight(end: datetime, now: datetime, half_life: timedelta) -> float:
    """0.5 ^ (age / half-life), the age counted from `end` (0 when it ends at or after now)."""
    if half_life <= timedelta(0):
        raise ValueError("the half-life must be positive")
    age = max(timedelta(0), now - end)
    return float(0.5 ** (age / half_life))


def decayed_usage(held: Iterable[Held], now: datetime, half_life: timedelta) -> dict[Group, float]:
    """Σ units × hours × weight, per group (groups without any are absent: usage 0)."""
    usage: dict[Group, float] = {}
    for h in held:
        hours = max(0.0, (h.end - h.start).total_seconds() / HOUR)
        usage[h.group] = usage.get(h.group, 0.0) + h.units * hours * weight(h.end, now, half_life)
    return usage


@dataclass(frozen=True)
class Waiting:
    """A WAITING entry, as the order needs it."""

    id: int
    group: Group
    created_at: datetime


def order(waiting: Sequence[Waiting], usage: dict[Group, float]) -> list[Waiting]:
    """Lowest decayed usage of the group first; ties by arrival (created_at, then id)."""
    return sorted(waiting, key=lambda w: (usage.get(w.group, 0.0), w.created_at, w.id))


def offer_until(now: datetime, hold: timedelta, start: datetime) -> datetime:
    """When an offer made now lapses: `hold` from now, but never after the window opens."""
    return min(now + hold, start)
