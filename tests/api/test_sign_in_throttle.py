"""Sign-in throttling attacked: by name and address, a cap per address, no escape by headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from berth.config import Settings
from berth.store import audit, users
from berth.store.db import Database

OFFICE = ("198.51.100.7", 40000)  # one NAT address for a whole office
HOME = ("203.0.113.9", 40000)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, login_max_failures=3, login_max_failures_per_address=8)


@pytest.fixture
def people(db: Database) -> None:
    with db.transaction() as tx:
        for name in ("alice", "bob"):
            users.create(tx, name, f"pw-{name}-long-enough", "user", actor="test")


def _from(app: FastAPI, peer: tuple[str, int]) -> Iterator[TestClient]:
    with TestClient(app, client=peer) as c:
        yield c


@pytest.fixture
def office(app: FastAPI) -> Iterator[TestClient]:
    yield from _from(app, OFFICE)


@pytest.fixture
def home(app: FastAPI) -> Iterator[TestClient]:
    yield from _from(app, HOME)


def _login(c: TestClient, name: str, password: str | None = None, **kw: Any) -> int:
    body = {"username": name, "password": password or f"pw-{name}-long-enough"}
    return c.post("/api/v1/auth/login", json=body, **kw).status_code


def _failures(db: Database) -> int:
    with db.transaction() as tx:
        return len(audit.query(tx, action="auth.login_failed", limit=1000))


@pytest.mark.usefixtures("people")
def test_locking_out_one_name_locks_out_no_other_and_not_elsewhere(
    office: TestClient, home: TestClient
) -> None:
    for _ in range(3):
        assert _login(office, "alice", "guess-guess-guess") == 401
    r = office.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "pw-alice-long-enough"}
    )
    assert r.status_code == 429
    assert "for this user from your address" in r.json()["detail"]
    assert 0 < int(r.headers["retry-after"]) <= 900
    assert _login(office, "bob") == 200  # a colleague behind the same address
    assert _login(home, "alice") == 200  # alice herself, from elsewhere


@pytest.mark.usefixtures("people")
def test_spraying_many_names_from_one_address_hits_the_per_address_cap(
    office: TestClient, home: TestClient, db: Database
) -> None:
    for i in range(8):  # each name stays under its own limit of 3
        assert _login(office, f"name{i}", "guess-guess-guess") == 401
    r = office.post(
        "/api/v1/auth/login", json={"username": "bob", "password": "pw-bob-long-enough"}
    )
    assert r.status_code == 429
    assert "from your address" in r.json()["detail"]
    assert int(r.headers["retry-after"]) > 0
    # throttled attempts are answered without a verify and leave no trace to grow on
    for i in range(20):
        assert _login(office, f"other{i}", "guess-guess-guess") == 429
    assert _failures(db) == 8
    assert _login(home, "bob") == 200


@pytest.mark.usefixtures("people")
def test_a_spoofed_forwarded_for_does_not_escape_the_lockout(office: TestClient) -> None:
    for i in range(3):
        spoof = {"X-Forwarded-For": f"192.0.2.{i}"}
        assert _login(office, "alice", "guess-guess-guess", headers=spoof) == 401
    assert _login(office, "alice", headers={"X-Forwarded-For": "192.0.2.99"}) == 429


class _CountingHasher:
    def __init__(self, inner: Any) -> None:
        self.inner, self.verified = inner, 0

    def verify(self, hash: str, password: str) -> bool:
        self.verified += 1
        return bool(self.inner.verify(hash, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.usefixtures("people")
def test_an_unknown_name_costs_an_argon2_verify_like_a_known_one(
    office: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    hasher = _CountingHasher(users._hasher)
    monkeypatch.setattr(users, "_hasher", hasher)
    assert _login(office, "alice", "guess-guess-guess") == 401
    assert _login(office, "nobody-at-all", "guess-guess-guess") == 401
    assert hasher.verified == 2
    r = office.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"})
    assert r.json()["detail"] == "wrong username or password, or the account is disabled"
