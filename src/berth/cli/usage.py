"""`berth usage report`: the cost ledger on the terminal (a table) or as CSV on stdout — the
same figures as GET /api/v1/usage, over every user's reservations (or one user's)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from berth.domain import usage

app = typer.Typer(help="The cost ledger: reserved against used GPU-hours.", no_args_is_help=True)


def instant(text: str, zone_name: str, what: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is read in the report's zone."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"--{what}: {text!r} is not an ISO 8601 date or date-time") from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=usage.zone_named(zone_name))
    return t


def _share(v: float | None) -> str:
    return "" if v is None else f"{v * 100:.1f} %"


def table(report: usage.Report, by: tuple[str, ...]) -> Table:
    t = Table(show_edge=False, pad_edge=False)
    for d in by:
        t.add_column(d)
    for col in ("reserved GPU-h", "used GPU-h", "measured", "idle", "$", "tokens", "$/Mtok"):
        t.add_column(col, justify="right")

    def cells(f: usage.Figures) -> list[str]:
        per = "" if f.cost_per_mtok is None else f"{f.cost_per_mtok:,.4f}"
        return [
            f"{f.reserved_gpu_hours:,.2f}",
            f"{f.used_gpu_hours:,.2f}",
            _share(f.measured_share),
            _share(f.idle_share),
            f"{f.cost:,.2f}",
            f"{f.tokens:,.0f}" if f.tokens else "",
            per,
        ]

    for row in report.rows:
        t.add_row(*(row.key[d] for d in by), *cells(row.figures))
    t.add_section()
    t.add_row(*(["total"] + [""] * (len(by) - 1) if by else []), *cells(report.total))
    return t


@app.command("report")
def report(
    from_: Annotated[str, typer.Option("--from", help="Start: ISO date or date-time")],
    to: Annotated[str, typer.Option("--to", help="End (exclusive); the report stops at now")],
    group_by: Annotated[
        str, typer.Option("--group-by", help="Comma-separated: user, team, pool, gpu_kind, day")
    ] = "user,pool,gpu_kind,day",
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone of the days")] = "UTC",
    user: Annotated[str | None, typer.Option("--user", help="Only this user's")] = None,
    pool: Annotated[str | None, typer.Option("--pool", help="Only this pool's")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout instead of a table")] = False,
    sessions: Annotated[
        bool, typer.Option("--sessions", help="One line per reservation, most idle first")
    ] = False,
) -> None:
    """Reserved, measured and used GPU-hours, idle share, dollars and tokens in [FROM, TO),
    grouped (see docs/usage.md for each figure). Dollars use BERTH_USAGE_COSTS."""
    from berth.api import usage_views
    from berth.cli import database, fail
    from berth.config import Settings
    from berth.store import usage as store_usage
    from berth.store import users
    from berth.store.errors import StoreError
    from berth.tokenomics.rates import cost_table

    settings = Settings()
    try:
        usage.zone_named(tz)
    except ValueError as exc:
        raise fail(f"--tz: {exc}") from exc
    try:
        by = usage.parse_group_by(group_by)
        period = usage.period_for(
            instant(from_, tz, "from"), instant(to, tz, "to"), datetime.now(UTC), tz
        )
        costs = cost_table(settings.usage_costs)
    except usage.UsageError as exc:
        raise fail(f"--{exc.field.replace('_', '-')}{str(exc)[len(exc.field) :]}") from exc
    except ValueError as exc:
        raise fail(str(exc)) from exc
    with database(settings) as db, db.transaction() as tx:
        owner = None
        if user is not None:
            try:
                owner = users.get(tx, user).id
            except StoreError as exc:
                raise fail(f"--user: {exc.detail}") from exc
        ledger = store_usage.ledger(tx, period, tz, costs, owner_id=owner, pool=pool)
    result = usage.report(ledger, by, top=len(ledger))
    if as_csv:
        text = (
            usage_views.sessions_csv(result.sessions)
            if sessions
            else usage_views.rows_csv(result.rows, by)
        )
        typer.echo(text, nl=False)
        return
    console = Console()
    console.print(
        f"{period.start.isoformat()} to {period.end.isoformat()}, days in {tz}; "
        f"{result.session_count} reservations"
    )
    if sessions:
        by = ("reservation",)
        result = usage.Report(
            [
                usage.Row({"reservation": s.held.id[:8] + " " + s.held.user}, s.figures)
                for s in result.sessions
            ],
            result.total,
            result.sessions,
            result.session_count,
        )
    console.print(table(result, by))
