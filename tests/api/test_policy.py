"""The booking policy the UI reads: the deployment's settings, for signed-in users only."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from berth.api.app import create_app
from berth.config import Settings
from berth.store.db import Database
from tests.api.conftest import Headers


def test_the_defaults(client: TestClient, alice: Headers) -> None:
    r = client.get("/api/v1/policy", headers=alice)
    assert r.status_code == 200
    assert r.json() == {
        "grid_minutes": 15,
        "min_length_minutes": 15,
        "max_length_hours": 168,
        "horizon_days": 90,
        "max_concurrent_per_user": 4,
    }


def test_a_deployment_with_a_half_hour_grid(db: Database, tmp_path: Path, alice: Headers) -> None:
    settings = Settings(data_dir=tmp_path, grid_minutes=30, max_length_hours=12.5)
    with TestClient(create_app(settings, db)) as other:
        got = other.get("/api/v1/policy", headers=alice).json()
    assert (got["grid_minutes"], got["max_length_hours"]) == (30, 12.5)


def test_only_for_signed_in_users(client: TestClient) -> None:
    r = client.get("/api/v1/policy")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
