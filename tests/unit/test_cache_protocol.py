"""The agent ↔ portal bodies round-trip through JSON, and a bad body names its field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from berth.catalog import load_catalog_file
from berth.domain.cache_protocol import (
    ModelReport,
    NodeReport,
    Plan,
    ProtocolError,
    StageItem,
    plan_from_json,
    plan_to_json,
    report_from_json,
    report_to_json,
)
from berth.domain.catalog import ArtifactState, FailureReason

T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def _plan() -> Plan:
    models = load_catalog_file().models
    return Plan(
        node="gpu-a-0",
        stage=(StageItem(models[0].id, T0), StageItem(models[1].id, T0)),
        keep=(models[2].id,),
        models=models,
    )


def test_plan_round_trips() -> None:
    plan = _plan()
    assert plan_from_json(plan_to_json(plan)) == plan


def test_report_round_trips() -> None:
    report = NodeReport(
        node="gpu-a-0",
        reported_at=T0,
        capacity_bytes=10**12,
        used_bytes=10**9,
        reserved_bytes=5,
        high_watermark_bytes=9 * 10**11,
        low_watermark_bytes=8 * 10**11,
        bandwidth_bytes_per_second=1.5e8,
        models=(
            ModelReport("a", ArtifactState.READY, 10, 10, T0),
            ModelReport(
                "b", ArtifactState.FAILED, 10, 3, None, FailureReason.INTEGRITY_MISMATCH, "x"
            ),
        ),
    )
    assert report_from_json(report_to_json(report)) == report


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["stage"].__setitem__(0, {"model": "x", "start": "yesterday"}), "stage[0]"),
        (lambda d: d["keep"].append("Not An Id"), "keep[1]"),
        (lambda d: d["keep"].append("unknown-model"), "models"),
        (lambda d: d.__setitem__("node", 3), "node"),
    ],
)
def test_bad_plan_names_the_field(mutate: object, field: str) -> None:
    body = plan_to_json(_plan())
    mutate(body)  # type: ignore[operator]
    with pytest.raises(ProtocolError, match=field.replace("[", r"\[")):
        plan_from_json(body)
