"""The runtime catalog in the database: synced from the catalog file, read back as a domain
`Catalog` (cached by `updated_at`, like pools). One row: the whole catalog is one document."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from berth.domain.catalog import Catalog, from_json, to_json
from berth.store import audit
from berth.store.db import Tx
from berth.store.models import CatalogRow

_ROW = 1
_parsed: tuple[datetime, Catalog] | None = None


def sync(tx: Tx, catalog: Catalog, *, actor: str = "system") -> bool:
    """Store `catalog` if it differs from the stored one; return whether it changed."""
    spec = to_json(catalog)
    current = tx.scalar(select(CatalogRow.spec).where(CatalogRow.id == _ROW))
    if current == spec:
        return False
    tx.execute(
        insert(CatalogRow)
        .values(id=_ROW, spec=spec)
        .on_conflict_do_update(
            index_elements=[CatalogRow.id], set_={"spec": spec, "updated_at": func.now()}
        )
    )
    audit.record(
        tx,
        actor,
        "catalog.sync",
        "catalog",
        {"engines": len(catalog.engines), "models": len(catalog.models)},
    )
    return True


def get(tx: Tx) -> Catalog:
    """The stored catalog (empty before the first sync)."""
    global _parsed
    updated = tx.scalar(select(CatalogRow.updated_at).where(CatalogRow.id == _ROW))
    if updated is None:
        return Catalog()
    if _parsed is not None and _parsed[0] == updated:
        return _parsed[1]
    spec = tx.scalar(select(CatalogRow.spec).where(CatalogRow.id == _ROW))
    catalog = from_json(spec or {})
    _parsed = (updated, catalog)
    return catalog
