"""The fair waitlist (docs/teams.md): join with a booking's body, list, withdraw, and answer
an offer (accept, decline). Offers are made by the `berth notify` loop's sweep."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from berth.api import problems, schemas, views
from berth.api.deps import DB, Client, Config, Now, User
from berth.store import reservations, waitlist
from berth.store.db import Tx
from berth.store.users import Principal

router = APIRouter(prefix="/waitlist", tags=["waitlist"])

EntryId = Annotated[int, Path(ge=1, le=schemas.MAX_ROW_ID)]


def _public(tx: Tx, who: Principal, entry_id: int) -> schemas.WaitlistEntryPublic:
    row = waitlist.get(tx, who, entry_id)
    return views.waitlist_entry(row[0], row.username, row.team, row.offer_status, row.offer_until)


@router.post(
    "",
    status_code=201,
    operation_id="joinWaitlist",
    responses=problems.responses(404, 409),
)
def join(
    body: schemas.ReservationCreate,
    who: User,
    db: DB,
    settings: Config,
    now: Now,
    client: Client,
) -> schemas.WaitlistEntryPublic:
    """Wait for the request of a refused booking (the same body as POST /reservations,
    checked by the same rules). When capacity frees, waiting requests that fit are offered
    in order of their team's decayed recent usage, lowest first (docs/teams.md). 409 when
    the same request of yours is already waiting."""
    req, stage = body.request(), body.staged()
    with db.transaction() as tx:
        entry = waitlist.join(tx, who, req, settings.policy(), now, client, stage)
        return _public(tx, who, entry.id)


@router.get("", operation_id="listWaitlist")
def list_(who: User, db: DB, mine: bool = False) -> list[schemas.WaitlistEntryPublic]:
    """Your waitlist entries (admins: everyone's unless `mine=true`), newest first."""
    with db.transaction() as tx:
        rows = waitlist.search(tx, who, mine=mine)
    return [
        views.waitlist_entry(r[0], r.username, r.team, r.offer_status, r.offer_until) for r in rows
    ]


@router.get("/{entry_id}", operation_id="getWaitlistEntry", responses=problems.responses(404))
def get(entry_id: EntryId, who: User, db: DB) -> schemas.WaitlistEntryPublic:
    with db.transaction() as tx:
        return _public(tx, who, entry_id)


@router.delete(
    "/{entry_id}",
    status_code=204,
    operation_id="withdrawWaitlistEntry",
    responses=problems.responses(404, 409),
    response_class=Response,
)
def withdraw(entry_id: EntryId, who: User, db: DB, now: Now, client: Client) -> Response:
    """Leave the waitlist; an open offer is canceled and passes on. 409 once settled."""
    with db.transaction() as tx:
        waitlist.withdraw(tx, who, entry_id, now, client)
    return Response(status_code=204)


@router.post(
    "/{entry_id}/accept",
    operation_id="acceptWaitlistOffer",
    responses=problems.responses(404, 409),
)
def accept(
    entry_id: EntryId, who: User, db: DB, now: Now, client: Client
) -> schemas.WaitlistAccepted:
    """Take the offer: its reservation becomes APPROVED. 409 when it lapsed or is gone."""
    with db.transaction() as tx:
        entry, row = waitlist.accept(tx, who, entry_id, now, client)
        owner = reservations.owner_name(tx, row)
        public = _public(tx, who, entry.id)
    return schemas.WaitlistAccepted(entry=public, reservation=views.reservation(row, owner))


@router.post(
    "/{entry_id}/decline",
    operation_id="declineWaitlistOffer",
    responses=problems.responses(404, 409),
)
def decline(
    entry_id: EntryId, who: User, db: DB, now: Now, client: Client
) -> schemas.WaitlistEntryPublic:
    """Turn the offer down: its reservation is canceled and the capacity passes on."""
    with db.transaction() as tx:
        waitlist.decline(tx, who, entry_id, now, client)
        return _public(tx, who, entry_id)
