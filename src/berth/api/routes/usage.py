"""The cost ledger: reserved against used GPU-hours, idle share, dollars and $/Mtok, grouped by
user, pool, GPU kind and day (docs/usage.md). Users see their own reservations; admins all."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

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
Top = Annotated[int, Query(ge=0, le=1000, description="how many of the most idle sessions")]


def _build(
    who: User,
    db: DB,
    settings: Config,
    now: datetime,
    start: datetime,
    end: datetime,
    group_by: str,
    tz: str,
    pool: str | None,
    top: int,
) -> tuple[usage.Report, usage.Period, tuple[str, ...], list[schemas.UsageRate]]:
    try:
        by = usage.parse_group_by(group_by)
        period = usage.period_for(start, end, now, tz)
    except usage.UsageError as exc:
        raise Invalid(exc.field, str(exc)) from exc
    costs = cost_table(settings.usage_costs)
    owner = None if who.is_admin else who.id
    with db.transaction() as tx:
        ledger = store_usage.ledger(tx, period, tz, costs, owner_id=owner, pool=pool)
        rates = usage_views.rates_public(pools.list_all(tx), costs)
    return usage.report(ledger, by, top), period, by, rates


@router.get("/usage", operation_id="getUsage")
def get_usage(
    who: User,
    db: DB,
    settings: Config,
    now: Now,
    from_: Annotated[schemas.Instant, Query(alias="from")],
    to: schemas.Instant,
    group_by: GroupBy = "",
    tz: Zone = "UTC",
    pool: str | None = None,
    top: Top = 20,
) -> schemas.UsageReport:
    """Reserved, measured and used GPU-hours, idle share, dollars and tokens in [from, to)
    (up to now), grouped; the total; the most idle sessions; the rates used. Refused (422):
    `to` not after `from`, more than 366 days, an unknown grouping or time zone."""
    report, period, by, rates = _build(who, db, settings, now, from_, to, group_by, tz, pool, top)
    return usage_views.report_public(report, period, tz, by, who.is_admin, rates)


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
    now: Now,
    from_: Annotated[schemas.Instant, Query(alias="from")],
    to: schemas.Instant,
    group_by: GroupBy = "",
    tz: Zone = "UTC",
    pool: str | None = None,
    rows: Literal["groups", "sessions"] = "groups",
) -> Response:
    """The same ledger as CSV: the grouped rows, or (`rows=sessions`) one line per reservation,
    most idle first. Dollars in USD; empty cells where a share or $/Mtok has no meaning."""
    report, period, by, _ = _build(who, db, settings, now, from_, to, group_by, tz, pool, 10**9)
    body = (
        usage_views.sessions_csv(report.sessions)
        if rows == "sessions"
        else usage_views.rows_csv(report.rows, by)
    )
    name = f"berth-usage-{period.start:%Y%m%d}-{period.end:%Y%m%d}-{rows}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
