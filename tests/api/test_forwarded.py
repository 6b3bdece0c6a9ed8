"""The client address audit records see: X-Forwarded-For only from a configured proxy."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from berth.config import Settings
from berth.store import audit, users
from berth.store.db import Database

PROXY = ("10.0.0.2", 40000)
STRANGER = ("203.0.113.9", 40000)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, forwarded_allow_ips="10.0.0.0/8")


def _login_client(
    app: FastAPI, db: Database, peer: tuple[str, int], headers: dict[str, str]
) -> str:
    """Sign in as alice from `peer` with `headers`; the address the audit log recorded."""
    with db.transaction() as tx:
        if not users.list_all(tx):
            users.create(tx, "alice", "pw-alice-long-enough", "user", actor="test")
    with TestClient(app, client=peer) as c:
        body = {"username": "alice", "password": "pw-alice-long-enough"}
        assert c.post("/api/v1/auth/login", json=body, headers=headers).status_code == 200
    with db.transaction() as tx:
        (entry,) = audit.query(tx, action="auth.login", limit=1)
        return str(entry.client)


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    app: FastAPI, db: Database
) -> None:
    spoof = {"X-Forwarded-For": "198.51.100.7"}
    assert _login_client(app, db, STRANGER, spoof) == "203.0.113.9"


def test_the_address_a_trusted_proxy_saw_is_recorded(app: FastAPI, db: Database) -> None:
    # the client's own "6.6.6.6" is to the left of what the proxy appended: not believed
    forwarded = {"X-Forwarded-For": "6.6.6.6, 198.51.100.7"}
    assert _login_client(app, db, PROXY, forwarded) == "198.51.100.7"


def test_by_default_no_peer_is_trusted_not_even_loopback(db: Database, tmp_path: Path) -> None:
    from berth.api.app import create_app

    app = create_app(Settings(data_dir=tmp_path), db)
    spoof = {"X-Forwarded-For": "198.51.100.7"}
    assert _login_client(app, db, ("127.0.0.1", 40000), spoof) == "127.0.0.1"
