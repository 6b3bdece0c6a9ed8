"""Sign-in, cookies, tokens, users and the audit trail through the HTTP API."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from berth.api.deps import clock
from berth.config import Settings
from berth.store.db import Database
from tests.api.conftest import Headers


def test_login_sets_a_cookie_and_returns_a_bearer_token(client: TestClient, alice: Headers) -> None:
    r = client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "pw-alice-long-enough"}
    )
    assert r.status_code == 200
    assert r.json()["user"] == {
        "username": "alice",
        "role": "user",
        "disabled": False,
        "created_at": None,
        "provider": "local",
    }
    assert "berth_session" in r.cookies
    assert "httponly" in r.headers["set-cookie"].lower()
    assert client.get("/api/v1/me").json()["username"] == "alice"  # by cookie
    client.cookies.clear()
    token = r.json()["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "user"


def test_wrong_password_is_401_problem_and_audited(
    client: TestClient, alice: Headers, admin: Headers
) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "alice", "password": "nope-nope"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert "wrong username or password" in r.json()["detail"]
    failed = client.get(
        "/api/v1/audit", params={"action": "auth.login_failed"}, headers=admin
    ).json()
    assert failed[0]["actor"] == "alice"


def test_no_token_and_bad_token_are_401(client: TestClient) -> None:
    assert client.get("/api/v1/me").status_code == 401
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer berth_forged"})
    assert r.status_code == 401
    assert r.json()["status"] == 401


def test_logout_revokes_the_session(client: TestClient, alice: Headers) -> None:
    assert client.post("/api/v1/auth/logout", headers=alice).status_code == 204
    assert client.get("/api/v1/me", headers=alice).status_code == 401


def test_api_tokens_are_shown_once_expire_and_revoke(
    app: FastAPI, client: TestClient, alice: Headers, now: datetime
) -> None:
    r = client.post("/api/v1/auth/tokens", json={"name": "ci", "expires_in_days": 1}, headers=alice)
    assert r.status_code == 201
    created = r.json()
    bearer = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    listed = client.get("/api/v1/auth/tokens", headers=alice).json()
    assert [t["name"] for t in listed] == ["ci"]
    assert "token" not in listed[0]  # the secret is never shown again

    app.dependency_overrides[clock] = lambda: now + timedelta(days=2)
    assert client.get("/api/v1/me", headers=bearer).status_code == 401  # expired
    app.dependency_overrides[clock] = lambda: now

    assert client.delete(f"/api/v1/auth/tokens/{created['id']}", headers=alice).status_code == 204
    assert client.get("/api/v1/me", headers=bearer).status_code == 401  # revoked


def test_users_admin_only_with_validation(
    client: TestClient, alice: Headers, admin: Headers
) -> None:
    body = {"username": "bob", "password": "a-long-enough-password", "role": "user"}
    assert client.post("/api/v1/users", json=body, headers=alice).status_code == 403
    assert client.post("/api/v1/users", json=body, headers=admin).status_code == 201
    dup = client.post("/api/v1/users", json=body, headers=admin)
    assert dup.status_code == 409
    assert "already exists" in dup.json()["detail"]
    bad = client.post("/api/v1/users", json={**body, "username": "Bob!"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "username"
    short = client.post(
        "/api/v1/users", json={**body, "username": "carol", "password": "x"}, headers=admin
    )
    assert short.status_code == 422
    names = [u["username"] for u in client.get("/api/v1/users", headers=admin).json()]
    assert names == ["alice", "bob", "root"]


def test_disabled_user_loses_access_and_last_admin_is_kept(
    client: TestClient, alice: Headers, admin: Headers
) -> None:
    r = client.patch("/api/v1/users/alice", json={"disabled": True}, headers=admin)
    assert r.json()["disabled"] is True
    assert client.get("/api/v1/me", headers=alice).status_code == 401
    last = client.patch("/api/v1/users/root", json={"role": "user"}, headers=admin)
    assert last.status_code == 409
    assert "last enabled admin" in last.json()["detail"]


def test_health_ready_metrics_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["checks"] == {"database": "ok", "schema": "ok"}
    client.get("/api/v1/me")
    assert "berth_http_request_seconds" in client.get("/metrics").text
    spec = client.get("/api/v1/openapi.json").json()
    assert "createReservation" in {
        op["operationId"] for p in spec["paths"].values() for op in p.values()
    }
    assert client.get("/api/v1/nope").status_code == 404


def test_status_reports_the_reconciler_heartbeat(
    client: TestClient, alice: Headers, db: Database, now: datetime
) -> None:
    from berth.store import heartbeats

    assert client.get("/api/v1/status", headers=alice).json()["reconciler"]["state"] == "never seen"
    with db.transaction() as tx:
        heartbeats.beat(
            tx,
            "reconciler",
            now - timedelta(seconds=5),
            {"cluster": "berth sim", "interval_seconds": 30, "sessions": {"ready": 2}},
        )
    running = client.get("/api/v1/status", headers=alice).json()["reconciler"]
    assert (running["state"], running["age_seconds"], running["details"]["cluster"]) == (
        "running",
        5.0,
        "berth sim",
    )
    with db.transaction() as tx:
        heartbeats.beat(tx, "reconciler", now - timedelta(minutes=5), {"interval_seconds": 30})
    assert client.get("/api/v1/status", headers=alice).json()["reconciler"]["state"] == "stale"
    with db.transaction() as tx:
        heartbeats.beat(
            tx, "reconciler", now, {"interval_seconds": 30, "error": "cluster unavailable"}
        )
    assert client.get("/api/v1/status", headers=alice).json()["reconciler"]["state"] == "failing"


def test_large_answers_are_gzipped(client: TestClient) -> None:
    r = client.get("/api/v1/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"


def test_repeated_wrong_passwords_are_slowed_at_their_source(
    client: TestClient, alice: Headers, settings: Settings
) -> None:
    wrong = {"username": "alice", "password": "not-her-password"}
    for _ in range(settings.login_max_failures):
        assert client.post("/api/v1/auth/login", json=wrong).status_code == 401
    right = {"username": "alice", "password": "pw-alice-long-enough"}
    r = client.post("/api/v1/auth/login", json=right)
    assert r.status_code == 429
    assert 0 < int(r.headers["retry-after"]) <= 900
    assert "too many wrong passwords" in r.json()["detail"]
    assert client.get("/api/v1/me", headers=alice).status_code == 200  # sessions stay valid
