"""Tokenomics through the API, and utilization measured from the bookings themselves."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from tests.api.conftest import Headers
from tests.api.test_reservations import body, iso


def test_cost_of_the_reference_scenario_and_an_override(client: TestClient, alice: Headers) -> None:
    base = client.post("/api/v1/tokenomics/cost", json={}, headers=alice)
    assert base.status_code == 200
    r = base.json()
    assert {"annual_cost", "tokens_per_year", "cost_per_mtok"} <= r.keys()
    doubled = client.post(
        "/api/v1/tokenomics/cost", json={"utilization": 0.8}, headers=alice
    ).json()
    half = client.post("/api/v1/tokenomics/cost", json={"utilization": 0.4}, headers=alice).json()
    assert doubled["tokens_per_year"] == 2 * half["tokens_per_year"]
    assert doubled["cost_per_mtok"] < half["cost_per_mtok"]


def test_bad_inputs_are_refused_with_their_field(client: TestClient, alice: Headers) -> None:
    r = client.post("/api/v1/tokenomics/cost", json={"utilization": 1.3}, headers=alice)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "utilization"
    scenario = client.get("/api/v1/tokenomics/scenarios/c845a", headers=alice).json()
    scenario["costs"]["electricity_price"] = -1
    bad = client.post("/api/v1/tokenomics/cost", json={"scenario": scenario}, headers=alice)
    assert bad.status_code == 422
    assert "electricity_price" in bad.json()["detail"]
    unknown = client.post("/api/v1/tokenomics/breakeven", json={"api": "nope"}, headers=alice)
    assert unknown.status_code == 422
    assert "no API named 'nope'" in unknown.json()["detail"]
    assert client.get("/api/v1/tokenomics/scenarios/nope", headers=alice).status_code == 404


def test_breakeven_size_and_curve(client: TestClient, alice: Headers) -> None:
    be = client.post("/api/v1/tokenomics/breakeven", json={}, headers=alice).json()
    assert {"breakeven_utilization", "api_price_per_mtok"} <= be.keys()
    assert client.post("/api/v1/tokenomics/size", json={}, headers=alice).status_code == 200
    assert client.post("/api/v1/tokenomics/curve", json={}, headers=alice).status_code == 200


def test_measured_utilization_counts_mig_slices_as_fractions(
    client: TestClient, alice: Headers, now: datetime
) -> None:
    client.post(
        "/api/v1/reservations", json=body(now, 0, 2, count=2), headers=alice
    )  # 2 x 1/4 GPU x 2 h
    client.post(
        "/api/v1/reservations", json=body(now, 1, 2, kind="gpu"), headers=alice
    )  # 1 GPU x 1 h
    canceled = client.post(
        "/api/v1/reservations", json=body(now, 2, 3, kind="gpu"), headers=alice
    ).json()
    client.post(f"/api/v1/reservations/{canceled['id']}/cancel", headers=alice)
    r = client.get(
        "/api/v1/tokenomics/utilization",
        params={"pool": "c845a", "from": iso(now), "to": iso(now + timedelta(hours=4))},
        headers=alice,
    ).json()
    # booked: 2 * 0.25 * 2 + 1 * 1 = 2 GPU-hours; available: 2 GPUs * 4 h = 8 GPU-hours
    assert r["booked_gpu_hours"] == 2.0
    assert r["available_gpu_hours"] == 8.0
    assert r["utilization"] == 0.25
