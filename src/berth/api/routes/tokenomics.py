"""Tokenomics: cost per million tokens, break-even against cloud APIs, sizing, and the
utilization measured from the platform's own bookings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictFloat, ValidationError

from berth.api import problems, schemas
from berth.api.deps import DB, User
from berth.domain import usage
from berth.domain.utilization import Activity, pool_utilization
from berth.store import pools, reservations
from berth.store import usage as store_usage
from berth.store.errors import Invalid, NotFound
from berth.tokenomics.report import (
    ReportError,
    breakeven_report,
    cost_report,
    curve_report,
    size_report,
)
from berth.tokenomics.scenario import BUILTIN, Scenario, load_builtin

router = APIRouter(prefix="/tokenomics", tags=["tokenomics"])


class TokenomicsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenario: Scenario | None = Field(
        default=None, description="A whole scenario; omitted: the reference C845A"
    )
    utilization: StrictFloat | None = Field(
        default=None, gt=0, le=1, description="Overrides the scenario's utilization"
    )
    api: str | None = Field(default=None, description="breakeven: the API to headline")


def _scenario(body: TokenomicsRequest) -> Scenario:
    scenario = body.scenario or load_builtin()
    if body.utilization is None:
        return scenario
    try:
        return scenario.with_utilization(body.utilization)
    except ValidationError as exc:
        raise Invalid("utilization", f"utilization: {exc.errors()[0]['msg']}") from exc


def _report(make: Any, *args: Any) -> dict[str, Any]:
    try:
        report: dict[str, Any] = make(*args)
    except ReportError as exc:
        raise Invalid("scenario", str(exc)) from exc
    return report


@router.post("/cost", operation_id="tokenomicsCost")
def cost(body: TokenomicsRequest, _: User) -> dict[str, Any]:
    """Annual cost by component, tokens per year, $/Mtok blended, by class, input and output."""
    return _report(cost_report, _scenario(body))


@router.post("/breakeven", operation_id="tokenomicsBreakeven")
def breakeven(body: TokenomicsRequest, _: User) -> dict[str, Any]:
    """The utilization at which on-prem $/Mtok equals each API's price (or never)."""
    return _report(breakeven_report, _scenario(body), body.api)


@router.post("/size", operation_id="tokenomicsSize")
def size(body: TokenomicsRequest, _: User) -> dict[str, Any]:
    """GPUs and servers a token demand needs; what a budget buys; the installed fleet's verdict."""
    return _report(size_report, _scenario(body))


@router.post("/curve", operation_id="tokenomicsCurve")
def curve(body: TokenomicsRequest, _: User) -> dict[str, Any]:
    """$/Mtok across utilization with API price lines and break-even points, for a chart."""
    return _report(curve_report, _scenario(body))


@router.get(
    "/scenarios/{name}", operation_id="tokenomicsScenario", responses=problems.responses(404)
)
def scenario(name: str, _: User) -> Scenario:
    """A built-in scenario (`c845a`, `fleet`): the defaults a form starts from."""
    if name not in BUILTIN:
        raise NotFound(f"no built-in scenario {name!r} (there are: {', '.join(BUILTIN)})")
    return load_builtin(name)


class Utilization(BaseModel):
    pool: str
    start: AwareDatetime
    end: AwareDatetime
    basis: Literal["booked", "measured"]
    booked_gpu_hours: float
    available_gpu_hours: float
    utilization: float = Field(description="booked (or, measured: used) over available")
    used_gpu_hours: float | None = Field(
        default=None, description="measured: Σ GPU activity × time × GPUs of the bookings"
    )
    measured_gpu_hours: float | None = Field(
        default=None, description="measured: booked GPU-hours that had an activity sample"
    )


_NO_COST = usage.CostTable(usage.Rate(0.0, 0.0, "none"))


@router.get("/utilization", operation_id="tokenomicsUtilization", responses=problems.responses(404))
def utilization(
    pool: str,
    from_: Annotated[schemas.Instant, Query(alias="from")],
    to: schemas.Instant,
    _: User,
    db: DB,
    basis: Literal["booked", "measured"] = "booked",
) -> Utilization:
    """Booked GPU-hours over available GPU-hours of a pool in [from, to) (MIG slices as
    fractions of a GPU): the utilization the model can run on instead of a guess. With
    `basis=measured`: the GPU-hours the bookings really used (the activity series, as the cost
    ledger counts them) over available; unmeasured time counts as unused."""
    if to <= from_:
        raise Invalid("to", "to: must be after from")
    activity = None
    with db.transaction() as tx:
        p = pools.get(tx, pool)
        held = reservations.booked(tx, pool, from_, to)
        if basis == "measured":
            period = usage.Period(from_, to, usage.zone_named("UTC"))
            spent = usage.total(store_usage.ledger(tx, period, "UTC", _NO_COST, pool=pool))
            activity = Activity(spent.used_gpu_hours, spent.measured_gpu_hours)
    try:
        m = pool_utilization(p, held, from_, to, activity)
    except ValueError as exc:
        raise Invalid("pool", f"pool: {exc}") from exc
    return Utilization(
        pool=pool,
        start=from_,
        end=to,
        basis=basis,
        booked_gpu_hours=m.booked_gpu_hours,
        available_gpu_hours=m.available_gpu_hours,
        utilization=m.utilization,
        used_gpu_hours=m.used_gpu_hours,
        measured_gpu_hours=m.measured_gpu_hours,
    )
