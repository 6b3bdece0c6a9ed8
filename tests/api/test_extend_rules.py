"""Extending obeys every rule booking obeys, under the same locks (user, then pool).

The concurrent tests go through a real HTTP server with threads; the invariants are checked
on the database afterwards.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from berth.config import Settings, load_pool_file, load_pool_text
from berth.domain.capacity import peak_usage
from berth.store import pools, users
from berth.store.db import Database
from berth.store.reservations import live_overlapping
from tests.api.conftest import Headers

LIMIT = 2
LAB = """
pools:
  - name: lab
    nodes:
      - name: lab-01
        cpu: 64
        memory: 256Gi
        storage_class: standard
        gpus:
          - {index: 0, model: L40S, memory: 48Gi}
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, max_concurrent_per_user=LIMIT)


def _window(day: datetime, start_h: float, end_h: float) -> tuple[str, str]:
    start = day + timedelta(hours=start_h)
    return start.isoformat(), (day + timedelta(hours=end_h)).isoformat()


def _body(day: datetime, start_h: float, end_h: float, pool: str = "c845a", **kw: Any) -> Any:
    start, end = _window(day, start_h, end_h)
    kind = "gpu" if pool == "lab" else "mig-1g.24gb"
    return {
        "pool": pool,
        "start": start,
        "end": end,
        "gpu": {"kind": kind, "count": 1},
        "cpu": 1,
        "memory": "1Gi",
        **kw,
    }


def _ok(r: Any) -> Any:
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_extend_is_refused_by_the_per_user_limit(
    client: TestClient, alice: Headers, admin: Headers, now: datetime
) -> None:
    day = now.replace(hour=0) + timedelta(days=1)
    a = _ok(client.post("/api/v1/reservations", json=_body(day, 10, 11), headers=alice))
    _ok(client.post("/api/v1/reservations", json=_body(day, 12, 13), headers=alice))
    _ok(client.post("/api/v1/reservations", json=_body(day, 14, 15), headers=alice))
    url = f"/api/v1/reservations/{a['id']}/extend"
    # to 12:30 overlaps one other: within the limit of 2
    _ok(client.post(url, json={"end": _window(day, 0, 12.5)[1]}, headers=alice))
    # to 14:30 would overlap two others, as a new booking of [10:00, 14:30) would
    r = client.post(url, json={"end": _window(day, 0, 14.5)[1]}, headers=alice)
    assert r.status_code == 409
    assert "limit is 2" in r.json()["detail"]
    # an admin acting is exempt, as when booking
    _ok(client.post(url, json={"end": _window(day, 0, 14.5)[1]}, headers=admin))


def test_extend_is_refused_past_the_policy(
    client: TestClient, alice: Headers, now: datetime
) -> None:
    day = now.replace(hour=0) + timedelta(days=1)
    a = _ok(client.post("/api/v1/reservations", json=_body(day, 10, 11), headers=alice))
    url = f"/api/v1/reservations/{a['id']}/extend"
    off_grid = client.post(url, json={"end": _window(day, 0, 11.1)[1]}, headers=alice)
    assert off_grid.status_code == 422
    too_long = client.post(url, json={"end": _window(day, 0, 10 + 169)[1]}, headers=alice)
    assert too_long.status_code == 422


def _sign_in(server: str, db: Database, names: list[str], role: str = "user") -> dict[str, str]:
    with db.transaction() as tx:
        for name in names:
            users.create(tx, name, f"pw-{name}-long-enough", role, actor="test")
    tokens = {}
    with httpx.Client(base_url=server) as c:
        for name in names:
            body = {"username": name, "password": f"pw-{name}-long-enough"}
            tokens[name] = c.post("/api/v1/auth/login", json=body).json()["token"]
    return tokens


def _race(server: str, calls: list[tuple[str, str, Any]]) -> list[httpx.Response]:
    """Send (token, path, body) POSTs all at once from threads."""

    def one(call: tuple[str, str, Any]) -> httpx.Response:
        token, path, body = call
        with httpx.Client(base_url=server, timeout=60) as c:
            return c.post(path, json=body, headers={"Authorization": f"Bearer {token}"})

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(one, calls))


def _tomorrow() -> datetime:
    return (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )


def _book(server: str, token: str, body: Any) -> Any:
    return _race(server, [(token, "/api/v1/reservations", body)])[0].json()


def test_concurrent_extends_and_bookings_never_pass_the_per_user_limit(
    server: str, db: Database
) -> None:
    """Alice holds A (pool c845a) and B (pool lab); at once she extends A into B's hours and
    books C (pool lab) between them, five times. Any one of these fits the limit of 2 alone;
    together only one may: extend and book lock different pools, only her user lock
    serializes them."""
    with db.transaction() as tx:
        pools.sync(tx, load_pool_file() + load_pool_text(LAB, "lab.yaml"))
    token = _sign_in(server, db, ["alice"])["alice"]
    day = _tomorrow()
    a = _book(server, token, _body(day, 10, 11))
    _book(server, token, _body(day, 12, 13, pool="lab"))
    extend = (token, f"/api/v1/reservations/{a['id']}/extend", {"end": _window(day, 0, 12.5)[1]})
    book_c = (token, "/api/v1/reservations", _body(day, 11.5, 12.25, pool="lab"))
    for _ in range(4):  # a few rounds, each from the same start
        responses = _race(server, [book_c, book_c, extend, book_c, book_c, book_c])
        codes = [r.status_code for r in responses]
        assert set(codes) <= {200, 201, 409}, codes
        assert sum(c in (200, 201) for c in codes) == 1, codes
        with db.transaction() as tx:
            live = tx.execute(
                text(
                    "SELECT count(*) FROM reservations WHERE status IN ('APPROVED', 'ACTIVE') "
                    "AND tstzrange(start_at, end_at) && tstzrange(:s, :e)"
                ),
                {"s": day + timedelta(hours=12), "e": day + timedelta(hours=12, minutes=15)},
            ).scalar()
            assert live == LIMIT  # B and the winner overlap 12:00-12:15; never a third
            # undo this round: cancel C, shorten A again
            tx.execute(
                text(
                    "UPDATE reservations SET status = 'CANCELED' WHERE pool = 'lab' "
                    "AND start_at = :s"
                ),
                {"s": day + timedelta(hours=11, minutes=30)},
            )
            tx.execute(
                text("UPDATE reservations SET end_at = :e WHERE id = :id"),
                {"e": day + timedelta(hours=11), "id": a["id"]},
            )


def test_concurrent_extends_never_exceed_capacity(server: str, db: Database) -> None:
    """Four users each hold one of the four slices until 11:00; a fifth holds two from 11:00.
    All four extend to 12:00 at once: exactly two fit."""
    names = [f"user{i}" for i in range(5)]
    tokens = _sign_in(server, db, names)
    day = _tomorrow()
    held = [_book(server, tokens[n], _body(day, 10, 11)) for n in names[:4]]
    _book(
        server, tokens["user4"], {**_body(day, 11, 12), "gpu": {"kind": "mig-1g.24gb", "count": 2}}
    )
    end = {"end": _window(day, 0, 12)[1]}
    responses = _race(
        server,
        [
            (tokens[n], f"/api/v1/reservations/{r['id']}/extend", end)
            for n, r in zip(names, held, strict=False)
        ],
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200, 409, 409], [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert r.json()["shortage"]["resource"] == "mig-1g.24gb"
    (pool_def,) = load_pool_file()
    with db.transaction() as tx:
        live = live_overlapping(tx, "c845a", day, day + timedelta(days=1))
    for resource, (peak, _) in peak_usage(live, day, day + timedelta(days=1)).items():
        assert peak <= pool_def.capacity()[resource], resource
