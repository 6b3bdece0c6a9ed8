"""Approval requests (docs/teams.md#approvals): the list to decide, approve, reject."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from berth.api import problems, schemas, views
from berth.api.deps import DB, Client, Now, User
from berth.store import approvals, reservations

router = APIRouter(tags=["approvals"])


@router.get("/approvals", operation_id="listApprovals")
def list_(
    who: User, db: DB, limit: Annotated[int, Query(ge=1, le=1000)] = 500
) -> list[schemas.ApprovalPublic]:
    """The PENDING approval requests you may decide, the soonest to expire first: an admin's
    are all of them; a team lead's those of their teams (not their own). Empty for others."""
    with db.transaction() as tx:
        rows = approvals.pending(tx, who, limit)
    return [
        schemas.ApprovalPublic.model_validate(
            {**views.reservation(row, owner).model_dump(), "team": team}
        )
        for row, owner, team in rows
    ]


@router.post(
    "/reservations/{reservation_id}/approve",
    operation_id="approveReservation",
    responses=problems.responses(403, 404, 409),
)
def approve(
    reservation_id: uuid.UUID, who: User, db: DB, now: Now, client: Client
) -> schemas.ReservationPublic:
    """Approve a PENDING approval request: it becomes APPROVED and starts as booked (its
    capacity was held). A lead of its team or an admin; not your own unless you are an admin.
    409 once it is no longer PENDING (decided, canceled, expired)."""
    with db.transaction() as tx:
        row = approvals.decide(tx, who, reservation_id, True, now, client=client)
        owner = reservations.owner_name(tx, row)
    return views.reservation(row, owner)


@router.post(
    "/reservations/{reservation_id}/reject",
    operation_id="rejectReservation",
    responses=problems.responses(403, 404, 409),
)
def reject(
    reservation_id: uuid.UUID,
    body: schemas.ReservationReject,
    who: User,
    db: DB,
    now: Now,
    client: Client,
) -> schemas.ReservationPublic:
    """Reject a PENDING approval request with a reason the owner is told: it becomes
    REJECTED and its capacity is free. Who may, and the 409s, as for approve."""
    with db.transaction() as tx:
        row = approvals.decide(tx, who, reservation_id, False, now, body.reason, client)
        owner = reservations.owner_name(tx, row)
    return views.reservation(row, owner)
