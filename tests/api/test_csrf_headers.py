"""CSRF origin checks, security headers and Secure cookies, attacked through the HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from berth.api.app import create_app
from berth.config import Settings
from berth.store import users
from berth.store.db import Database
from tests.api.conftest import Headers

PROXY = ("10.0.0.2", 40000)
STRANGER = ("203.0.113.9", 40000)
MINT = "/api/v1/auth/tokens"
NEW_TOKEN = {"name": "ci"}
LOGIN = {"username": "alice", "password": "pw-alice-long-enough"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, forwarded_allow_ips="10.0.0.0/8")


@pytest.fixture
def alice_row(db: Database) -> None:
    with db.transaction() as tx:
        users.create(tx, "alice", "pw-alice-long-enough", "user", actor="test")


def _signed_in(c: TestClient, **kw: object) -> TestClient:
    r = c.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "pw-alice-long-enough"}, **kw
    )  # type: ignore[arg-type]
    assert r.status_code == 200, r.text
    return c


@pytest.fixture
def browser(app: FastAPI, alice_row: None) -> Iterator[TestClient]:
    """Alice's browser: signed in, so it carries the session cookie (base http://testserver)."""
    with TestClient(app) as c:
        yield _signed_in(c)


def _refused(r: Any) -> None:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_cookie_mutation_from_another_origin_or_from_nowhere_is_refused(
    browser: TestClient,
) -> None:
    _refused(browser.post(MINT, json=NEW_TOKEN, headers={"Origin": "https://evil.example"}))
    _refused(browser.post(MINT, json=NEW_TOKEN, headers={"Origin": "null"}))
    _refused(browser.post(MINT, json=NEW_TOKEN, headers={"Origin": "http://testserver.evil"}))
    _refused(browser.post(MINT, json=NEW_TOKEN, headers={"Referer": "https://evil.example/x"}))
    r = browser.post(MINT, json=NEW_TOKEN)  # no Origin, no Referer
    _refused(r)
    assert "Origin" in r.json()["detail"]
    _refused(browser.delete(f"{MINT}/1", headers={"Origin": "https://evil.example"}))
    _refused(browser.post("/api/v1/auth/logout", headers={"Origin": "https://evil.example"}))
    assert browser.get(MINT).json() == []  # nothing was minted
    assert browser.get("/api/v1/me").status_code == 200  # reading is not a mutation


def test_a_cookie_mutation_from_the_same_origin_passes(browser: TestClient) -> None:
    assert browser.post(MINT, json=NEW_TOKEN, headers={"Origin": "http://testserver"}).is_success
    referer = {"Referer": "http://testserver/reservations?x=1"}
    assert browser.post(MINT, json=NEW_TOKEN, headers=referer).is_success
    assert browser.post("/api/v1/auth/logout", headers={"Origin": "http://testserver"}).is_success


def test_bearer_requests_are_unaffected(browser: TestClient) -> None:
    token = browser.post("/api/v1/auth/login", json=LOGIN).json()["token"]
    alice = {"Authorization": f"Bearer {token}"}
    foreign = {**alice, "Origin": "https://evil.example"}
    assert browser.post(MINT, json=NEW_TOKEN, headers=foreign).status_code == 201
    browser.cookies.clear()
    assert browser.post(MINT, json=NEW_TOKEN, headers=alice).status_code == 201


def test_a_sign_in_from_a_foreign_page_is_refused_a_script_s_is_not(
    app: FastAPI, alice_row: None
) -> None:
    with TestClient(app) as c:
        body = {"username": "alice", "password": "pw-alice-long-enough"}
        _refused(
            c.post("/api/v1/auth/login", json=body, headers={"Origin": "https://evil.example"})
        )
        assert "berth_session" not in c.cookies
        assert c.post("/api/v1/auth/login", json=body).status_code == 200


def test_the_origin_is_the_one_a_trusted_proxy_forwarded(app: FastAPI, alice_row: None) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "berth.example.org"}
    with TestClient(app, client=PROXY) as c:
        token = c.post("/api/v1/auth/login", json=LOGIN, headers=forwarded).json()["token"]
        c.cookies.clear()  # a Secure cookie; the test client speaks plain HTTP to the proxy's peer
        cookie = {**forwarded, "Cookie": f"berth_session={token}"}
        ok = c.post(MINT, json=NEW_TOKEN, headers={**cookie, "Origin": "https://berth.example.org"})
        assert ok.status_code == 201, ok.text
        _refused(c.post(MINT, json=NEW_TOKEN, headers={**cookie, "Origin": "http://testserver"}))


def test_an_untrusted_peer_cannot_forward_its_way_to_a_matching_origin(
    app: FastAPI, alice_row: None
) -> None:
    with TestClient(app, client=STRANGER) as c:
        _signed_in(c)
        evil = {"X-Forwarded-Host": "evil.example", "Origin": "http://evil.example"}
        _refused(c.post(MINT, json=NEW_TOKEN, headers=evil))


EXPECTED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def test_security_headers_are_on_every_response(client: TestClient, alice: Headers) -> None:
    answers = [
        client.get("/healthz"),
        client.get("/api/v1/me"),  # 401
        client.get("/api/v1/me", headers=alice),
        client.get("/api/v1/nope"),  # 404
        client.post("/api/v1/reservations", json={}, headers=alice),  # 422
        client.get("/"),
        client.get("/reservations"),  # a client-side route: the page
    ]
    for r in answers:
        for name, value in EXPECTED.items():
            assert r.headers[name] == value, (r.request.url, name)
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self';" in csp  # no inline script, no eval
        assert "unsafe-inline" not in csp
        assert "strict-transport-security" not in r.headers  # plain HTTP
    docs = client.get("/api/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


def test_the_built_page_has_no_inline_script() -> None:
    """The CSP forbids inline scripts; the page Vite builds must not need one."""
    import re

    from berth.api.app import ui_dir

    web = ui_dir()
    if web is None:
        pytest.skip("the UI is not built (make ui)")
    html = (web / "index.html").read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts
    assert all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert "style=" not in html


def _cookie_flags(r: Any) -> str:
    return r.headers["set-cookie"].lower()


def test_cookies_are_secure_over_tls_direct_or_forwarded(app: FastAPI, alice_row: None) -> None:
    with TestClient(app) as c:
        assert "secure" not in _cookie_flags(c.post("/api/v1/auth/login", json=LOGIN))
    with TestClient(app, base_url="https://testserver") as c:
        r = c.post("/api/v1/auth/login", json=LOGIN)
        assert "; secure" in _cookie_flags(r)
        assert r.headers["strict-transport-security"].startswith("max-age=")
    https = {"X-Forwarded-Proto": "https"}
    with TestClient(app, client=PROXY) as c:
        assert "; secure" in _cookie_flags(c.post("/api/v1/auth/login", json=LOGIN, headers=https))
    with TestClient(app, client=STRANGER) as c:  # claiming TLS is not enough
        assert "secure" not in _cookie_flags(
            c.post("/api/v1/auth/login", json=LOGIN, headers=https)
        )


def test_secure_cookies_can_be_forced(db: Database, tmp_path: Path, alice_row: None) -> None:
    app = create_app(Settings(data_dir=tmp_path, secure_cookies=True), db)
    with TestClient(app) as c:
        assert "; secure" in _cookie_flags(c.post("/api/v1/auth/login", json=LOGIN))
