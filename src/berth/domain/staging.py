"""Warm-up tied to bookings: what a node's cache agent should hold, and how far a reservation's
staging has come. Pure; the store feeds it rows, the API shapes its results. See
docs/runtime.md ("The portal's side").

- `plan`: the models named by the `stage` of live reservations on the pools a node belongs to,
  one entry per model at its earliest start, in order of start, each with the time its download
  should begin (`download_from = start - lead_time(size, bandwidth)`), and `keep`: every model a
  live booking of those pools names (the agent never evicts one).
- `staging`: one reservation's models over its pool's nodes, from the nodes' reports: `staged`,
  `staging` (percent of bytes), `waiting` (nothing moved yet; with the time the first download
  is expected to begin), or `failed` (the first failure's reason and detail).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from berth.domain.catalog import ArtifactState, Catalog, FailureReason, Model, Stage

# The lead time: LEAD_MARGIN + LEAD_FACTOR x size / bandwidth, the node's measured bandwidth
# (no second term until it has measured one). The same rule as the agent's own (`berth
# cache-agent --lead`, 6 h by default, "plus 3 x its size / the measured bandwidth"), so the
# time a waiting reservation shows is when the agent really starts; `download_from` in the plan
# states it.
LEAD_MARGIN = timedelta(hours=6)
LEAD_FACTOR = 3


def lead_time(size: int, bandwidth: int | float | None) -> timedelta:
    """How long before a booking's start the download of `size` bytes should begin."""
    if not bandwidth or bandwidth <= 0:
        return LEAD_MARGIN
    return LEAD_MARGIN + timedelta(seconds=LEAD_FACTOR * size / bandwidth)


def stage_from_json(d: Mapping[str, object] | None) -> Stage:
    """A stored `reservations.stage` ({} or {"engines": [...], "models": [...]})."""
    if not d:
        return Stage()
    engines, models = d.get("engines", []), d.get("models", [])
    if not isinstance(engines, list) or not isinstance(models, list):
        raise TypeError(f"a stored stage is not {{engines: [...], models: [...]}}: {d!r}")
    return Stage(tuple(str(e) for e in engines), tuple(str(m) for m in models))


def stage_to_json(stage: Stage) -> dict[str, list[str]]:
    if not stage:
        return {}
    return {"engines": list(stage.engines), "models": list(stage.models)}


def normalized(stage: Stage) -> Stage:
    """Names in first-given order, each once."""
    return Stage(tuple(dict.fromkeys(stage.engines)), tuple(dict.fromkeys(stage.models)))


@dataclass(frozen=True)
class Booked:
    """A live reservation that names what it stages (the plan's input)."""

    reservation_id: uuid.UUID
    pool: str
    start: datetime
    end: datetime
    stage: Stage


@dataclass(frozen=True)
class PlanItem:
    model: Model
    start: datetime  # the earliest start of a live booking that names it
    download_from: datetime  # start - lead_time(size, bandwidth)
    reservations: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class Plan:
    node: str
    bandwidth: int | None  # the node's last measured bandwidth (bytes/s), if any
    items: tuple[PlanItem, ...]
    keep: tuple[str, ...]


def plan(node: str, booked: Iterable[Booked], catalog: Catalog, bandwidth: int | None) -> Plan:
    """What `node` should hold for `booked` (the live bookings of the pools it belongs to).

    A model the catalog no longer has is left out of both lists: the agent cannot download it,
    and it knows models only by their catalog entries (`cache_protocol.plan_from_json`)."""
    first: dict[str, datetime] = {}
    by_model: dict[str, list[uuid.UUID]] = {}
    for b in sorted(booked, key=lambda b: (b.start, str(b.reservation_id))):
        for m in b.stage.models:
            first.setdefault(m, b.start)
            by_model.setdefault(m, []).append(b.reservation_id)
    items = []
    for model_id, start in sorted(first.items(), key=lambda kv: (kv[1], kv[0])):
        model = catalog.model(model_id)
        if model is None:
            continue
        items.append(
            PlanItem(
                model=model,
                start=start,
                download_from=start - lead_time(model.size, bandwidth),
                reservations=tuple(by_model[model_id]),
            )
        )
    return Plan(node, bandwidth, tuple(items), tuple(sorted(i.model.id for i in items)))


@dataclass(frozen=True)
class Report:
    """One model on one node, as its agent reported it."""

    state: ArtifactState
    size: int
    downloaded: int
    reason: FailureReason | None = None
    detail: str | None = None


class StagingState(StrEnum):
    STAGED = "staged"
    STAGING = "staging"
    WAITING = "waiting"
    FAILED = "failed"


@dataclass(frozen=True)
class ModelStaging:
    model: str
    state: StagingState
    percent: int
    nodes_ready: int
    nodes: int


@dataclass(frozen=True)
class Staging:
    state: StagingState
    percent: int  # of the bytes over every (node, model): 100 only when all are ready
    bytes_done: int
    bytes_total: int
    expected_start: datetime | None = None  # waiting: when the first download should begin
    reason: str | None = None  # failed: the first failure's reason, node and model
    detail: str | None = None
    node: str | None = None
    model: str | None = None
    models: tuple[ModelStaging, ...] = field(default=())


def _percent(done: int, total: int) -> int:
    if total <= 0:
        return 100
    return min(100, done * 100 // total)


def _done(r: Report | None, size: int) -> int:
    if r is None:
        return 0
    if r.state is ArtifactState.READY:
        return size
    if r.state in (ArtifactState.DOWNLOADING, ArtifactState.QUEUED):
        # a queued model may hold partial files kept for resume
        return max(0, min(r.downloaded, size))
    return 0


def staging(
    stage: Stage,
    nodes: Sequence[str],
    reports: Mapping[str, Mapping[str, Report]],
    catalog: Catalog,
    start: datetime,
    bandwidths: Mapping[str, int | None],
) -> Staging | None:
    """One reservation's staging over its pool's `nodes` (None when it stages no model).

    `reports[node][model]`; a node that has not reported a model counts as absent. Sizes are
    the catalog's (a model it no longer has counts by its reported size)."""
    if not stage.models or not nodes:
        return None
    total = done = 0
    per_model = []
    failure: tuple[str, str, Report] | None = None
    expected: datetime | None = None
    moving = False
    for model_id in stage.models:
        model = catalog.model(model_id)
        m_total = m_done = ready = 0
        m_failed = m_moving = False
        for node in nodes:
            r = reports.get(node, {}).get(model_id)
            size = model.size if model is not None else (r.size if r else 0)
            m_total += size
            m_done += _done(r, size)
            if r is not None and r.state is ArtifactState.READY:
                ready += 1
            elif r is not None and r.state is ArtifactState.FAILED:
                m_failed = True
                if failure is None:
                    failure = (node, model_id, r)
            else:
                if r is not None and r.state is ArtifactState.DOWNLOADING:
                    m_moving = True
                when = start - lead_time(size, bandwidths.get(node))
                expected = when if expected is None else min(expected, when)
        total += m_total
        done += m_done
        moving = moving or m_moving or 0 < m_done < m_total
        if m_failed:
            m_state = StagingState.FAILED
        elif ready == len(nodes):
            m_state = StagingState.STAGED
        elif m_moving or m_done > 0:
            m_state = StagingState.STAGING
        else:
            m_state = StagingState.WAITING
        per_model.append(
            ModelStaging(model_id, m_state, _percent(m_done, m_total), ready, len(nodes))
        )
    models = tuple(per_model)
    percent = _percent(done, total)
    if failure is not None:
        node, model_id, r = failure
        return Staging(
            StagingState.FAILED,
            percent,
            done,
            total,
            reason=r.reason.value if r.reason else "failed",
            detail=r.detail,
            node=node,
            model=model_id,
            models=models,
        )
    if all(m.state is StagingState.STAGED for m in models):
        return Staging(StagingState.STAGED, 100, done, total, models=models)
    if moving or done > 0:
        return Staging(StagingState.STAGING, min(percent, 99), done, total, models=models)
    return Staging(StagingState.WAITING, 0, done, total, expected_start=expected, models=models)
