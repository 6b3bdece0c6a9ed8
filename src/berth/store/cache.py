"""The runtime cache in the database: the cache agents' per-node credentials, each node's
reported cache, and what the portal derives from them (a node's plan, a reservation's staging).

A credential is a random 256-bit secret shown once and kept as SHA-256, like API tokens, but
with its own prefix and table: it names a node, not a user, and is good for that node's cache
endpoints only. At most one is live per node; a new one revokes the old.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from berth.domain import staging as dom
from berth.domain.cache_protocol import NodeReport
from berth.domain.catalog import ArtifactState, FailureReason
from berth.domain.reservation import LIVE
from berth.store import audit, pools
from berth.store import catalog as stored_catalog
from berth.store.db import Tx
from berth.store.errors import NotFound
from berth.store.models import CacheArtifact, CacheCredential, CacheNode, Reservation

PREFIX = "berthnode_"
_LIVE = [s.value for s in LIVE]


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def node_pools(tx: Tx) -> dict[str, list[str]]:
    """Every node named by a pool, with the pools that name it (in name order)."""
    out: dict[str, list[str]] = {}
    for pool in pools.list_all(tx):
        for n in pool.nodes:
            out.setdefault(n.name, []).append(pool.name)
    return out


def pools_of(tx: Tx, node: str) -> list[str]:
    """The pools that include `node`; NotFound when none does."""
    found = node_pools(tx).get(node)
    if not found:
        raise NotFound(f"no pool includes node {node!r}")
    return found


# ---- credentials --------------------------------------------------------------------------


def _revoke_live(tx: Tx, node: str, now: datetime, actor: str, client: str | None) -> bool:
    row = tx.scalar(
        select(CacheCredential)
        .where(CacheCredential.node == node, CacheCredential.revoked_at.is_(None))
        .with_for_update()
    )
    if row is None:
        return False
    row.revoked_at = now
    audit.record(tx, actor, "cache.token_revoke", f"node:{node}", {"id": row.id}, client)
    tx.flush()
    return True


def issue_credential(
    tx: Tx,
    node: str,
    now: datetime,
    *,
    actor: str,
    expires_at: datetime | None = None,
    client: str | None = None,
) -> tuple[str, CacheCredential]:
    """A new credential for `node` (which a pool must include); the old one is revoked.
    Returns the secret (never stored) and its row."""
    pools_of(tx, node)
    _revoke_live(tx, node, now, actor, client)
    secret = PREFIX + secrets.token_urlsafe(32)
    row = CacheCredential(
        node=node,
        token_hash=_digest(secret),
        prefix=secret[: len(PREFIX) + 4],
        created_at=now,
        expires_at=expires_at,
    )
    tx.add(row)
    tx.flush()
    details = {"id": row.id, "expires_at": expires_at.isoformat() if expires_at else None}
    audit.record(tx, actor, "cache.token_create", f"node:{node}", details, client)
    return secret, row


def revoke_credential(
    tx: Tx, node: str, now: datetime, *, actor: str, client: str | None = None
) -> bool:
    """Revoke `node`'s live credential; whether there was one."""
    return _revoke_live(tx, node, now, actor, client)


def credential_node(tx: Tx, secret: str, now: datetime) -> str | None:
    """The node a live (not revoked, not expired) credential is for, else None."""
    if not secret.startswith(PREFIX):
        return None
    row = tx.scalar(
        select(CacheCredential).where(
            CacheCredential.token_hash == _digest(secret), CacheCredential.revoked_at.is_(None)
        )
    )
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return row.node


def live_credentials(tx: Tx) -> dict[str, CacheCredential]:
    q = select(CacheCredential).where(CacheCredential.revoked_at.is_(None))
    return {row.node: row for row in tx.scalars(q)}


# ---- reports ------------------------------------------------------------------------------


def record_report(tx: Tx, report: NodeReport, now: datetime) -> None:
    """Replace the node's reported cache with `report` (one transaction: all or nothing).
    `reported_at` is the portal's clock (`now`), not the agent's."""
    bandwidth = report.bandwidth_bytes_per_second
    values = {
        "capacity_bytes": report.capacity_bytes,
        "used_bytes": report.used_bytes,
        "reserved_bytes": report.reserved_bytes,
        "high_watermark_bytes": report.high_watermark_bytes,
        "low_watermark_bytes": report.low_watermark_bytes,
        "bandwidth_bps": round(bandwidth) if bandwidth is not None else None,
        "reported_at": now,
    }
    tx.execute(
        insert(CacheNode)
        .values(node=report.node, **values)
        .on_conflict_do_update(index_elements=[CacheNode.node], set_=values)
    )
    tx.execute(delete(CacheArtifact).where(CacheArtifact.node == report.node))
    for m in report.models:
        tx.add(
            CacheArtifact(
                node=report.node,
                model=m.model,
                state=m.state.value,
                size=m.size_bytes,
                downloaded=m.downloaded_bytes,
                last_used=m.last_used,
                reason=m.reason.value if m.reason else None,
                detail=m.detail or None,
                updated_at=now,
            )
        )
    tx.flush()


def summaries(tx: Tx, nodes: Iterable[str] | None = None) -> dict[str, CacheNode]:
    q = select(CacheNode)
    if nodes is not None:
        q = q.where(CacheNode.node.in_(list(nodes)))
    return {row.node: row for row in tx.scalars(q)}


def artifacts(tx: Tx, nodes: Iterable[str] | None = None) -> dict[str, list[CacheArtifact]]:
    q = select(CacheArtifact).order_by(CacheArtifact.node, CacheArtifact.model)
    if nodes is not None:
        q = q.where(CacheArtifact.node.in_(list(nodes)))
    out: dict[str, list[CacheArtifact]] = {}
    for row in tx.scalars(q):
        out.setdefault(row.node, []).append(row)
    return out


def _report(row: CacheArtifact) -> dom.Report:
    return dom.Report(
        state=ArtifactState(row.state),
        size=row.size,
        downloaded=row.downloaded,
        reason=FailureReason(row.reason) if row.reason else None,
        detail=row.detail,
    )


# ---- what the portal derives --------------------------------------------------------------


def plan(tx: Tx, node: str, now: datetime) -> dom.Plan:
    """What `node`'s agent should hold now (NotFound when no pool includes it)."""
    pool_names = pools_of(tx, node)
    q = select(Reservation).where(
        Reservation.pool.in_(pool_names),
        Reservation.status.in_(_LIVE),
        Reservation.end_at > now,
        Reservation.stage.has_key("models"),
    )
    booked = [
        dom.Booked(r.id, r.pool, r.start_at, r.end_at, dom.stage_from_json(r.stage))
        for r in tx.scalars(q)
    ]
    summary = tx.get(CacheNode, node)
    bandwidth = summary.bandwidth_bps if summary else None
    return dom.plan(node, booked, stored_catalog.get(tx), bandwidth)


class Staged(Protocol):
    """What the staging of a reservation is computed from: a model object or a listed row."""

    id: uuid.UUID
    status: str
    pool: str
    stage: dict[str, Any]
    start_at: datetime


def staging_of(tx: Tx, rows: Sequence[Staged]) -> dict[uuid.UUID, dom.Staging | None]:
    """The staging of each live reservation in `rows` that stages a model (one query for the
    reports of every node involved); others map to None."""
    wanted = [r for r in rows if r.status in _LIVE and dom.stage_from_json(r.stage).models]
    out: dict[uuid.UUID, dom.Staging | None] = {r.id: None for r in rows}
    if not wanted:
        return out
    pool_nodes = {p.name: [n.name for n in p.nodes] for p in pools.list_all(tx)}
    nodes = {n for r in wanted for n in pool_nodes.get(r.pool, [])}
    reports = {
        node: {a.model: _report(a) for a in rows_} for node, rows_ in artifacts(tx, nodes).items()
    }
    bandwidths = {n: s.bandwidth_bps for n, s in summaries(tx, nodes).items()}
    catalog = stored_catalog.get(tx)
    for r in wanted:
        out[r.id] = dom.staging(
            dom.stage_from_json(r.stage),
            pool_nodes.get(r.pool, []),
            reports,
            catalog,
            r.start_at,
            bandwidths,
        )
    return out


Overview = tuple[
    str, list[str], CacheCredential | None, CacheNode | None, list[CacheArtifact], set[str]
]


def overview(tx: Tx, now: datetime, node: str | None = None) -> list[Overview]:
    """Per node of every pool (or just `node`): its pools, live credential, last report, the
    reported models and the models its plan keeps."""
    every = node_pools(tx)
    if node is not None:
        every = {node: every.get(node, [])}
    creds = live_credentials(tx)
    sums = summaries(tx, every)
    arts = artifacts(tx, every)
    return [
        (
            n,
            p,
            creds.get(n),
            sums.get(n),
            arts.get(n, []),
            set(plan(tx, n, now).keep) if p else set(),
        )
        for n, p in sorted(every.items())
    ]
