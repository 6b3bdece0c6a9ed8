"""The cost ledger: reserved against used GPU-hours, idle share, dollars and $/Mtok, grouped by
user, pool, GPU kind and day (docs/usage.md). Users see their own reservations; admins all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from berth.api import schemas, usage_views
from berth.api.deps import DB, Config, Now, User
from berth.domain import usage
from berth.store import pools
from berth.store import usage as store_usage
from berth.store.errors import Invalid
from berth.tokenomics.rates import cost_table

router = APIRouter(tags=["usage"])

GroupBy = Annotated[
    str,
    Query(
        description="comma-separated: any of user, pool, gpu_kind, day (in that order); "
        "empty: all four",
        max_length=200,
    ),
]
Zone = Annotated[str, Query(description="IANA time zone the days are in", max_length=64)]


@dataclass(frozen=True)
class Asked:
    """The query both routes take, checked: the period (up to now) and the grouping."""

    period: usage.Period
    zone: str
    by: tuple[str, ...]
    pool: str | None


def asked(
    now: Now,
    from_: Annotated[schemas.Instant, Query(alias="from")],
    to: schemas.Instant,
    group_by: GroupBy = "",
    tz: Zone = "UTC",
    pool: str | None = None,
) -> Asked:
    try:
        by = usage.parse_group_by(group_by)
        period = usage.period_for(from_, to, now, tz)
    except usage.UsageError as exc:
        raise Invalid(exc.field, str(exc)) from exc
    return Asked(period, tz, by, pool)


Ask = Annotated[Asked, Depends(asked)]


def _ledger(
    who: User, db: DB, settings: Config, q: Asked
) -> tuple[list[usage.Line], list[schemas.UsageRate]]:
    costs = cost_table(settings.usage_costs)
    owner = None if who.is_admin else who.id
    with db.transaction() as tx:
        ledger = store_usage.ledger(tx, q.period, q.zone, costs, owner_id=owner, pool=q.pool)
        rates = usage_views.rates_public(pools.list_all(tx), costs)
    return ledger, rates


@router.get("/usage", operation_id="getUsage")
def get_usage(
    who: User,
    db: DB,
    settings: Config,
    q: Ask,
    top: Annotated[
        int, Query(ge=0, le=1000, description="how many of the most idle sessions")
    ] = 20,
) -> schemas.UsageReport:
    """Reserved, measured and used GPU-hours, idle share, dollars and tokens in [from, to)
    (up to now), grouped; the total; the most idle sessions; the rates used. Refused (422):
    `to` not after `from`, more than 366 days, an unknown grouping or time zone."""
    ledger, rates = _ledger(who, db, settings, q)
    report = usage.report(ledger, q.by, top)
    return usage_views.report_public(report, q.period, q.zone, q.by, who.is_admin, rates)


@router.get(
    "/usage.csv",
    operation_id="getUsageCsv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def get_usage_csv(
    who: User,
    db: DB,
    settings: Config,
    q: Ask,
    rows: Literal["groups", "sessions"] = "groups",
) -> Response:
    """The same ledger as CSV: the grouped rows, or (`rows=sessions`) one line per reservation,
    most idle first. Dollars in USD; empty cells where a share or $/Mtok has no meaning."""
    ledger, _ = _ledger(who, db, settings, q)
    if rows == "sessions":
        body = usage_views.sessions_csv(usage.sessions(ledger))
    else:
        body = usage_views.rows_csv(usage.group(ledger, q.by), q.by)
    name = f"berth-usage-{q.period.start:%Y%m%d}-{q.period.end:%Y%m%d}-{rows}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
