"""Database upkeep: drop long-dead tokens, prune the audit log past its retention and the
read cache's change log (store/read_cache.py).

The reconciler's cycle runs this hourly (docs/reconciler.md, "A cycle", step 4); `berth up`
also runs it hourly so a portal without a cluster still keeps its tables bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from berth.store import audit, read_cache, tokens
from berth.store.db import Database


@dataclass(frozen=True)
class Upkeep:
    tokens_deleted: int
    audit_pruned: int
    changes_pruned: int


def run(db: Database, now: datetime, audit_retention: timedelta) -> Upkeep:
    with db.transaction() as tx:
        deleted = tokens.expire(tx, now)
        pruned = audit.prune(tx, now - audit_retention)
        changes = read_cache.prune(tx)
        if pruned:
            audit.record(
                tx,
                "system",
                "audit.prune",
                "audit_log",
                {"deleted": pruned, "before": str(now - audit_retention)},
            )
    return Upkeep(deleted, pruned, changes)
