"""The cost ledger as the API's shapes and as CSV (the same figures; `berth usage report` uses
these too, so the command line and the download agree to the digit)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from berth.api import schemas
from berth.domain import usage
from berth.domain.pool import Pool
from berth.domain.reservation import Status

FIGURES = (
    "reserved_gpu_hours",
    "measured_gpu_hours",
    "used_gpu_hours",
    "idle_gpu_hours",
    "measured_share",
    "idle_share",
    "cost",
    "tokens_prompt",
    "tokens_generated",
    "cost_per_mtok",
)


def figures(f: usage.Figures) -> dict[str, Any]:
    return {
        "reserved_gpu_hours": f.reserved_gpu_hours,
        "measured_gpu_hours": f.measured_gpu_hours,
        "used_gpu_hours": f.used_gpu_hours,
        "idle_gpu_hours": f.idle_gpu_hours,
        "measured_share": f.measured_share,
        "idle_share": f.idle_share,
        "cost": f.cost,
        "tokens_prompt": f.tokens_prompt,
        "tokens_generated": f.tokens_generated,
        "cost_per_mtok": f.cost_per_mtok,
    }


def session_public(s: usage.SessionUsage) -> schemas.UsageSession:
    h = s.held
    return schemas.UsageSession(
        id=uuid.UUID(h.id),
        user=h.user,
        pool=h.pool,
        gpu_kind=h.gpu_kind,
        gpu_count=h.gpu_count,
        start=h.start,
        end=h.end,
        status=Status(h.status),
        reason=h.reason,
        **figures(s.figures),
    )


def rates_public(pools: Iterable[Pool], costs: usage.CostTable) -> list[schemas.UsageRate]:
    out = []
    for p in pools:
        for kind in p.kinds():
            r = costs.rate(p.name, kind)
            out.append(
                schemas.UsageRate(
                    pool=p.name,
                    gpu_kind=kind,
                    held_per_gpu_hour=r.held,
                    load_per_gpu_hour=r.load,
                    source=r.source,
                )
            )
    return out


def report_public(
    report: usage.Report,
    period: usage.Period,
    zone: str,
    by: Sequence[str],
    everyone: bool,
    rates: list[schemas.UsageRate],
) -> schemas.UsageReport:
    return schemas.UsageReport(
        start=period.start,
        end=period.end,
        timezone=zone,
        group_by=list(by),
        everyone=everyone,
        rows=[schemas.UsageRow(**r.key, **figures(r.figures)) for r in report.rows],
        total=schemas.UsageFigures(**figures(report.total)),
        sessions=[session_public(s) for s in report.sessions],
        session_count=report.session_count,
        rates=rates,
    )


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6f}".rstrip("0").rstrip(".") if v != 0 else "0"
    return str(v)


COST_HEADERS = {"cost": "cost_usd", "cost_per_mtok": "cost_per_mtok_usd"}


def rows_csv(rows: Sequence[usage.Row], by: Sequence[str]) -> str:
    """The grouped rows: one column per grouping key, then the figures."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([*by, *(COST_HEADERS.get(f, f) for f in FIGURES)])
    for r in rows:
        fig = figures(r.figures)
        w.writerow([*(r.key[d] for d in by), *(_cell(fig[f]) for f in FIGURES)])
    return out.getvalue()


def sessions_csv(sessions: Sequence[usage.SessionUsage]) -> str:
    """One line per reservation over the whole period, most idle first."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    head = ["reservation", "user", "pool", "gpu_kind", "gpu_count", "start", "end", "status"]
    w.writerow([*head, "reason", *(COST_HEADERS.get(f, f) for f in FIGURES)])
    for s in sessions:
        h, fig = s.held, figures(s.figures)
        w.writerow(
            [
                h.id,
                h.user,
                h.pool,
                h.gpu_kind,
                h.gpu_count,
                h.start.isoformat(),
                h.end.isoformat(),
                h.status,
                h.reason or "",
                *(_cell(fig[f]) for f in FIGURES),
            ]
        )
    return out.getvalue()
