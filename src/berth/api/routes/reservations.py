"""Booking, listing, canceling and extending reservations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from berth.api import ical, metrics, problems, schemas, views
from berth.api.deps import DB, Box, Client, Config, Credential, Now, Reads, User, authenticate
from berth.domain import staging as st
from berth.domain.reservation import Status
from berth.store import audit, cache, idle, reservations, sessions
from berth.store.crypto import SealError
from berth.store.errors import Conflict, Refused

router = APIRouter(prefix="/reservations", tags=["reservations"])


@router.post(
    "", status_code=201, operation_id="createReservation", responses=problems.responses(404, 409)
)
def create(
    body: schemas.ReservationCreate,
    credential: Credential,
    db: DB,
    settings: Config,
    now: Now,
    client: Client,
) -> schemas.ReservationPublic:
    # The token is checked inside the booking's transaction: one transaction, not two, on the
    # busiest write (a bad token with a bad body is a 422 here, not a 401).
    req, stage = body.request(), body.staged()
    try:
        try:
            with db.transaction() as tx:
                who = authenticate(tx, credential, now)
                row = reservations.book(
                    tx, who, req, settings.policy(), now, client, stage, ask=body.ask
                )
                staged = cache.staging_of(tx, [row])[row.id]
        except reservations.Short as short:
            # the booking's locks are released: the nearest slot that fits is looked for
            # without holding up the pool's other bookings
            with db.transaction() as tx:
                raise reservations.suggest(tx, short) from None
    except Refused:
        metrics.BOOKINGS.labels(outcome="refused").inc()
        raise
    metrics.BOOKINGS.labels(outcome="pending" if row.status == "PENDING" else "accepted").inc()
    return views.reservation(row, who.username, staged=staged)


@router.get("", operation_id="listReservations", response_model=list[schemas.ReservationPublic])
def list_(
    who: User,
    db: DB,
    reads: Reads,
    mine: bool = False,
    status: Annotated[list[Status] | None, Query()] = None,
    pool: str | None = None,
    from_: Annotated[schemas.Instant | None, Query(alias="from")] = None,
    to: schemas.Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Response:
    """Your reservations (admins: everyone's unless `mine=true`), ordered by start."""
    with db.transaction() as tx:  # one owner's list is kept, checked first (store/read_cache.py)
        found = reads.listing(
            tx,
            who,
            mine=mine,
            statuses=status or (),
            pool=pool,
            since=from_,
            until=to,
            limit=limit,
        )
        staged = cache.staging_of(tx, found.stages)
    # PostgreSQL wrote the array but the staging of the few that stage a model
    body = found.with_staging(lambda id_: _staging_json(staged[id_]))
    return Response(body, media_type="application/json")


def _staging_json(staging: st.Staging | None) -> str:
    return views.json_bytes(views.staging_data(staging)).decode()


@router.get(
    "/{reservation_id}.ics",
    operation_id="getReservationIcs",
    responses={
        **problems.responses(404),
        200: {"content": {"text/calendar": {"schema": {"type": "string"}}}},
    },
    response_class=Response,
)
def get_ics(reservation_id: uuid.UUID, who: User, db: DB) -> Response:
    """One of your reservations as an iCalendar file (one VEVENT), to add to a calendar app.
    Another user's reservation is a 404, as if it did not exist."""
    with db.transaction() as tx:
        row = reservations.get(tx, who, reservation_id)
    return Response(
        ical.calendar([row], "Berth"),
        media_type=ical.MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="berth-{row.id}.ics"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/{reservation_id}", operation_id="getReservation", responses=problems.responses(404))
def get(reservation_id: uuid.UUID, who: User, db: DB) -> schemas.ReservationPublic:
    with db.transaction() as tx:
        row = reservations.get(tx, who, reservation_id)
        owner = reservations.owner_name(tx, row)
        session = reservations.session_of(tx, row)
        staged = cache.staging_of(tx, [row])[row.id]
        idle_state = idle.of(tx, row.id)
    return views.reservation(row, owner, session, staged, idle_state)


@router.get(
    "/{reservation_id}/workspace", operation_id="getWorkspace", responses=problems.responses(404)
)
def workspace(
    reservation_id: uuid.UUID,
    who: User,
    db: DB,
    box: Box,
    client: Client,
    now: Now,
    include_password: bool = False,
) -> schemas.WorkspacePublic:
    """The workspace of your reservation: phase, and its URL once it is ready.

    With `include_password=true`, also the workspace password (ready workspaces only). It is
    kept encrypted and wiped when the session ends; an admin reading someone else's is
    audited (`workspace.password_read`). The owner reading it counts as opening the workspace
    (the no-show rule of idle reclaim, docs/idle.md).
    """
    with db.transaction() as tx:
        row = reservations.get(tx, who, reservation_id)
        session = reservations.session_of(tx, row)
        password = None
        if include_password and session is not None and session.phase == "ready":
            try:
                password = sessions.password(session, box)
            except SealError as exc:
                raise HTTPException(500, str(exc)) from exc
            if password is not None:
                idle.opened(tx, who, row, now)
            if password is not None and row.owner_id != who.id:
                audit.record(
                    tx,
                    who.username,
                    "workspace.password_read",
                    f"reservation:{row.id}",
                    {"owner": reservations.owner_name(tx, row)},
                    client,
                )
        return views.workspace(row, session, password, cache.staging_of(tx, [row])[row.id])


@router.post(
    "/{reservation_id}/cancel",
    operation_id="cancelReservation",
    responses=problems.responses(404, 409),
)
def cancel(
    reservation_id: uuid.UUID,
    who: User,
    db: DB,
    now: Now,
    client: Client,
    body: schemas.ReservationCancel | None = None,
) -> schemas.ReservationPublic:
    reason = body.reason if body else None
    with db.transaction() as tx:
        row = reservations.cancel(tx, who, reservation_id, now, reason, client)
        owner = reservations.owner_name(tx, row)
    return views.reservation(row, owner)


@router.post(
    "/{reservation_id}/extend",
    operation_id="extendReservation",
    responses=problems.responses(404, 409),
)
def extend(
    reservation_id: uuid.UUID,
    body: schemas.ReservationExtend,
    who: User,
    db: DB,
    settings: Config,
    now: Now,
    client: Client,
) -> schemas.ReservationPublic:
    with db.transaction() as tx:
        row = reservations.extend(tx, who, reservation_id, body.end, settings.policy(), now, client)
        owner = reservations.owner_name(tx, row)
        staged = cache.staging_of(tx, [row])[row.id]
    return views.reservation(row, owner, staged=staged)


@router.post(
    "/{reservation_id}/release",
    operation_id="releaseReservation",
    responses=problems.responses(404, 409),
)
def release(
    reservation_id: uuid.UUID, who: User, db: DB, now: Now, client: Client
) -> schemas.ReservationPublic:
    """ "I'm done": end your ACTIVE session now. The reservation becomes COMPLETED with reason
    `released` and its end moves to now, so the rest of the window is free for others at
    once; the reconciler deletes the workspace. An APPROVED reservation (not started) is
    canceled instead (409 here); any other status is a 409."""
    with db.transaction() as tx:
        row = reservations.release(tx, who, reservation_id, now, client)
        owner = reservations.owner_name(tx, row)
    return views.reservation(row, owner)


@router.get(
    "/{reservation_id}/open",
    operation_id="openWorkspace",
    status_code=303,
    responses={**problems.responses(404, 409), 303: {"description": "To the workspace"}},
    response_class=Response,
)
def open_workspace(reservation_id: uuid.UUID, who: User, db: DB, now: Now) -> Response:
    """Go to your workspace (a 303 to its URL): the portal's "Open" link. The owner's first
    open is remembered, so the session is no no-show (docs/idle.md). 409 until it is ready."""
    with db.transaction() as tx:
        row = reservations.get(tx, who, reservation_id)
        session = reservations.session_of(tx, row)
        if session is None or session.phase != "ready" or session.url is None:
            raise Conflict(f"the workspace of this {row.status} reservation is not ready")
        idle.opened(tx, who, row, now)
        url = session.url
    return Response(status_code=303, headers={"Location": url, "Cache-Control": "no-store"})


@router.post(
    "/{reservation_id}/keep",
    operation_id="keepReservation",
    responses=problems.responses(404, 409),
)
def keep(
    reservation_id: uuid.UUID, who: User, db: DB, now: Now, client: Client
) -> schemas.ReservationPublic:
    """ "Keep it": answer an idle warning. No idle warning nor release for the pool's keep
    minutes (its idle policy in the pool file), and a standing warning is withdrawn. Your
    ACTIVE reservation only (an admin: anyone's); 409 for any other status, or when its pool
    reclaims no idle GPUs of its kind."""
    with db.transaction() as tx:
        row = idle.keep(tx, who, reservation_id, now, client)
        owner = reservations.owner_name(tx, row)
        session = reservations.session_of(tx, row)
        idle_state = idle.of(tx, row.id)
    return views.reservation(row, owner, session, idle=idle_state)
