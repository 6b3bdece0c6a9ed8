"""The audit log (admins only), newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from berth.api import schemas
from berth.api.deps import DB, Admin
from berth.store import audit

router = APIRouter(tags=["audit"])


@router.get("/audit", operation_id="listAudit")
def list_(
    _: Admin,
    db: DB,
    actor: str | None = None,
    action: str | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    before_id: int | None = None,
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
