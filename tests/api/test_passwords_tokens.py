"""Password policy, revocation on a password change or disabling, API token lifetimes."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from berth.config import Settings
from berth.store import audit
from berth.store.db import Database
from tests.api.conftest import Headers

WEAK = {
    "short-pw": "at least 12 characters",
    "password1234": "too common",  # in the frequency lists
    "Password1234!": "too common",  # capitals and a symbol do not make it less common
    "qwertyuiop123": "too common",  # a keyboard walk
    "aaaaaaaaaaaaaaaa": "too common",  # a repeat
    "carolcarolcarol": "too common",  # the user's own name
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, token_days=7, token_max_days=30)


@pytest.mark.parametrize(("password", "why"), WEAK.items())
def test_weak_and_common_passwords_are_refused_naming_the_field(
    client: TestClient, admin: Headers, password: str, why: str
) -> None:
    body = {"username": "carol", "password": password}
    r = client.post("/api/v1/users", json=body, headers=admin)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "password"
    assert r.json()["detail"].startswith("password: ")
    assert why in r.json()["detail"]
    r = client.patch("/api/v1/users/root", json={"password": password}, headers=admin)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "password"


def test_a_long_uncommon_password_without_composition_rules_is_taken(
    client: TestClient, admin: Headers
) -> None:
    body = {"username": "carol", "password": "violet kettle harbour"}  # no digit, no capital
    assert client.post("/api/v1/users", json=body, headers=admin).status_code == 201


def _api_token(client: TestClient, who: Headers, **body: Any) -> Any:
    r = client.post("/api/v1/auth/tokens", json={"name": "ci", **body}, headers=who)
    return r


def test_a_new_password_revokes_every_session_and_token(
    client: TestClient, alice: Headers, admin: Headers, db: Database
) -> None:
    token = _api_token(client, alice).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    r = client.patch(
        "/api/v1/users/alice", json={"password": "a-brand-new-passphrase"}, headers=admin
    )
    assert r.status_code == 200
    assert client.get("/api/v1/me", headers=alice).status_code == 401  # the session
    assert client.get("/api/v1/me", headers=bearer).status_code == 401  # the API token
    assert client.get("/api/v1/me", headers=admin).status_code == 200  # nobody else's
    with db.transaction() as tx:
        (entry,) = audit.query(tx, action="user.update", limit=1)
        assert entry.details == {"password_changed": True, "tokens_revoked": 2}
    login = {"username": "alice", "password": "a-brand-new-passphrase"}
    assert client.post("/api/v1/auth/login", json=login).status_code == 200


def test_disabling_revokes_so_enabling_again_brings_nothing_back(
    client: TestClient, alice: Headers, admin: Headers
) -> None:
    bearer = {"Authorization": f"Bearer {_api_token(client, alice).json()['token']}"}
    assert client.patch("/api/v1/users/alice", json={"disabled": True}, headers=admin).is_success
    assert client.patch("/api/v1/users/alice", json={"disabled": False}, headers=admin).is_success
    assert client.get("/api/v1/me", headers=alice).status_code == 401
    assert client.get("/api/v1/me", headers=bearer).status_code == 401


def test_a_role_change_alone_revokes_nothing(
    client: TestClient, alice: Headers, admin: Headers
) -> None:
    assert client.patch("/api/v1/users/alice", json={"role": "admin"}, headers=admin).is_success
    assert client.get("/api/v1/me", headers=alice).status_code == 200


def test_token_lifetime_is_capped_by_the_setting(client: TestClient, alice: Headers) -> None:
    r = _api_token(client, alice, expires_in_days=31)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "expires_in_days"
    assert "at most 30 days" in r.json()["detail"]
    assert _api_token(client, alice, expires_in_days=30).status_code == 201


def test_a_token_cannot_mint_one_that_outlives_it(
    client: TestClient, alice: Headers, now: datetime
) -> None:
    parent = _api_token(client, alice, expires_in_days=3).json()
    by_token = {"Authorization": f"Bearer {parent['token']}"}
    longer = _api_token(client, by_token, expires_in_days=4)
    assert longer.status_code == 422
    assert "cannot outlive" in longer.json()["detail"]
    # the default (7 days) is cut to what the parent has left
    child = _api_token(client, by_token).json()
    assert child["expires_at"] == parent["expires_at"]
    assert _api_token(client, by_token, expires_in_days=3).status_code == 201
    # a sign-in session is not an API token: it mints the default lifetime
    from_session = _api_token(client, alice).json()
    expected = (now + timedelta(days=7)).isoformat().replace("+00:00", "Z")
    assert from_session["expires_at"] in (expected, (now + timedelta(days=7)).isoformat())


def test_the_default_token_lifetime_must_fit_the_maximum(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="BERTH_TOKEN_MAX_DAYS"):
        Settings(data_dir=tmp_path, token_days=90, token_max_days=30)
