"""The agent endpoints answer only the node's own credential, and a bad report changes nothing.
An attacker's tries: no credential, a user's token (even an admin's), a session cookie, another
node's credential, a revoked or expired one, a body for another node, malformed bodies."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from berth.store import cache
from berth.store.db import Database
from tests.api.cache_helpers import DUO, HF, NODE, add_duo, credential, model_state, report
from tests.api.conftest import Headers


def _paths(node: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"/api/v1/cache/nodes/{node}/plan", None),
        ("PUT", f"/api/v1/cache/nodes/{node}/state", report(node, model_state())),
    ]


def _stored(client: TestClient, admin: Headers, node: str) -> Any:
    nodes = client.get("/api/v1/cache/nodes", headers=admin).json()
    return next(n for n in nodes if n["node"] == node)


def test_only_the_nodes_own_live_credential_is_accepted(
    client: TestClient, alice: Headers, admin: Headers, db: Database, now: datetime
) -> None:
    add_duo(db)
    own = credential(db, "duo-01", now)
    other = credential(db, "duo-02", now)
    expired = credential(db, NODE, now - timedelta(days=2), expires_at=now - timedelta(seconds=1))
    before = _stored(client, admin, "duo-01")
    tries: list[tuple[str, dict[str, str], int]] = [
        ("no credential", {}, 401),
        ("a garbage credential", {"Authorization": "Bearer berthnode_nope"}, 401),
        ("a user's API token", alice, 403),
        ("an admin's token", admin, 403),
        ("another node's credential", other, 403),
        ("an expired credential", expired, 401),
        ("basic auth", {"Authorization": "Basic ZHVvOnNlY3JldA=="}, 401),
    ]
    for method, path, body in _paths("duo-01"):
        for what, headers, status in tries:
            r = client.request(method, path, json=body, headers=headers)
            assert r.status_code == status, (what, method, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        assert client.request(method, path, json=body, headers=own).status_code == 200
    # a session cookie is not a node credential either (and a browser would send one)
    login = client.post(
        "/api/v1/auth/login", json={"username": "root", "password": "pw-root-long-enough"}
    )
    assert login.status_code == 200
    assert client.get("/api/v1/cache/nodes/duo-01/plan").status_code == 401
    client.cookies.clear()
    assert before["reported_at"] is None
    assert _stored(client, admin, "duo-02")["reported_at"] is None  # never written by duo-01


def test_a_revoked_or_replaced_credential_stops_working(
    client: TestClient, db: Database, now: datetime
) -> None:
    old = credential(db, NODE, now)
    plan = f"/api/v1/cache/nodes/{NODE}/plan"
    assert client.get(plan, headers=old).status_code == 200
    new = credential(db, NODE, now)  # a new one revokes the old
    assert client.get(plan, headers=old).status_code == 401
    assert client.get(plan, headers=new).status_code == 200
    with db.transaction() as tx:
        cache.revoke_credential(tx, NODE, now, actor="test")
    assert client.get(plan, headers=new).status_code == 401


def test_a_node_no_pool_includes_any_more_is_not_found(
    client: TestClient, db: Database, now: datetime
) -> None:
    add_duo(db)
    gone = credential(db, "duo-02", now)
    add_duo(db, nodes=(DUO[0],))  # duo-02 left the pool file
    for method, path, body in _paths("duo-02"):
        r = client.request(method, path, json=body, headers=gone)
        assert r.status_code == 404, r.text


def test_a_body_for_another_node_is_refused_and_changes_nothing(
    client: TestClient, admin: Headers, db: Database, now: datetime
) -> None:
    add_duo(db)
    own = credential(db, "duo-01", now)
    r = client.put("/api/v1/cache/nodes/duo-01/state", json=report("duo-02"), headers=own)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "node"
    # nor can the path be bent: duo-01's credential on duo-02's path
    r = client.put("/api/v1/cache/nodes/duo-02/state", json=report("duo-02"), headers=own)
    assert r.status_code == 403
    for n in DUO:
        assert _stored(client, admin, n)["reported_at"] is None


def _malformed() -> list[tuple[str, dict[str, Any]]]:
    good = report(NODE, model_state(downloaded=10))
    cases: list[tuple[str, dict[str, Any]]] = []

    def with_model(what: str, **change: Any) -> None:
        cases.append((what, {**good, "models": [{**good["models"][0], **change}]}))

    with_model("an unknown state", state="borrowed")
    with_model("a negative size", size_bytes=-1)
    with_model("more downloaded than the size", downloaded_bytes=10**12)
    with_model("a size as a string", size_bytes="100")
    with_model("a model id with a slash", model="../etc")
    with_model("a failure without a reason", state="failed")
    with_model("a reason with a ready model", state="ready", reason="integrity-mismatch")
    with_model("an unknown reason", state="failed", reason="cosmic-rays")
    with_model("an unknown field", owner="mallory")
    with_model("a detail with NUL", state="failed", reason="source-unavailable", detail="a\x00b")
    with_model("a last_used as a number", last_used=1700000000)
    cases.append(("a model listed twice", {**good, "models": good["models"] * 2}))
    cases.append(("no capacity", {k: v for k, v in good.items() if k != "capacity_bytes"}))
    cases.append(("a negative bandwidth", {**good, "bandwidth_bytes_per_second": -5}))
    cases.append(("an infinite bandwidth", {**good, "bandwidth_bytes_per_second": "Infinity"}))
    cases.append(("no reported_at", {k: v for k, v in good.items() if k != "reported_at"}))
    cases.append(("models not a list", {**good, "models": {HF: "ready"}}))
    cases.append(("an unknown top-level field", {**good, "pool": "c845a"}))
    return cases


@pytest.mark.parametrize(("what", "body"), _malformed(), ids=[c[0] for c in _malformed()])
def test_a_malformed_report_is_422_and_changes_nothing(
    client: TestClient, admin: Headers, db: Database, now: datetime, what: str, body: Any
) -> None:
    own = credential(db, NODE, now)
    url = f"/api/v1/cache/nodes/{NODE}/state"
    first = report(NODE, model_state(downloaded=5))
    assert client.put(url, json=first, headers=own).status_code == 200
    before = _stored(client, admin, NODE)
    r = client.put(url, json=body, headers=own)
    assert r.status_code == 422, (what, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    assert _stored(client, admin, NODE) == before


def test_a_body_that_is_not_json_is_refused(
    client: TestClient, db: Database, now: datetime
) -> None:
    own = credential(db, NODE, now)
    r = client.put(
        f"/api/v1/cache/nodes/{NODE}/state",
        content=b"{not json",
        headers={**own, "Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422)


def test_a_node_credential_opens_nothing_else(
    client: TestClient, db: Database, now: datetime
) -> None:
    own = credential(db, NODE, now)
    for path in ("/api/v1/me", "/api/v1/reservations", "/api/v1/catalog", "/api/v1/cache/nodes"):
        assert client.get(path, headers=own).status_code == 401, path
