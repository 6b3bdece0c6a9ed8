"""Workspace passwords at rest: sealed in the row, shown only when asked, audited for admins,
wiped when the session ends; the keys and the migration that sealed the old clear ones."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import text

from berth.config import Settings
from berth.domain.reservation import Status
from berth.store import audit, migrate, sessions
from berth.store.crypto import SealError, SecretBox, load_box
from berth.store.db import Database
from tests.api.conftest import Headers

NS = "berth-secret-test"


def _raw(db: Database, rid: uuid.UUID) -> str | None:
    with db.transaction() as tx:
        value = tx.execute(
            text("SELECT password_sealed FROM sessions WHERE reservation_id = :r"), {"r": rid}
        ).scalar()
    return None if value is None else str(value)


def _book(client: TestClient, who: Headers, now: datetime) -> uuid.UUID:
    start = now.replace(minute=0) + timedelta(hours=1)
    body = {
        "pool": "c845a",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
        "gpu": {"kind": "mig-1g.24gb", "count": 1},
    }
    r = client.post("/api/v1/reservations", json=body, headers=who)
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["id"])


@pytest.fixture
def ready(
    client: TestClient, alice: Headers, db: Database, settings: Settings, now: datetime
) -> tuple[uuid.UUID, str]:
    """Alice's reservation with a ready workspace, as the reconciler leaves it."""
    rid = _book(client, alice, now)
    with db.transaction() as tx:
        password = sessions.start(tx, rid, NS, now, settings.secret_box())
        sessions.mark_ready(tx, rid, "https://ws.example", now)
    return rid, password


def test_the_row_holds_only_a_sealed_password(
    db: Database, settings: Settings, ready: tuple[uuid.UUID, str], now: datetime
) -> None:
    rid, password = ready
    raw = _raw(db, rid)
    assert raw is not None
    assert password not in raw
    assert raw.startswith("gAAAAA")  # a Fernet token
    assert settings.secret_box().open(raw) == password
    with pytest.raises(SealError):
        SecretBox.ephemeral().open(raw)  # another key does not open it
    with db.transaction() as tx:  # a second provisioning attempt gets the same password
        assert sessions.start(tx, rid, NS, now, settings.secret_box()) == password


def test_the_password_is_shown_only_when_asked_and_an_admin_read_is_audited(
    client: TestClient,
    alice: Headers,
    admin: Headers,
    db: Database,
    ready: tuple[uuid.UUID, str],
) -> None:
    rid, password = ready
    url = f"/api/v1/reservations/{rid}/workspace"
    assert client.get(url, headers=alice).json()["password"] is None  # the 5-second poll
    assert (
        client.get(url, params={"include_password": True}, headers=alice).json()["password"]
        == password
    )
    with db.transaction() as tx:
        assert audit.query(tx, action="workspace.password_read") == []  # the owner's own
    r = client.get(url, params={"include_password": True}, headers=admin)
    assert r.json()["password"] == password
    with db.transaction() as tx:
        (entry,) = audit.query(tx, action="workspace.password_read")
        assert (entry.actor, entry.target, entry.details) == (
            "root",
            f"reservation:{rid}",
            {"owner": "alice"},
        )


@pytest.mark.parametrize("phase", ["tearing_down", "gone", "failed"])
def test_the_password_is_wiped_when_the_session_ends(
    client: TestClient,
    alice: Headers,
    db: Database,
    ready: tuple[uuid.UUID, str],
    now: datetime,
    phase: str,
) -> None:
    rid, _ = ready
    with db.transaction() as tx:  # what the executor's Teardown, Finish and Fail do
        sessions.finish(tx, rid, Status.CANCELED, "canceled", now)
        sessions.set_phase(tx, rid, phase, now)
    assert _raw(db, rid) is None
    url = f"/api/v1/reservations/{rid}/workspace"
    assert (
        client.get(url, params={"include_password": True}, headers=alice).json()["password"] is None
    )


def test_a_password_sealed_with_other_keys_is_a_clear_error(
    client: TestClient,
    alice: Headers,
    db: Database,
    now: datetime,
) -> None:
    rid = _book(client, alice, now)
    with db.transaction() as tx:
        sessions.start(tx, rid, NS, now, SecretBox.ephemeral())
        sessions.mark_ready(tx, rid, "https://ws.example", now)
    r = client.get(
        f"/api/v1/reservations/{rid}/workspace",
        params={"include_password": True},
        headers=alice,
    )
    assert r.status_code == 500
    assert "BERTH_SECRET_KEY" in r.json()["detail"]


def test_a_reconciler_without_the_sealing_key_sets_a_new_password_rather_than_stall(
    client: TestClient, alice: Headers, db: Database, now: datetime
) -> None:
    rid = _book(client, alice, now)
    old, new = SecretBox.ephemeral(), SecretBox.ephemeral()
    with db.transaction() as tx:
        first = sessions.start(tx, rid, NS, now, old)
    with db.transaction() as tx:
        second = sessions.start(tx, rid, NS, now, new)  # a key lost or rotated badly
    assert second != first
    with db.transaction() as tx:
        assert sessions.start(tx, rid, NS, now, new) == second  # stable from then on
        (entry,) = audit.query(tx, action="session.password_reset")
    assert entry.actor == "reconciler"
    assert entry.target == f"reservation:{rid}"


# ---- keys ---------------------------------------------------------------------------------


def test_the_dev_key_is_made_once_in_the_data_dir_private(tmp_path: Path) -> None:
    box = load_box(None, None, tmp_path / "data")
    key_file = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    sealed = box.seal("x")
    assert load_box(None, None, tmp_path / "data").open(sealed) == "x"  # the same key again
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["secret.key"]


def test_keys_from_the_environment_or_a_file_and_rotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_old = SecretBox([old]).seal("before")
    monkeypatch.setenv("BERTH_SECRET_KEY", f"{new},{old}")
    rotated = Settings(data_dir=tmp_path).secret_box()
    assert rotated.open(sealed_old) == "before"  # old secrets still open
    assert SecretBox([new]).open(rotated.seal("after")) == "after"  # new ones use the new key
    assert not (tmp_path / "secret.key").exists()
    monkeypatch.delenv("BERTH_SECRET_KEY")
    mounted = tmp_path / "mounted-key"
    mounted.write_text(new + "\n")
    monkeypatch.setenv("BERTH_SECRET_KEY_FILE", str(mounted))
    assert Settings(data_dir=tmp_path).secret_box().open(rotated.seal("y")) == "y"
    with pytest.raises(ValueError, match="not a Fernet key"):
        SecretBox(["not-a-key"])


# ---- the migration ------------------------------------------------------------------------


def _to(db: Database, revision: str, box: SecretBox | None, down: bool = False) -> None:
    with db.engine.connect() as conn:
        cfg = migrate._config()
        cfg.attributes["connection"] = conn
        cfg.attributes["secret_box"] = box
        (command.downgrade if down else command.upgrade)(cfg, revision)
        conn.commit()


def test_the_migration_seals_open_sessions_and_drops_ended_ones(
    client: TestClient,
    alice: Headers,
    db: Database,
    now: datetime,
    book_two: Callable[[], tuple[uuid.UUID, uuid.UUID]],
) -> None:
    box = SecretBox.ephemeral()
    live, ended = book_two()
    _to(db, "0005", box, down=True)
    try:
        with db.transaction() as tx:
            for rid, phase in ((live, "ready"), (ended, "gone")):
                tx.execute(
                    text(
                        "INSERT INTO sessions (reservation_id, namespace, phase, attempts, "
                        "password, started_at, updated_at) VALUES (:r, :ns, :p, 0, :pw, :t, :t)"
                    ),
                    {"r": rid, "ns": f"ns-{phase}", "p": phase, "pw": f"clear-{phase}", "t": now},
                )
        with pytest.raises(RuntimeError, match="needs the secret key"):
            _to(db, "head", None)
    finally:
        _to(db, "head", box)
    assert box.open(_raw(db, live) or "") == "clear-ready"
    assert _raw(db, ended) is None
    _to(db, "0005", box, down=True)  # and back: the downgrade opens what is sealed
    try:
        with db.transaction() as tx:
            clear = tx.execute(
                text("SELECT password FROM sessions WHERE reservation_id = :r"), {"r": live}
            ).scalar()
        assert clear == "clear-ready"
    finally:
        _to(db, "head", box)


@pytest.fixture
def book_two(
    client: TestClient, alice: Headers, now: datetime
) -> Callable[[], tuple[uuid.UUID, uuid.UUID]]:
    def make() -> tuple[uuid.UUID, uuid.UUID]:
        first = _book(client, alice, now)
        second = _book(client, alice, now + timedelta(hours=3))
        return first, second

    return make
