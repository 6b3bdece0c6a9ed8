"""The runtime catalog (engines and models) for the booking form: what a reservation may stage."""

from __future__ import annotations

from fastapi import APIRouter

from berth.api import schemas, views
from berth.api.deps import DB, User
from berth.store import catalog

router = APIRouter(prefix="/catalog", tags=["catalog"])


@router.get("", operation_id="getCatalog")
def get(_: User, db: DB) -> schemas.CatalogPublic:
    """The engines and models a reservation may name in `stage`, with the models' sizes."""
    with db.transaction() as tx:
        return views.catalog(catalog.get(tx))
