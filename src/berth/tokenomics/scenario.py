"""Tokenomics scenarios: the YAML a person edits, checked before any figure is computed.

A cost model fed a utilization of 1.3 or model shares that add up to 0.9 still prints a
number, and that number ends up in a budget. So every scenario passes through these pydantic
models, which refuse such input with `file:line: field: message` (berth.yamlfile), and only
then becomes the model's plain dataclasses. The same models serve as the request bodies of
the tokenomics API routes, so a file and an HTTP request are checked by one set of rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from berth.tokenomics.breakeven import CloudApi
from berth.tokenomics.model import (
    Costs,
    Fleet,
    ModelClass,
    Redundancy,
    Server,
    Workload,
)
from berth.tokenomics.sizing import ClassDemand, Demand
from berth.yamlfile import FileError, load_model, load_model_text

BUILTIN = ("c845a", "fleet")
REFERENCE = "c845a"
SHARE_TOLERANCE = 1e-6
DAYS_PER_YEAR = 365.0

Money = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


def _refuse(title: str, problems: list[tuple[tuple[str | int, ...], str, Any]]) -> ValidationError:
    """A ValidationError whose locations point at the offending fields (and so their lines)."""
    return ValidationError.from_exception_data(
        title,
        [
            InitErrorDetails(type=PydanticCustomError("scenario", msg), loc=loc, input=value)
            for loc, msg, value in problems
        ],
    )


class ServerSpec(_Spec):
    """One server model: prices in dollars, power in watts at the wall."""

    model: str = ""
    gpu_model: str = ""
    gpus: int = Field(ge=1)
    gpu_price: Money
    platform_price: Money
    idle_watts: float = Field(ge=0)
    load_watts: float = Field(ge=0)
    mig_slices_per_gpu: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _load_not_below_idle(self) -> Self:
        if self.load_watts < self.idle_watts:
            raise _refuse(
                "ServerSpec",
                [(("load_watts",), "must be >= idle_watts", self.load_watts)],
            )
        return self


class RedundancySpec(_Spec):
    """N+k spares, or a percentage of the serving servers (rounded up) — one of the two."""

    n_plus: int = Field(default=0, ge=0)
    percent: float = Field(default=0.0, ge=0, le=100)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if self.n_plus and self.percent:
            raise ValueError("give n_plus or percent, not both")
        return self


class FleetSpec(_Spec):
    """How many servers serve tokens; spares from `redundancy` come on top."""

    servers: int = Field(ge=1)
    redundancy: RedundancySpec = RedundancySpec()


class CostSpec(_Spec):
    """Finance terms and running costs; rates are fractions per year, money in dollars."""

    life_years: float = Field(gt=0, le=30)
    cost_of_capital: Fraction = 0.0
    maintenance_rate: Fraction = 0.0
    software_per_gpu: Money = 0.0
    software_per_server: Money = 0.0
    electricity_price: Money
    pue: float = Field(ge=1, le=3)
    facility_per_server: Money = 0.0
    staff_fte: float = Field(default=0.0, ge=0)
    staff_cost_per_fte: Money = 0.0


class ModelClassSpec(_Spec):
    """A model class: its share of requests, its replica's GPUs, throughput and request size."""

    name: str = Field(min_length=1)
    share: Fraction
    gpus: float | None = Field(default=None, gt=0)
    mig_slices: int | None = Field(default=None, ge=1)
    output_tokens_per_s: float = Field(gt=0)
    input_tokens: float = Field(ge=0)
    output_tokens: float = Field(gt=0)

    @model_validator(mode="after")
    def _gpus_or_slices(self) -> Self:
        if (self.gpus is None) == (self.mig_slices is None):
            raise ValueError("give either gpus or mig_slices per replica")
        return self


class WorkloadSpec(_Spec):
    """The traffic mix; shares of requests must add up to 1."""

    output_input_cost_ratio: float = Field(default=4.0, gt=0)
    classes: list[ModelClassSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _shares_and_names(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        total = sum(c.share for c in self.classes)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            problems.append(
                (("classes",), f"shares must add up to 1, they add up to {total:g}", total)
            )
        seen: set[str] = set()
        for i, c in enumerate(self.classes):
            if c.name in seen:
                problems.append((("classes", i, "name"), f"duplicate class {c.name!r}", c.name))
            seen.add(c.name)
        if problems:
            raise _refuse("WorkloadSpec", problems)
        return self


class ApiSpec(_Spec):
    """A cloud API's list prices, $/Mtok; `model_class` compares it with that class only."""

    name: str = Field(min_length=1)
    input_price: Money
    output_price: Money
    model_class: str | None = None
    source: str = ""


class DemandSpec(_Spec):
    """Tokens (input and output) per day wanted from one model class."""

    model: str = Field(min_length=1)
    tokens_per_day: Money


class SizingSpec(_Spec):
    """Token demand, its peakiness and the fleet's target peak utilization; a budget maybe."""

    peak_to_average: float = Field(ge=1)
    target_peak_utilization: float = Field(gt=0, le=1)
    demand: list[DemandSpec] = Field(min_length=1)
    budget_per_year: Money | None = None


@dataclass(frozen=True)
class ScenarioInputs:
    """A checked scenario as the model's dataclasses."""

    name: str
    fleet: Fleet
    workload: Workload
    utilization: float
    apis: tuple[CloudApi, ...]
    practical_ceiling: float
    demand: Demand | None
    budget_per_year: float | None


class Scenario(_Spec):
    """A whole tokenomics scenario: hardware, costs, utilization, workload, APIs, sizing."""

    name: str = Field(min_length=1)
    description: str = ""
    server: ServerSpec
    fleet: FleetSpec
    costs: CostSpec
    utilization: float = Field(gt=0, le=1)
    workload: WorkloadSpec
    apis: list[ApiSpec] = []
    practical_ceiling: float = Field(default=0.85, gt=0, le=1)
    sizing: SizingSpec | None = None

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        slices = self.server.mig_slices_per_gpu
        for i, c in enumerate(self.workload.classes):
            where: tuple[str | int, ...] = ("workload", "classes", i)
            if c.gpus is not None and c.gpus > self.server.gpus:
                msg = f"a replica cannot span servers: {c.gpus:g} > {self.server.gpus} GPUs"
                problems.append(((*where, "gpus"), msg, c.gpus))
            if c.mig_slices is not None:
                if slices is None:
                    msg = "needs server.mig_slices_per_gpu"
                    problems.append(((*where, "mig_slices"), msg, c.mig_slices))
                elif c.mig_slices > slices:
                    msg = f"more than the {slices} slices of one GPU"
                    problems.append(((*where, "mig_slices"), msg, c.mig_slices))
        names = {c.name for c in self.workload.classes}
        known = f"(classes: {', '.join(sorted(names))})"
        for i, a in enumerate(self.apis):
            if a.model_class is not None and a.model_class not in names:
                msg = f"unknown model class {a.model_class!r} {known}"
                problems.append((("apis", i, "model_class"), msg, a.model_class))
        for i, d in enumerate(self.sizing.demand if self.sizing else []):
            if d.model not in names:
                msg = f"unknown model class {d.model!r} {known}"
                problems.append((("sizing", "demand", i, "model"), msg, d.model))
        if self.sizing and not any(d.tokens_per_day > 0 for d in self.sizing.demand):
            problems.append((("sizing", "demand"), "asks for no tokens", 0))
        if problems:
            raise _refuse("Scenario", problems)
        return self

    def with_utilization(self, utilization: float | None) -> Scenario:
        """The same scenario at another utilization, checked by the same rules."""
        if utilization is None:
            return self
        return Scenario.model_validate({**self.model_dump(), "utilization": utilization})

    def to_domain(self) -> ScenarioInputs:
        """The model's view of this scenario (every figure already checked)."""
        s, c = self.server, self.costs
        fleet = Fleet(
            server=Server(s.gpus, s.gpu_price, s.platform_price, s.idle_watts, s.load_watts),
            servers=self.fleet.servers,
            redundancy=Redundancy(self.fleet.redundancy.n_plus, self.fleet.redundancy.percent),
            costs=Costs(
                life_years=c.life_years,
                cost_of_capital=c.cost_of_capital,
                maintenance_rate=c.maintenance_rate,
                software_per_gpu=c.software_per_gpu,
                software_per_server=c.software_per_server,
                electricity_price=c.electricity_price,
                pue=c.pue,
                facility_per_server=c.facility_per_server,
                staff_fte=c.staff_fte,
                staff_cost_per_fte=c.staff_cost_per_fte,
            ),
        )
        workload = Workload(
            classes=tuple(
                ModelClass(
                    name=m.name,
                    share=m.share,
                    gpus_per_replica=(
                        m.gpus
                        if m.gpus is not None
                        else (m.mig_slices or 0) / (s.mig_slices_per_gpu or 1)
                    ),
                    output_tokens_per_s=m.output_tokens_per_s,
                    input_tokens=m.input_tokens,
                    output_tokens=m.output_tokens,
                )
                for m in self.workload.classes
            ),
            output_input_cost_ratio=self.workload.output_input_cost_ratio,
        )
        demand = None
        if self.sizing is not None:
            demand = Demand(
                classes=tuple(
                    ClassDemand(d.model, d.tokens_per_day * DAYS_PER_YEAR)
                    for d in self.sizing.demand
                ),
                peak_to_average=self.sizing.peak_to_average,
                target_peak_utilization=self.sizing.target_peak_utilization,
            )
        return ScenarioInputs(
            name=self.name,
            fleet=fleet,
            workload=workload,
            utilization=self.utilization,
            apis=tuple(
                CloudApi(a.name, a.input_price, a.output_price, a.model_class) for a in self.apis
            ),
            practical_ceiling=self.practical_ceiling,
            demand=demand,
            budget_per_year=self.sizing.budget_per_year if self.sizing else None,
        )


def load_builtin(name: str = REFERENCE) -> Scenario:
    """One of the scenarios shipped with Berth (`c845a`, the reference, or `fleet`)."""
    if name not in BUILTIN:
        raise ValueError(f"no built-in scenario {name!r} (there are: {', '.join(BUILTIN)})")
    resource = resources.files("berth.tokenomics").joinpath("scenarios", f"{name}.yaml")
    return load_scenario_text(resource.read_text(encoding="utf-8"), f"scenarios/{name}.yaml")


@contextmanager
def _yaml_errors_as_file_error(path: str) -> Iterator[None]:
    # berth.yamlfile lets PyYAML errors through for an empty value (`key:`); keep them
    # a FileError so callers show one clear message instead of a traceback.
    try:
        yield
    except yaml.YAMLError as exc:
        raise FileError(path, [f"0: not valid YAML: {exc}"]) from exc


def load_scenario_text(text: str, path: str = "<string>") -> Scenario:
    """A scenario from text in memory (an upload, a test); raises FileError naming the line."""
    with _yaml_errors_as_file_error(path):
        return load_model_text(Scenario, text, path)


def load_scenario(path: Path | None = None) -> Scenario:
    """The scenario in `path`, or the reference C845A one; raises FileError naming the line."""
    if path is None:
        return load_builtin(REFERENCE)
    with _yaml_errors_as_file_error(str(path)):
        return load_model(Scenario, path)
