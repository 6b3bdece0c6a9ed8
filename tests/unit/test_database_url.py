"""Database URLs as operators and libpq write them reach the psycopg driver unchanged otherwise."""

from __future__ import annotations

import pytest

from berth.store.db import Database, sqlalchemy_url


@pytest.mark.parametrize(
    ("given", "used"),
    [
        # CloudNativePG's <cluster>-app Secret, key `uri`
        (
            "postgresql://berth:s3cr%40t@berth-db-rw.berth-system:5432/berth",
            "postgresql+psycopg://berth:s3cr%40t@berth-db-rw.berth-system:5432/berth",
        ),
        (
            "postgres://u@h/db?sslmode=verify-full",
            "postgresql+psycopg://u@h/db?sslmode=verify-full",
        ),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_urls_get_the_psycopg_driver(given: str, used: str) -> None:
    assert sqlalchemy_url(given) == used


def test_several_hosts_reach_libpq_as_one_list() -> None:
    db = Database(
        "postgresql://berth@/berth?host=10.0.0.1:5432&host=10.0.0.2:5432"
        "&target_session_attrs=read-write"
    )
    try:
        assert db.engine.url.drivername == "postgresql+psycopg"
        _, params = db.engine.dialect.create_connect_args(db.engine.url)
        assert params["host"] == "10.0.0.1,10.0.0.2"
        assert params["port"] == "5432,5432"
        assert params["target_session_attrs"] == "read-write"
    finally:
        db.dispose()
