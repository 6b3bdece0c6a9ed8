"""The cache agent ↔ portal protocol: the bodies of the two per-node endpoints (docs/runtime.md).

- `GET /api/v1/cache/nodes/{node}/plan` → `Plan`: what the node should hold. `stage` lists the
  models named by live reservations (PENDING or ACTIVE) of the node's pools, each with the
  earliest start among them, in order of start; `keep` names every model a live booking or
  running session of the node's pools needs (never evicted); `models` carries the catalog
  entry (files with size and sha256, sources) of every model named in `stage` or `keep`, so the
  agent needs nothing but this body.
- `PUT /api/v1/cache/nodes/{node}/state` ← `NodeReport`: the node's capacity, use, measured
  bandwidth, and one `ModelReport` per model it holds or was asked for. It replaces the node's
  rows.

Pure: dataclasses and their JSON forms (`to_json` / `from_json`, inverse of each other). Times
are ISO 8601 strings with an offset (UTC). A body that does not parse raises `ProtocolError`
naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from berth.domain.catalog import (
    ID,
    ArtifactState,
    Catalog,
    FailureReason,
    Model,
)
from berth.domain.catalog import (
    from_json as catalog_from_json,
)
from berth.domain.catalog import (
    to_json as catalog_to_json,
)

PLAN_PATH = "/api/v1/cache/nodes/{node}/plan"
STATE_PATH = "/api/v1/cache/nodes/{node}/state"
TOKEN_ENV = "BERTH_CACHE_AGENT_TOKEN"  # noqa: S105 (a variable name: the per-node credential)


class ProtocolError(ValueError):
    """A plan or state body that does not parse; the message names the field."""


@dataclass(frozen=True)
class StageItem:
    """A model to stage and the earliest start of the live reservations that name it."""

    model: str
    start: datetime


@dataclass(frozen=True)
class Plan:
    node: str
    stage: tuple[StageItem, ...] = ()  # in order of start
    keep: tuple[str, ...] = ()  # never evicted
    models: tuple[Model, ...] = ()  # catalog entries of every model in stage or keep

    def model(self, model_id: str) -> Model | None:
        return next((m for m in self.models if m.id == model_id), None)

    def wanted(self) -> frozenset[str]:
        return frozenset(s.model for s in self.stage) | frozenset(self.keep)


@dataclass(frozen=True)
class ModelReport:
    model: str
    state: ArtifactState
    size_bytes: int  # the catalog size of the whole tree
    downloaded_bytes: int = 0  # on disk so far (== size_bytes when ready)
    last_used: datetime | None = None  # last time the plan named it (stage or keep)
    reason: FailureReason | None = None  # set when state is `failed`
    detail: str = ""  # one line: why it failed, or what it waits for


@dataclass(frozen=True)
class NodeReport:
    node: str
    reported_at: datetime
    capacity_bytes: int
    used_bytes: int  # published trees + staging on disk
    reserved_bytes: int = 0  # reserved for admitted downloads (each one's full size)
    high_watermark_bytes: int = 0
    low_watermark_bytes: int = 0
    bandwidth_bytes_per_second: float | None = None  # measured; None before any download
    models: tuple[ModelReport, ...] = field(default=())

    def model(self, model_id: str) -> ModelReport | None:
        return next((m for m in self.models if m.model == model_id), None)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def _time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise ProtocolError(f"{name}: expected an ISO 8601 time")
    try:
        t = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ProtocolError(f"{name}: {exc}") from exc
    if t.tzinfo is None:
        raise ProtocolError(f"{name}: a time needs an offset (UTC)")
    return t


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"{name}: expected an integer ≥ 0")
    return value


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"{name}: expected a string")
    return value


def _model_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not ID.match(value):
        raise ProtocolError(f"{name}: expected a model id")
    return value


def _list(d: dict[str, Any], key: str) -> list[Any]:
    value = d.get(key, [])
    if not isinstance(value, list):
        raise ProtocolError(f"{key}: expected a list")
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{name}: expected an object")
    return value


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "node": plan.node,
        "stage": [{"model": s.model, "start": iso(s.start)} for s in plan.stage],
        "keep": list(plan.keep),
        "models": catalog_to_json(Catalog(models=plan.models))["models"],
    }


def plan_from_json(value: Any) -> Plan:
    d = _object(value, "plan")
    stage = []
    for i, s in enumerate(_list(d, "stage")):
        s = _object(s, f"stage[{i}]")
        stage.append(
            StageItem(
                _model_id(s.get("model"), f"stage[{i}].model"),
                _time(s.get("start"), f"stage[{i}].start"),
            )
        )
    keep = tuple(_model_id(k, f"keep[{i}]") for i, k in enumerate(_list(d, "keep")))
    try:
        models = catalog_from_json({"models": _list(d, "models")}).models
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"models: {exc!r}") from exc
    plan = Plan(
        node=_str(d.get("node"), "node"),
        stage=tuple(sorted(stage, key=lambda s: (s.start, s.model))),
        keep=keep,
        models=models,
    )
    missing = sorted(m for m in plan.wanted() if plan.model(m) is None)
    if missing:
        raise ProtocolError(f"models: no catalog entry for {', '.join(missing)}")
    return plan


def report_to_json(report: NodeReport) -> dict[str, Any]:
    return {
        "node": report.node,
        "reported_at": iso(report.reported_at),
        "capacity_bytes": report.capacity_bytes,
        "used_bytes": report.used_bytes,
        "reserved_bytes": report.reserved_bytes,
        "high_watermark_bytes": report.high_watermark_bytes,
        "low_watermark_bytes": report.low_watermark_bytes,
        "bandwidth_bytes_per_second": report.bandwidth_bytes_per_second,
        "models": [
            {
                "model": m.model,
                "state": m.state.value,
                "size_bytes": m.size_bytes,
                "downloaded_bytes": m.downloaded_bytes,
                "last_used": None if m.last_used is None else iso(m.last_used),
                "reason": None if m.reason is None else m.reason.value,
                "detail": m.detail,
            }
            for m in report.models
        ],
    }


def report_from_json(value: Any) -> NodeReport:
    d = _object(value, "state")
    models = []
    for i, m in enumerate(_list(d, "models")):
        m = _object(m, f"models[{i}]")
        name = f"models[{i}]"
        try:
            state = ArtifactState(_str(m.get("state"), f"{name}.state"))
        except ValueError as exc:
            raise ProtocolError(f"{name}.state: {exc}") from exc
        reason = m.get("reason")
        try:
            parsed_reason = None if reason is None else FailureReason(reason)
        except ValueError as exc:
            raise ProtocolError(f"{name}.reason: {exc}") from exc
        last_used = m.get("last_used")
        models.append(
            ModelReport(
                model=_model_id(m.get("model"), f"{name}.model"),
                state=state,
                size_bytes=_int(m.get("size_bytes"), f"{name}.size_bytes"),
                downloaded_bytes=_int(m.get("downloaded_bytes", 0), f"{name}.downloaded_bytes"),
                last_used=None if last_used is None else _time(last_used, f"{name}.last_used"),
                reason=parsed_reason,
                detail=_str(m.get("detail", ""), f"{name}.detail"),
            )
        )
    bandwidth = d.get("bandwidth_bytes_per_second")
    if bandwidth is not None and (
        isinstance(bandwidth, bool) or not isinstance(bandwidth, int | float) or bandwidth < 0
    ):
        raise ProtocolError("bandwidth_bytes_per_second: expected a number ≥ 0 or null")
    return NodeReport(
        node=_str(d.get("node"), "node"),
        reported_at=_time(d.get("reported_at"), "reported_at"),
        capacity_bytes=_int(d.get("capacity_bytes"), "capacity_bytes"),
        used_bytes=_int(d.get("used_bytes"), "used_bytes"),
        reserved_bytes=_int(d.get("reserved_bytes", 0), "reserved_bytes"),
        high_watermark_bytes=_int(d.get("high_watermark_bytes", 0), "high_watermark_bytes"),
        low_watermark_bytes=_int(d.get("low_watermark_bytes", 0), "low_watermark_bytes"),
        bandwidth_bytes_per_second=None if bandwidth is None else float(bandwidth),
        models=tuple(models),
    )
