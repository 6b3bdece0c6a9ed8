"""Schema migrations with Alembic, configured in code so no alembic.ini is needed.

Migrating takes a session-level advisory lock, so several processes starting at once (API
replicas, a reconciler) upgrade the schema exactly once.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from berth.store.crypto import SecretBox
from berth.store.locks import MIGRATION_LOCK

_KEY = {"k1": MIGRATION_LOCK[0], "k2": MIGRATION_LOCK[1]}


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("berth.store") / "migrations"))
    return cfg


def upgrade(engine: Engine, revision: str = "head", box: SecretBox | None = None) -> None:
    """Bring the schema to `revision` (default: the newest).

    `box` is for migrations that seal or open secrets (0006 seals workspace passwords kept in
    the clear before); one that needs it and has none refuses, naming what to run.
    """
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k1, :k2)"), _KEY)
        try:
            cfg = _config()
            cfg.attributes["connection"] = conn
            cfg.attributes["secret_box"] = box
            command.upgrade(cfg, revision)
            conn.commit()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k1, :k2)"), _KEY)
            conn.commit()


def current(engine: Engine) -> str | None:
    """The schema's revision, or None for an empty database."""
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar()
        if exists is None:
            return None
        rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return str(rev) if rev is not None else None


def head() -> str:
    """The newest revision this code knows."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(_config()).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    return str(heads[0])
