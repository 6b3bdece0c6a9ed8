"""The audit log (admins only), newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from berth.api import problems, schemas
from berth.api.deps import DB, Admin
from berth.store import audit

router = APIRouter(tags=["audit"])


@router.get("/audit", operation_id="listAudit", responses=problems.responses(403))
def list_(
    _: Admin,
    db: DB,
    actor: str | None = None,
    action: str | None = None,
    since: schemas.Instant | None = None,
    until: schemas.Instant | None = None,
    before_id: schemas.RowId | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[schemas.AuditPublic]:
    with db.transaction() as tx:
        rows = audit.query(
            tx,
            actor=actor,
            action=action,
            since=since,
            until=until,
            limit=limit,
            before_id=before_id,
        )
        return [
            schemas.AuditPublic(
                id=r.id,
                at=r.at,
                actor=r.actor,
                action=r.action,
                target=r.target,
                details=r.details,
                client=r.client,
            )
            for r in rows
        ]
