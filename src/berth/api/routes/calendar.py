"""The calendar: every booked block in a window; others' blocks show only as busy."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from berth.api import ical, problems, schemas
from berth.api.deps import DB, Client, Config, Now, Reads, User
from berth.store import feeds
from berth.store.errors import Invalid

router = APIRouter(tags=["calendar"])

MAX_WINDOW = timedelta(days=92)


@router.get("/calendar", operation_id="getCalendar", response_model=list[schemas.CalendarEntry])
def calendar(
    who: User,
    db: DB,
    cache: Reads,
    from_: Annotated[schemas.Instant, Query(alias="from")],
    to: schemas.Instant,
    pool: str | None = None,
) -> Response:
    # Every block booked in the window (live, or held and completed), ordered by start;
    # others' blocks without owner or id (admins see all). The database writes the JSON;
    # each process keeps it, checked against the database's change log (store/read_cache.py).
    if to <= from_:
        raise Invalid("to", "to: must be after from")
    if to - from_ > MAX_WINDOW:
        raise Invalid("to", f"to: a calendar window spans at most {MAX_WINDOW.days} days")
    with db.transaction() as tx:
        body = cache.calendar(tx, who, from_, to, pool)
    return Response(body, media_type="application/json")


FEED_PAST = timedelta(days=30)  # how far back a feed reaches; ahead it reaches the horizon
_NO_FEED = "no such calendar feed"


@router.get(
    "/calendar/feeds/{secret}.ics",
    operation_id="getCalendarFeed",
    responses={
        **problems.responses(404),
        200: {"content": {"text/calendar": {"schema": {"type": "string"}}}},
    },
    response_class=Response,
)
def feed(secret: str, db: DB, settings: Config, now: Now) -> Response:
    """Your reservations as an iCalendar feed, for a calendar app to subscribe to: the secret
    in the URL is the credential (no cookie or token). The last 30 days and the booking
    horizon ahead, every status (canceled ones as STATUS:CANCELLED). An unknown or revoked
    secret is a 404, the same as any missing page. One query per fetch."""
    if len(secret) > 128:
        raise HTTPException(404, _NO_FEED)
    with db.transaction() as tx:
        found = feeds.read(tx, secret, now - FEED_PAST, now + settings.policy().horizon)
    if found is None:
        raise HTTPException(404, _NO_FEED)
    return Response(
        ical.calendar(found.reservations, f"Berth: {found.username}"),
        media_type=ical.MEDIA_TYPE,
        headers={"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"},
    )


@router.get("/me/calendar-feed", operation_id="getMyCalendarFeed")
def my_feed(who: User, db: DB) -> schemas.CalendarFeedPublic:
    """Whether you have a calendar feed, and since when (its URL is shown only when made)."""
    with db.transaction() as tx:
        made = feeds.created_at(tx, who)
    return schemas.CalendarFeedPublic(active=made is not None, created_at=made)


@router.post("/me/calendar-feed", status_code=201, operation_id="createMyCalendarFeed")
def create_feed(
    request: Request, who: User, db: DB, now: Now, client: Client
) -> schemas.CalendarFeedCreated:
    """Make your private calendar feed URL, shown once; an earlier one stops working."""
    with db.transaction() as tx:
        secret = feeds.create(tx, who, now, client)
    url = str(request.url_for("feed", secret=secret))
    return schemas.CalendarFeedCreated(url=url, created_at=now)


@router.delete("/me/calendar-feed", status_code=204, operation_id="revokeMyCalendarFeed")
def revoke_feed(who: User, db: DB, client: Client) -> Response:
    """Revoke your calendar feed: its URL answers 404 from now on."""
    with db.transaction() as tx:
        feeds.revoke(tx, who, client)
    return Response(status_code=204)
