"""Warm-up tied to bookings: a booking names its stage, the node's agent gets it in its plan,
reports progress, and the owner sees "waiting", "staging 63%", "staged" or "failed: ...".
Real PostgreSQL, the real app; the agent is played by requests with a node credential."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from berth.catalog import load_catalog_file
from berth.domain.cache_protocol import plan_from_json
from berth.domain.staging import lead_time
from berth.store.db import Database
from tests.api.cache_helpers import (
    DUO,
    HF,
    HF_SIZE,
    NODE,
    add_duo,
    booking,
    credential,
    model_state,
    report,
)
from tests.api.conftest import Headers

CATALOG = load_catalog_file()


def test_the_catalog_is_offered_to_signed_in_users_with_sizes(
    client: TestClient, alice: Headers
) -> None:
    assert client.get("/api/v1/catalog").status_code == 401
    c = client.get("/api/v1/catalog", headers=alice).json()
    assert [e["name"] for e in c["engines"]] == ["vllm", "ollama", "tgi", "triton"]
    hf = next(m for m in c["models"] if m["id"] == HF)
    assert (hf["size"], hf["files"], hf["format"]) == (HF_SIZE, 3, "huggingface")


def test_a_booking_keeps_its_stage_and_an_unknown_name_is_refused_naming_it(
    client: TestClient, alice: Headers, now: datetime
) -> None:
    r = client.post("/api/v1/reservations", json=booking(now, 2, 4), headers=alice)
    assert r.status_code == 201, r.text
    assert r.json()["stage"] == {"engines": ["vllm"], "models": [HF]}
    plain = booking(now, 5, 6)
    del plain["stage"]
    p = client.post("/api/v1/reservations", json=plain, headers=alice).json()
    assert (p["stage"], p["staging"]) == ({"engines": [], "models": []}, None)

    for stage, field, name in (
        ({"models": ["no-such-model"]}, "stage.models", "no-such-model"),
        ({"engines": ["nginx"], "models": [HF]}, "stage.engines", "nginx"),
    ):
        bad = booking(now, 8, 9)
        bad["stage"] = stage
        refused = client.post("/api/v1/reservations", json=bad, headers=alice)
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert name in refused.json()["detail"]
        assert refused.json()["errors"][0]["field"] == field
    listed = client.get("/api/v1/reservations", headers=alice).json()
    assert len(listed) == 2  # nothing was booked by the refused ones


def test_the_plan_lists_live_stages_in_order_of_start_with_lead_times(
    client: TestClient, alice: Headers, admin: Headers, db: Database, now: datetime
) -> None:
    node = credential(db, NODE, now)
    late = client.post("/api/v1/reservations", json=booking(now, 24, 26), headers=alice).json()
    ollama = booking(now, 3, 5, models=("demo-ollama-tiny", HF), engines=("ollama",))
    early = client.post("/api/v1/reservations", json=ollama, headers=alice).json()
    other_pool = {**booking(now, 1, 2), "pool": "duo"}
    add_duo(db)
    assert client.post("/api/v1/reservations", json=other_pool, headers=alice).status_code == 201

    def plan() -> dict[str, Any]:
        got = client.get(f"/api/v1/cache/nodes/{NODE}/plan", headers=node)
        assert got.status_code == 200, got.text
        return dict(got.json())

    p = plan()
    assert p["node"] == NODE
    # in order of start (then id); the other pool's booking is not this node's business
    assert [m["model"] for m in p["stage"]] == [HF, "demo-ollama-tiny"]
    hf = p["stage"][0]
    start = datetime.fromisoformat(early["start"])
    assert datetime.fromisoformat(hf["start"]) == start
    assert datetime.fromisoformat(hf["download_from"]) == start - lead_time(HF_SIZE, None)
    assert (hf["reservations"], hf["size_bytes"]) == (2, HF_SIZE)
    entry = next(m for m in p["models"] if m["id"] == HF)
    assert [f["path"] for f in entry["files"]] == [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
    ]
    assert entry["sources"] == [{"url": "http://127.0.0.1:8089/demo-hf-tiny"}]
    assert p["keep"] == [HF, "demo-ollama-tiny"]
    # the agent's own parser reads it
    parsed = plan_from_json(p)
    assert [s.model for s in parsed.stage] == [HF, "demo-ollama-tiny"]
    assert parsed.model(HF) == CATALOG.model(HF)

    # a measured bandwidth adds the transfer time to the lead
    r = client.put(
        f"/api/v1/cache/nodes/{NODE}/state", json=report(NODE, bandwidth=2**30), headers=node
    )
    assert r.status_code == 200, r.text
    p = plan()
    assert p["bandwidth_bytes_per_second"] == 2**30
    assert datetime.fromisoformat(p["stage"][0]["download_from"]) == start - lead_time(
        HF_SIZE, 2**30
    )

    # a canceled booking leaves the plan; what remains is the other one
    client.post(f"/api/v1/reservations/{early['id']}/cancel", headers=alice)
    p = plan()
    assert [m["model"] for m in p["stage"]] == [HF]
    assert datetime.fromisoformat(p["stage"][0]["start"]) == datetime.fromisoformat(late["start"])
    assert p["keep"] == [HF]


def test_staging_follows_the_reports_waiting_staging_staged_failed(
    client: TestClient, alice: Headers, db: Database, now: datetime
) -> None:
    node = credential(db, NODE, now)
    r = client.post("/api/v1/reservations", json=booking(now, 4, 6), headers=alice).json()
    start = datetime.fromisoformat(r["start"])
    waiting = r["staging"]
    assert waiting["state"] == "waiting"
    assert waiting["percent"] == 0
    assert datetime.fromisoformat(waiting["expected_start"]) == start - lead_time(HF_SIZE, None)

    def seen() -> dict[str, object]:
        got = client.get(f"/api/v1/reservations/{r['id']}", headers=alice).json()["staging"]
        ws = client.get(f"/api/v1/reservations/{r['id']}/workspace", headers=alice).json()
        assert ws["staging"] == got  # the workspace panel says the same
        return dict(got)

    queued = model_state(state="queued")
    client.put(f"/api/v1/cache/nodes/{NODE}/state", json=report(NODE, queued), headers=node)
    assert seen()["state"] == "waiting"

    part = model_state(downloaded=HF_SIZE * 63 // 100 + 1)
    put = client.put(f"/api/v1/cache/nodes/{NODE}/state", json=report(NODE, part), headers=node)
    assert put.status_code == 200, put.text
    s = seen()
    assert (s["state"], s["percent"], s["bytes_total"]) == ("staging", 63, HF_SIZE)

    done = model_state(state="ready", downloaded=HF_SIZE)
    client.put(f"/api/v1/cache/nodes/{NODE}/state", json=report(NODE, done), headers=node)
    assert (seen()["state"], seen()["percent"]) == ("staged", 100)

    broken = model_state(
        state="failed",
        downloaded=0,
        reason="integrity-mismatch",
        detail="model.safetensors: sha256",
    )
    client.put(f"/api/v1/cache/nodes/{NODE}/state", json=report(NODE, broken), headers=node)
    s = seen()
    assert (s["state"], s["reason"], s["detail"]) == (
        "failed",
        "integrity-mismatch",
        "model.safetensors: sha256",
    )
    assert (s["node"], s["model"]) == (NODE, HF)

    # a terminal reservation has no staging
    client.post(f"/api/v1/reservations/{r['id']}/cancel", headers=alice)
    after = client.get(f"/api/v1/reservations/{r['id']}", headers=alice).json()
    assert after["staging"] is None


def test_staging_aggregates_over_every_node_of_the_pool(
    client: TestClient, alice: Headers, db: Database, now: datetime
) -> None:
    add_duo(db)
    creds = {n: credential(db, n, now) for n in DUO}
    r = client.post(
        "/api/v1/reservations", json={**booking(now, 4, 6), "pool": "duo"}, headers=alice
    ).json()
    ready = model_state(state="ready", downloaded=HF_SIZE)
    client.put(
        "/api/v1/cache/nodes/duo-01/state", json=report("duo-01", ready), headers=creds["duo-01"]
    )
    s = client.get(f"/api/v1/reservations/{r['id']}", headers=alice).json()["staging"]
    assert (s["state"], s["percent"]) == ("staging", 50)  # one node of two has it
    assert s["models"] == [
        {"model": HF, "state": "staging", "percent": 50, "nodes_ready": 1, "nodes": 2}
    ]
    client.put(
        "/api/v1/cache/nodes/duo-02/state", json=report("duo-02", ready), headers=creds["duo-02"]
    )
    s = client.get(f"/api/v1/reservations/{r['id']}", headers=alice).json()["staging"]
    assert s["state"] == "staged"


def test_the_admin_view_lists_every_node_with_its_models_and_credential(
    client: TestClient, alice: Headers, admin: Headers, db: Database, now: datetime
) -> None:
    assert client.get("/api/v1/cache/nodes", headers=alice).status_code == 403
    node = credential(db, NODE, now)
    client.post("/api/v1/reservations", json=booking(now, 4, 6), headers=alice)
    [before] = client.get("/api/v1/cache/nodes", headers=admin).json()
    assert (before["reported_at"], before["missing"]) == (None, [HF])
    spare = model_state("old-model", state="ready", downloaded=HF_SIZE)
    part = model_state(downloaded=HF_SIZE // 4)
    client.put(
        f"/api/v1/cache/nodes/{NODE}/state",
        json=report(NODE, part, spare, bandwidth=5 * 2**20),
        headers=node,
    )
    [n] = client.get("/api/v1/cache/nodes", headers=admin).json()
    assert (n["node"], n["pools"], n["bandwidth_bytes_per_second"]) == (NODE, ["c845a"], 5 * 2**20)
    assert n["credential"]["prefix"].startswith("berthnode_")
    assert "token" not in n["credential"]
    assert datetime.fromisoformat(n["reported_at"]) == now
    by_model = {m["model"]: m for m in n["models"]}
    assert (by_model[HF]["percent"], by_model[HF]["needed"]) == (25, True)
    assert (by_model["old-model"]["state"], by_model["old-model"]["needed"]) == ("ready", False)
    assert n["missing"] == []


def test_a_report_replaces_the_nodes_rows(
    client: TestClient, admin: Headers, db: Database, now: datetime
) -> None:
    node = credential(db, NODE, now)
    url = f"/api/v1/cache/nodes/{NODE}/state"
    client.put(url, json=report(NODE, model_state(), model_state("b")), headers=node)
    client.put(url, json=report(NODE, model_state("b", state="evicted")), headers=node)
    [n] = client.get("/api/v1/cache/nodes", headers=admin).json()
    assert [(m["model"], m["state"]) for m in n["models"]] == [("b", "evicted")]


def test_a_credential_is_made_only_for_a_pools_node_and_each_is_audited(
    client: TestClient, admin: Headers, db: Database, now: datetime
) -> None:
    import pytest

    from berth.store import cache
    from berth.store.errors import NotFound

    with db.transaction() as tx, pytest.raises(NotFound):
        cache.issue_credential(tx, "not-a-node", now, actor="test")
    first = credential(db, NODE, now)
    second = credential(db, NODE, now + timedelta(minutes=1))
    with db.transaction() as tx:
        assert cache.revoke_credential(tx, NODE, now, actor="test")
        assert not cache.revoke_credential(tx, NODE, now, actor="test")
    audit = client.get("/api/v1/audit", params={"limit": 50}, headers=admin).json()
    actions = [(a["action"], a["target"]) for a in audit if a["action"].startswith("cache.")]
    assert actions == [
        ("cache.token_revoke", f"node:{NODE}"),
        ("cache.token_create", f"node:{NODE}"),
        ("cache.token_revoke", f"node:{NODE}"),
        ("cache.token_create", f"node:{NODE}"),
    ]
    assert first != second


def test_a_report_written_by_the_agents_own_serializer_is_accepted(
    client: TestClient, alice: Headers, db: Database, now: datetime
) -> None:
    from berth.domain.cache_protocol import ModelReport, NodeReport, report_to_json
    from berth.domain.catalog import ArtifactState, FailureReason

    node = credential(db, NODE, now)
    r = client.post("/api/v1/reservations", json=booking(now, 4, 6), headers=alice).json()
    body = report_to_json(
        NodeReport(
            node=NODE,
            reported_at=now,
            capacity_bytes=2**33,
            used_bytes=HF_SIZE // 2,
            bandwidth_bytes_per_second=118e6,
            models=(
                ModelReport(HF, ArtifactState.DOWNLOADING, HF_SIZE, HF_SIZE // 2, now),
                ModelReport(
                    "demo-ollama-tiny",
                    ArtifactState.QUEUED,
                    50333184,
                    reason=FailureReason.INSUFFICIENT_CAPACITY,
                    detail="waits for 48 MiB",
                ),
            ),
        )
    )
    put = client.put(f"/api/v1/cache/nodes/{NODE}/state", json=body, headers=node)
    assert put.status_code == 200, put.text
    assert put.json()["bandwidth_bytes_per_second"] == 118_000_000
    s = client.get(f"/api/v1/reservations/{r['id']}", headers=alice).json()["staging"]
    assert (s["state"], s["percent"]) == ("staging", 50)
