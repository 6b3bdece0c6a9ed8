"""An API client on the real app and the real test database, with a fixed clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from berth.api.app import create_app
from berth.api.deps import clock
from berth.config import Settings
from berth.store import users
from berth.store.db import Database


@pytest.fixture
def app(db: Database, settings: Settings, now: datetime) -> FastAPI:
    app = create_app(settings, db)
    app.dependency_overrides[clock] = lambda: now
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


Headers = dict[str, str]


@pytest.fixture
def user_headers(db: Database, client: TestClient) -> Callable[..., Headers]:
    """Create a user (password 'pw-<name>-long-enough') and return bearer headers for them."""

    def make(name: str, role: str = "user") -> Headers:
        with db.transaction() as tx:
            users.create(tx, name, f"pw-{name}-long-enough", role, actor="test")
        r = client.post(
            "/api/v1/auth/login", json={"username": name, "password": f"pw-{name}-long-enough"}
        )
        assert r.status_code == 200, r.text
        client.cookies.clear()  # each caller authenticates by its header, not a shared cookie
        return {"Authorization": f"Bearer {r.json()['token']}"}

    return make


@pytest.fixture
def alice(user_headers: Callable[..., Headers]) -> Headers:
    return user_headers("alice")


@pytest.fixture
def admin(user_headers: Callable[..., Headers]) -> Headers:
    return user_headers("root", "admin")
