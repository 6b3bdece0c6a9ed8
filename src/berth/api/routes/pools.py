"""Pools and their free capacity over time."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response

from berth.api import problems, schemas, views
from berth.api.deps import DB, Reads, User
from berth.domain.capacity import Step
from berth.domain.pool import Pool
from berth.store import pools
from berth.store.errors import Invalid

router = APIRouter(prefix="/pools", tags=["pools"])

MAX_WINDOW = timedelta(days=92)


@router.get("", operation_id="listPools")
def list_(_: User, db: DB) -> list[schemas.PoolPublic]:
    with db.transaction() as tx:
        return [views.pool(p) for p in pools.list_all(tx)]


@router.get(
    "/{pool}/availability",
    operation_id="getAvailability",
    responses=problems.responses(404),
    response_model=schemas.Availability,
)
def availability(
    pool: str, _: User, db: DB, cache: Reads, start: schemas.Instant, end: schemas.Instant
) -> Response:
    """Free capacity as steps: constant over each [start, end), covering the window exactly."""
    if end <= start:
        raise Invalid("end", "end: must be after start")
    if end - start > MAX_WINDOW:
        raise Invalid("end", f"end: the window spans at most {MAX_WINDOW.days} days")

    def write(p: Pool, steps: list[Step]) -> bytes:
        # A busy fortnight is a thousand steps or more: written as plain data in the model's
        # shape (views.json_bytes), not built as models and validated again.
        return views.json_bytes(
            {
                "pool": p.name,
                "start": start,
                "end": end,
                "capacity": views.amounts(p.capacity()),
                "steps": [
                    {"start": s.start, "end": s.end, "free": views.amounts(s.amounts)}
                    for s in steps
                ],
            }
        )

    with db.transaction() as tx:  # kept by each process, checked first (store/read_cache.py)
        body = cache.availability(tx, pool, start, end, write)
    return Response(body, media_type="application/json")
