"""The calendar: every booked block in a window; others' blocks show only as busy."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from berth.api import schemas
from berth.api.deps import DB, User
from berth.store import reservations
from berth.store.errors import Invalid

router = APIRouter(tags=["calendar"])

MAX_WINDOW = timedelta(days=92)


@router.get("/calendar", operation_id="getCalendar", response_model=list[schemas.CalendarEntry])
def calendar(
    who: User,
    db: DB,
    from_: Annotated[schemas.Instant, Query(alias="from")],
    to: schemas.Instant,
    pool: str | None = None,
) -> Response:
    # Every block booked in the window (live, or held and completed), ordered by start;
    # others' blocks without owner or id (admins see all). The database writes the JSON.
    if to <= from_:
        raise Invalid("to", "to: must be after from")
    if to - from_ > MAX_WINDOW:
        raise Invalid("to", f"to: a calendar window spans at most {MAX_WINDOW.days} days")
    with db.transaction() as tx:
        body = reservations.calendar_json(tx, who, from_, to, pool)
    return Response(body, media_type="application/json")
