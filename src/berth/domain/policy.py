"""Booking rules: grid, shortest and longest booking, how far ahead, how many at once per user.

The numbers come from settings; the checks that need the database's view (how many live
bookings a user already holds) take that view as a parameter so they stay pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class BookingPolicy:
    grid: timedelta = timedelta(minutes=15)
    min_length: timedelta = timedelta(minutes=15)
    max_length: timedelta = timedelta(days=7)
    horizon: timedelta = timedelta(days=90)
    max_concurrent_per_user: int = 4
    clock_skew: timedelta = timedelta(minutes=2)  # a start this close to now means "now"
    # how long an approval request holds its capacity, and at least (domain/approval.py)
    approval_hold: timedelta = timedelta(hours=48)
    approval_min_hold: timedelta = timedelta(hours=1)


class PolicyError(ValueError):
    """A rule about the user's standing rather than the request's shape (HTTP 409/422)."""


def check_concurrency(policy: BookingPolicy, overlapping_of_user: int, *, is_admin: bool) -> None:
    """Refuse a booking that would give a user more than the allowed overlapping reservations."""
    if is_admin:
        return
    if overlapping_of_user >= policy.max_concurrent_per_user:
        raise PolicyError(
            f"you already hold {overlapping_of_user} reservations overlapping this window; "
            f"the limit is {policy.max_concurrent_per_user}"
        )
