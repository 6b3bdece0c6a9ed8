"""The store's error vocabulary; the API turns each into one HTTP status and problem+json.

StoreError
├── NotFound        the thing does not exist (or the caller may not know it does)
├── Forbidden       it exists, the caller may see it, but may not do this
├── Conflict        the request is valid but the current state refuses it
│   └── Refused     a booking that does not fit: which resource, when, free vs asked
└── Invalid         the request itself breaks a rule (field named)
"""

from __future__ import annotations

from datetime import datetime

from berth.domain.capacity import Shortage


class StoreError(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class NotFound(StoreError):
    pass


class Forbidden(StoreError):
    pass


class Conflict(StoreError):
    pass


class Invalid(StoreError):
    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        super().__init__(detail)


class Refused(Conflict):
    def __init__(
        self,
        detail: str,
        shortage: Shortage,
        suggestion: datetime | None,
        duration_s: float,
        *,
        waitlist: bool = False,
    ) -> None:
        self.shortage = shortage
        self.suggestion = suggestion
        self.duration_s = duration_s
        self.waitlist = waitlist  # a new booking: the same request may join the waitlist
        super().__init__(detail)


class OverBudget(Conflict):
    """A booking that fits the pool but not its team's budget (docs/teams.md): which budget
    (`units`: concurrent units; `week`, `month`: GPU-hours in the UTC calendar period from
    `period_start`), its limit, what the team already holds or used there, what was asked and
    what is left. A booking with `ask` set becomes a PENDING approval request instead."""

    def __init__(
        self,
        *,
        team: str,
        pool: str,
        gpu_kind: str,
        budget: str,
        limit: float,
        used: float,
        asked: float,
        period_start: datetime | None = None,
    ) -> None:
        self.team, self.pool, self.gpu_kind, self.budget = team, pool, gpu_kind, budget
        self.limit, self.used, self.asked = limit, used, asked
        self.left = max(0.0, limit - used)
        self.period_start = period_start
        if budget == "units":
            what = f"{limit:g} x {gpu_kind} at once"
            detail = f"{self.left:g} free of it, {asked:g} asked"
        else:
            period = "week" if budget == "week" else "month"
            what = f"{limit:g} {gpu_kind} GPU-hours a {period}"
            since = f" (the {period} from {period_start:%Y-%m-%d})" if period_start else ""
            detail = f"{self.left:g} GPU-hours left{since}, {asked:g} asked"
        super().__init__(
            f"over the budget of team {team!r} in pool {pool!r}: {what}; {detail}. "
            "Book less, later, or ask for approval"
        )
