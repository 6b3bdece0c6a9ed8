"""What schema fuzzing found, pinned: input PostgreSQL cannot hold is a 422 that names the field
(never a 500), a wrong method is a 405 listing the right ones, and the OpenAPI document states
every problem as the problem+json it is."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from berth.api.app import create_app
from berth.config import Settings
from berth.store.db import Database
from tests.api.conftest import Headers
from tests.api.test_reservations import body

PROBLEM = "application/problem+json"


def fields(r: object) -> list[str]:
    return [e["field"] for e in r.json()["errors"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/audit?actor=a%00b", "query.actor"),  # the fuzzer's first 500
        ("/api/v1/audit?action=%00", "query.action"),
        ("/api/v1/calendar?from=2030-01-07T00:00Z&to=2030-01-08T00:00Z&pool=%00", "query.pool"),
        ("/api/v1/reservations?pool=c%00", "query.pool"),
        (
            "/api/v1/pools/c%00/availability?start=2030-01-07T00:00Z&end=2030-01-08T00:00Z",
            "path.pool",
        ),
    ],
)
def test_a_nul_character_in_a_parameter_is_422_naming_it(
    client: TestClient, admin: Headers, path: str, field: str
) -> None:
    r = client.get(path, headers=admin)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert fields(r) == [field]


def test_a_nul_character_in_a_body_is_422_naming_the_field(
    client: TestClient, alice: Headers, now: datetime
) -> None:
    r = client.post("/api/v1/auth/tokens", json={"name": "ci\x00"}, headers=alice)
    assert r.status_code == 422, r.text
    assert fields(r) == ["name"]
    r = client.post(
        "/api/v1/auth/login", json={"username": "alice\x00", "password": "pw-alice-long"}
    )
    assert r.status_code == 422, r.text
    r = client.post("/api/v1/reservations", json=body(now, 1, 2, pool="c\x00"), headers=alice)
    assert r.status_code == 422, r.text
    assert fields(r) == ["pool"]


def test_an_id_no_row_can_have_is_422_not_a_database_error(
    client: TestClient, alice: Headers, admin: Headers
) -> None:
    r = client.delete(f"/api/v1/auth/tokens/{2**64}", headers=alice)
    assert r.status_code == 422, r.text
    r = client.get(f"/api/v1/audit?before_id={2**63}", headers=admin)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "query", ["from=0.5&to=2030-01-08T00:00Z", "from=1893974400&to=2030-01-08T00:00Z"]
)
def test_a_number_is_not_a_date_time(client: TestClient, alice: Headers, query: str) -> None:
    r = client.get(f"/api/v1/calendar?{query}", headers=alice)
    assert r.status_code == 422, r.text
    assert fields(r) == ["query.from"]


def test_json_true_is_not_a_number(client: TestClient, alice: Headers, now: datetime) -> None:
    r = client.post(
        "/api/v1/auth/tokens", json={"name": "ci", "expires_in_days": True}, headers=alice
    )
    assert r.status_code == 422, r.text
    r = client.post("/api/v1/reservations", json=body(now, 1, 2, count=True), headers=alice)
    assert r.status_code == 422, r.text
    assert fields(r) == ["gpu.count"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/v1/me", "GET, HEAD"),
        ("OPTIONS", "/api/v1/users", "GET, HEAD, POST"),  # two routes share the path
        ("POST", "/api/v1/policy", "GET, HEAD"),
        ("DELETE", "/api/v1/reservations/0f3c1e9a-52a4-4a4e-9a47-4c5d2a6c3b1e", "GET, HEAD"),
    ],
)
def test_a_wrong_method_is_405_with_every_allowed_one(
    client: TestClient, alice: Headers, method: str, path: str, allow: str
) -> None:
    r = client.request(method, path, headers=alice)
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == allow
    assert r.headers["content-type"] == PROBLEM


def test_an_unknown_api_path_is_404_whatever_the_method(client: TestClient) -> None:
    for method in ("GET", "PUT", "DELETE"):
        r = client.request(method, "/api/v1/nothing-here")
        assert r.status_code == 404, (method, r.text)


def test_the_document_states_every_problem_as_problem_json(app: FastAPI) -> None:
    doc = app.openapi()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "Problem" in doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            answers = op["responses"]
            if path.startswith("/api/v1/"):
                assert {"401", "503"} <= set(answers), (method, path)
                assert "Retry-After" in answers["503"]["headers"]
            for status, answer in answers.items():
                if status.startswith("4") or (status == "503" and path.startswith("/api/")):
                    assert list(answer["content"]) == [PROBLEM], (method, path, status)


def test_a_database_that_does_not_answer_is_503_with_retry_after(tmp_path: Path) -> None:
    """Nothing listens on this socket: every route that reads the database says so with 503."""
    gone = Database(f"postgresql+psycopg://postgres@/berth?host={tmp_path}", pool_size=1)
    with TestClient(create_app(Settings(data_dir=tmp_path), gone)) as c:
        for r in (
            c.get("/api/v1/me", headers={"Authorization": "Bearer berth_whatever"}),
            c.post("/api/v1/auth/login", json={"username": "alice", "password": "x" * 12}),
        ):
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == PROBLEM
            assert int(r.headers["retry-after"]) > 0
        assert c.get("/readyz").status_code == 503
    gone.dispose()
