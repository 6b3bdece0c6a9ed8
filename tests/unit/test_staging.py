"""The pure rules of warm-up: lead time, the node's plan, a reservation's staging."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from berth.catalog import load_catalog_file
from berth.domain.catalog import ArtifactState, FailureReason, Stage
from berth.domain.staging import (
    LEAD_MARGIN,
    Booked,
    Report,
    StagingState,
    lead_time,
    plan,
    stage_from_json,
    stage_to_json,
    staging,
)

CATALOG = load_catalog_file()
HF = "demo-hf-tiny"
OLLAMA = "demo-ollama-tiny"
T0 = datetime(2030, 1, 7, 9, tzinfo=UTC)


def test_lead_time_grows_with_size_and_shrinks_with_bandwidth() -> None:
    assert timedelta(hours=6) == LEAD_MARGIN  # the agent's default --lead
    gib = 2**30
    assert lead_time(gib, 2**20) == LEAD_MARGIN + timedelta(seconds=3 * 1024)
    assert lead_time(gib, None) == lead_time(gib, 0) == LEAD_MARGIN  # unmeasured
    assert lead_time(2 * gib, 2**20) > lead_time(gib, 2**20) > lead_time(gib, 2**24)


def test_stage_round_trips_through_its_stored_form() -> None:
    s = Stage(("vllm",), (HF,))
    assert stage_from_json(stage_to_json(s)) == s
    assert stage_to_json(Stage()) == {}
    assert stage_from_json({}) == Stage()


def _booked(hours: float, *models: str) -> Booked:
    start = T0 + timedelta(hours=hours)
    return Booked(uuid.uuid4(), "c845a", start, start + timedelta(hours=1), Stage((), models))


def test_the_plan_orders_models_by_their_earliest_start_and_keeps_every_one_named() -> None:
    later, sooner = _booked(5, HF), _booked(2, OLLAMA, HF, "gone-from-catalog")
    p = plan("n1", [later, sooner], CATALOG, None)
    assert [(i.model.id, i.start) for i in p.items] == [
        (HF, sooner.start),
        (OLLAMA, sooner.start),
    ]
    hf = p.items[0]
    assert hf.download_from == sooner.start - lead_time(hf.model.size, None)
    assert set(hf.reservations) == {later.reservation_id, sooner.reservation_id}
    # a model the catalog lost cannot be named to the agent (it knows models by their entries)
    assert p.keep == ("demo-hf-tiny", "demo-ollama-tiny")


def _report(state: ArtifactState, downloaded: int = 0, **kw: object) -> Report:
    size = CATALOG.model(HF).size  # type: ignore[union-attr]
    return Report(state, size, downloaded, **kw)  # type: ignore[arg-type]


def test_staging_over_two_nodes() -> None:
    stage = Stage((), (HF,))
    size = CATALOG.model(HF).size  # type: ignore[union-attr]
    nodes = ["a", "b"]

    def of(reports: dict[str, dict[str, Report]]) -> tuple[StagingState, int]:
        s = staging(stage, nodes, reports, CATALOG, T0, {"a": None, "b": 2**30})
        assert s is not None
        return s.state, s.percent

    assert of({}) == (StagingState.WAITING, 0)
    queued = {"a": {HF: _report(ArtifactState.QUEUED)}}
    assert of(queued) == (StagingState.WAITING, 0)
    half_a = {"a": {HF: _report(ArtifactState.DOWNLOADING, size // 2)}}
    assert of(half_a) == (StagingState.STAGING, 25)
    one_ready = {"a": {HF: _report(ArtifactState.READY, size)}}
    assert of(one_ready) == (StagingState.STAGING, 50)
    both = {n: {HF: _report(ArtifactState.READY, size)} for n in nodes}
    assert of(both) == (StagingState.STAGED, 100)
    partial = {"a": {HF: _report(ArtifactState.QUEUED, size // 2)}}  # kept for resume
    assert of(partial) == (StagingState.STAGING, 25)
    evicted = {**both, "b": {HF: _report(ArtifactState.EVICTED)}}
    assert of(evicted) == (StagingState.STAGING, 50)
    # a nearly complete download is never shown as 100%
    almost = {**both, "b": {HF: _report(ArtifactState.DOWNLOADING, size - 1)}}
    assert of(almost)[1] == 99


def test_waiting_says_when_the_first_download_should_begin() -> None:
    size = CATALOG.model(HF).size  # type: ignore[union-attr]
    s = staging(Stage((), (HF,)), ["a", "b"], {}, CATALOG, T0, {"a": 2**20, "b": None})
    assert s is not None
    # node a measured 1 MiB/s, b nothing yet (the margin alone): a must begin first
    assert s.expected_start == T0 - lead_time(size, 2**20)
    assert s.expected_start < T0 - lead_time(size, None)


def test_a_failure_on_any_node_names_its_reason_node_and_model() -> None:
    failed = _report(ArtifactState.FAILED, reason=FailureReason.SOURCE_UNAVAILABLE, detail="503")
    s = staging(Stage((), (HF,)), ["a", "b"], {"b": {HF: failed}}, CATALOG, T0, {})
    assert s is not None
    assert (s.state, s.reason, s.detail, s.node, s.model) == (
        StagingState.FAILED,
        "source-unavailable",
        "503",
        "b",
        HF,
    )


def test_nothing_to_stage_is_none() -> None:
    assert staging(Stage(("vllm",), ()), ["a"], {}, CATALOG, T0, {}) is None
    assert staging(Stage((), (HF,)), [], {}, CATALOG, T0, {}) is None
