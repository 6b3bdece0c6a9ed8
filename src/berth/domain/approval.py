"""Approvals: which bookings wait for a team lead or an admin, and for how long (docs/teams.md).

Pure. A pool file may name rules per pool with per-kind overrides:

    approval: {over_hours: 24, over_units: 4, kinds: {gpu: {over_units: 1}}}

A booking longer than `over_hours` hours or of more than `over_units` units of its kind needs
approval; so does one over its team's budget when its booker asks anyway (`ask`). Such a
booking is made PENDING (hold kind "approval"): it must fit the pool exactly like any other and
holds its capacity until `hold_until`; a lead or an admin approves it (APPROVED) or rejects it
(REJECTED); nobody answering makes it EXPIRED.

How long a request holds (`hold_until`): `hold` after the request (BERTH_APPROVAL_HOLD_HOURS),
but no later than the window's start, so an unanswered request never keeps capacity into its
own window; and at least `min_hold` after the request (BERTH_APPROVAL_MIN_HOLD_MINUTES), so a
booking starting now or soon still leaves the approvers time to answer: its window then opens
while it waits, and it starts when approved. Never past the window's end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from berth.domain.reservation import Accepted

HOLD_KIND = "approval"


@dataclass(frozen=True)
class Limits:
    """Over what a booking of one kind needs approval; None: no rule."""

    over_hours: float | None = None
    over_units: int | None = None


@dataclass(frozen=True)
class ApprovalRules:
    """A pool's rules: its limits, and per GPU kind the limits it overrides."""

    over_hours: float | None = None
    over_units: int | None = None
    kinds: Mapping[str, Limits] = field(default_factory=dict)

    def for_kind(self, kind: str) -> Limits:
        """The pool's limits with the kind's overrides (a field the kind sets) applied."""
        own = self.kinds.get(kind, Limits())
        return Limits(
            over_hours=own.over_hours if own.over_hours is not None else self.over_hours,
            over_units=own.over_units if own.over_units is not None else self.over_units,
        )


class BudgetRefusal(Protocol):
    """What `reason` needs of a team budget refusal (store.errors.OverBudget is one)."""

    @property
    def detail(self) -> str: ...


def rule_reasons(rules: ApprovalRules | None, accepted: Accepted) -> list[str]:
    """Why the pool's rules want approval for `accepted`, one sentence each; [] if they don't."""
    if rules is None:
        return []
    limits = rules.for_kind(accepted.gpu_kind)
    reasons = []
    hours = (accepted.end - accepted.start).total_seconds() / 3600
    if limits.over_hours is not None and hours > limits.over_hours:
        reasons.append(f"longer than {limits.over_hours:g} hours ({hours:g} hours)")
    if limits.over_units is not None and accepted.gpu_count > limits.over_units:
        reasons.append(
            f"more than {limits.over_units} x {accepted.gpu_kind} ({accepted.gpu_count} asked)"
        )
    return reasons


def reason(
    rules: ApprovalRules | None,
    accepted: Accepted,
    over_budget: BudgetRefusal | None,
    ask: bool,
) -> str | None:
    """Why `accepted` needs approval, or None when it does not.

    None with `over_budget` set means a refusal: over budget without `ask` is not an approval
    request (whatever the rules say) but a 409 the booker may retry with `ask`; the caller
    raises `over_budget`. `ask` without `over_budget` changes nothing: a booking within its
    budget and the rules is approved at once."""
    if over_budget is not None and not ask:
        return None
    reasons = rule_reasons(rules, accepted)
    if over_budget is not None:
        reasons.append(over_budget.detail)
    return "; ".join(reasons) or None


def hold_until(
    now: datetime, start: datetime, end: datetime, hold: timedelta, min_hold: timedelta
) -> datetime:
    """Until when an approval request made at `now` holds its capacity (see the module's
    docstring): min(now + hold, start), at least now + min_hold, never past `end`."""
    return min(end, max(now + min_hold, min(now + hold, start)))
