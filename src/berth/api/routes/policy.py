"""The booking policy a deployment runs with, so the UI snaps times to the server's grid and
states the real limits instead of assuming the defaults."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from berth.api.deps import Config, User

router = APIRouter(tags=["policy"])


class Policy(BaseModel):
    grid_minutes: int = Field(description="Starts and ends fall on this grid (minutes)")
    min_length_minutes: int = Field(description="The shortest reservation (minutes)")
    max_length_hours: float = Field(description="The longest reservation (hours)")
    horizon_days: int = Field(description="How far ahead a reservation may start (days)")
    max_concurrent_per_user: int = Field(
        description="Overlapping reservations a user may hold (admins are not limited)"
    )


@router.get("/policy", operation_id="getPolicy")
def policy(settings: Config, _: User) -> Policy:
    """The booking rules the server enforces (the BERTH_GRID_MINUTES ... settings)."""
    return Policy(
        grid_minutes=settings.grid_minutes,
        min_length_minutes=settings.min_length_minutes,
        max_length_hours=settings.max_length_hours,
        horizon_days=settings.horizon_days,
        max_concurrent_per_user=settings.max_concurrent_per_user,
    )
