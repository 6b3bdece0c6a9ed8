"""Bring a database to a usable state: schema migrated, pools and catalog synced, a first admin.

Every step is idempotent, so `berth up` can run it on every start and a crash halfway through
is repaired by the next start.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from berth.domain.catalog import Catalog
from berth.domain.pool import Pool
from berth.store import catalog as catalog_store
from berth.store import migrate, pools, users
from berth.store.crypto import SecretBox
from berth.store.db import Database
from berth.store.models import User


def prepare(
    db: Database,
    pool_list: list[Pool],
    box: SecretBox | None = None,
    catalog: Catalog | None = None,
) -> list[str]:
    """Migrate (with `box` for migrations that seal secrets), sync pools and, if given, the
    runtime catalog; return the names of pools that changed."""
    migrate.upgrade(db.engine, box=box)
    with db.transaction() as tx:
        if catalog is not None:
            catalog_store.sync(tx, catalog)
        return pools.sync(tx, pool_list)


def ensure_admin(db: Database, username: str = "admin") -> str | None:
    """Create the first admin if there is no user at all; return its password (shown once)."""
    with db.transaction() as tx:
        if tx.scalar(select(func.count()).select_from(User)):
            return None
        password = secrets.token_urlsafe(12)
        users.create(tx, username, password, "admin", actor="system")
        return password
