"""The node cache: the agents' plan and reports (each node's own credential), the admin view.

See docs/runtime.md: the agent never touches the database; it asks what to hold
(`GET /cache/nodes/{node}/plan`) and reports what it has (`PUT /cache/nodes/{node}/state`).
"""

from __future__ import annotations

from fastapi import APIRouter

from berth.api import problems, schemas, views
from berth.api.deps import DB, Admin, CacheAgent, Now
from berth.domain.cache_protocol import ProtocolError, report_from_json
from berth.store import cache
from berth.store.errors import Invalid

router = APIRouter(prefix="/cache", tags=["cache"])


@router.get(
    "/nodes/{node}/plan",
    operation_id="getCachePlan",
    responses=problems.responses(403, 404),
)
def plan(node: CacheAgent, db: DB, now: Now) -> schemas.CachePlan:
    """What the node should hold: the models of the `stage` of live reservations on the pools
    that include it, in order of start, each with the time its download should begin, and
    `keep` (never evict). Only with that node's cache credential."""
    with db.transaction() as tx:
        p = cache.plan(tx, node, now)
    return views.plan(p)


@router.put(
    "/nodes/{node}/state",
    operation_id="putCacheState",
    responses=problems.responses(403, 404),
)
def state(
    node: CacheAgent, body: schemas.CacheNodeState, db: DB, now: Now
) -> schemas.CacheNodePublic:
    """The node's report: replaces its summary and per-model rows. Only with that node's cache
    credential, and only for that node (`node` in the body must be the path's)."""
    if body.node != node:
        raise Invalid("node", f"node: the body is for {body.node!r}, the path names {node!r}")
    # the agent's own parser, so the two ends read one shape (cache_protocol)
    try:
        report = report_from_json(body.model_dump(mode="json"))
    except ProtocolError as exc:  # checked above already; kept so a drift is a 422, not a 500
        field = str(exc).split(":", 1)[0]
        raise Invalid(field, str(exc)) from exc
    with db.transaction() as tx:
        cache.pools_of(tx, node)  # 404 for a node no pool includes (any more)
        cache.record_report(tx, report, now)
        return views.cache_node(*cache.overview(tx, now, node)[0])


@router.get("/nodes", operation_id="listCacheNodes", responses=problems.responses(403))
def nodes(_: Admin, db: DB, now: Now) -> list[schemas.CacheNodePublic]:
    """Every node of every pool: its credential (prefix only), its last report (capacity, used,
    bandwidth) and each model's state; `needed` marks the models a live booking names."""
    with db.transaction() as tx:
        return [views.cache_node(*o) for o in cache.overview(tx, now)]
