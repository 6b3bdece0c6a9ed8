"""Pools in the database: synced from the pool file, read back as domain objects.

The database copy is what bookings are checked against, so every API replica and the reconciler
agree on capacity even if they were started with different files.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert

from berth.domain.approval import ApprovalRules, Limits
from berth.domain.idle import IdlePolicy
from berth.domain.pool import DEFAULT_CLUSTER, Gpu, KindDefaults, Mig, Node, Pool
from berth.store import audit
from berth.store.db import Tx
from berth.store.errors import NotFound
from berth.store.models import PoolRow


def to_json(pool: Pool) -> dict[str, Any]:
    return {
        "name": pool.name,
        "nodes": [
            {
                "name": n.name,
                "cpu_millicores": n.cpu_millicores,
                "memory_bytes": n.memory_bytes,
                "storage_class": n.storage_class,
                "gpus": [
                    {
                        "index": g.index,
                        "model": g.model,
                        "memory_bytes": g.memory_bytes,
                        "replicas": g.replicas,
                        "mig": {"profile": g.mig.profile, "count": g.mig.count} if g.mig else None,
                    }
                    for g in n.gpus
                ],
            }
            for n in pool.nodes
        ],
        "defaults": {
            k: {"cpu_millicores": d.cpu_millicores, "memory_bytes": d.memory_bytes}
            for k, d in pool.defaults.items()
        },
        # written only when set, so a pool without one keeps the description it had
        **({"idle": {k: asdict(p) for k, p in pool.idle.items()}} if pool.idle else {}),
        **({"approval": asdict(pool.approval)} if pool.approval else {}),
    }


def from_json(spec: dict[str, Any], cluster: str = DEFAULT_CLUSTER) -> Pool:
    return Pool(
        name=spec["name"],
        cluster=cluster,
        nodes=tuple(
            Node(
                name=n["name"],
                cpu_millicores=n["cpu_millicores"],
                memory_bytes=n["memory_bytes"],
                storage_class=n["storage_class"],
                gpus=tuple(
                    Gpu(
                        index=g["index"],
                        model=g["model"],
                        memory_bytes=g["memory_bytes"],
                        replicas=g["replicas"],
                        mig=Mig(**g["mig"]) if g["mig"] else None,
                    )
                    for g in n["gpus"]
                ),
            )
            for n in spec["nodes"]
        ),
        defaults={k: KindDefaults(**d) for k, d in spec.get("defaults", {}).items()},
        idle={k: IdlePolicy(**p) for k, p in spec.get("idle", {}).items()},
        approval=_approval(spec.get("approval")),
    )


def _approval(spec: dict[str, Any] | None) -> ApprovalRules | None:
    if spec is None:
        return None
    kinds = {k: Limits(**v) for k, v in spec.get("kinds", {}).items()}
    return ApprovalRules(spec.get("over_hours"), spec.get("over_units"), kinds)


def sync(tx: Tx, pools: list[Pool], *, actor: str = "system") -> list[str]:
    """Upsert pools from the file; return the names whose description changed.

    Pools missing from the file are kept (reservations refer to them); a shrunk pool keeps its
    bookings, and only new bookings see the new capacity.
    """
    changed = []
    for pool in pools:
        spec = to_json(pool)
        current = tx.execute(
            select(PoolRow.spec, PoolRow.cluster).where(PoolRow.name == pool.name)
        ).first()
        if current is not None and tuple(current) == (spec, pool.cluster):
            continue
        tx.execute(
            insert(PoolRow)
            .values(name=pool.name, spec=spec, cluster=pool.cluster)
            .on_conflict_do_update(
                index_elements=[PoolRow.name],
                set_={"spec": spec, "cluster": pool.cluster, "updated_at": func.now()},
            )
        )
        details: dict[str, Any] = {"created": current is None}
        if current is not None and current.cluster != pool.cluster:
            details["cluster"] = {"from": current.cluster, "to": pool.cluster}
        audit.record(tx, actor, "pool.sync", f"pool:{pool.name}", details)
        changed.append(pool.name)
    return changed


# Parsed pools by name, with the `updated_at` they were read at. A booking then reads one
# timestamp (inside `berth_booking_view`, under its locks) instead of the whole description; a
# synced pool has a new timestamp and is re-read.
_parsed: dict[str, tuple[datetime, Pool]] = {}


def get(tx: Tx, name: str) -> Pool:
    updated = tx.scalar(select(PoolRow.updated_at).where(PoolRow.name == name))
    if updated is None:
        raise NotFound(f"no pool {name!r}")
    cached = _parsed.get(name)
    if cached is not None and cached[0] == updated:
        return cached[1]
    return reread(tx, name)[1]


def reread(tx: Tx, name: str) -> tuple[datetime, Pool]:
    """The pool's description and `updated_at`, read from the database (and remembered)."""
    found = tx.execute(
        select(PoolRow.updated_at, PoolRow.spec, PoolRow.cluster).where(PoolRow.name == name)
    ).first()
    if found is None:
        raise NotFound(f"no pool {name!r}")
    updated, spec, cluster = found
    _parsed[name] = (updated, from_json(spec, cluster))
    return _parsed[name]


def known(tx: Tx, name: str) -> tuple[datetime, Pool]:
    """The pool as last read by this process and the `updated_at` it was read at, without a
    query if it was read before; the caller compares that timestamp with the database's."""
    cached = _parsed.get(name)
    return cached if cached is not None else reread(tx, name)


def list_all(tx: Tx, *, cluster: str | None = None) -> list[Pool]:
    """Every pool (or those on `cluster`), by name."""
    q = select(PoolRow.spec, PoolRow.cluster).order_by(PoolRow.name)
    if cluster is not None:
        q = q.where(PoolRow.cluster == cluster)
    return [from_json(spec, c) for spec, c in tx.execute(q)]


def on_cluster(cluster: str) -> Select[str]:
    """The names of the pools on `cluster`, as a subquery: what a cluster's reconciler filters
    reservations by, in SQL."""
    return select(PoolRow.name).where(PoolRow.cluster == cluster)


def clusters(tx: Tx) -> list[str]:
    """The clusters some pool lives on."""
    return list(tx.scalars(select(PoolRow.cluster).distinct().order_by(PoolRow.cluster)))
