"""The page's first request, "who is signed in?", is a 200 either way."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Headers

PROBE = "/api/v1/auth/session"


def test_a_visitor_gets_a_signed_out_answer_not_a_401(client: TestClient) -> None:
    r = client.get(PROBE)
    assert r.status_code == 200
    assert r.json() == {"signed_in": False, "user": None, "expires_at": None}
    assert "set-cookie" not in r.headers
    assert client.get("/api/v1/me").status_code == 401  # API clients still get a 401 there


def test_the_session_cookie_and_a_bearer_token_are_recognised(
    client: TestClient, alice: Headers
) -> None:
    login = client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "pw-alice-long-enough"}
    ).json()
    by_cookie = client.get(PROBE).json()
    assert by_cookie["signed_in"] is True
    assert by_cookie["user"]["username"] == "alice"
    assert by_cookie["expires_at"] == login["expires_at"]
    client.cookies.clear()
    assert client.get(PROBE, headers=alice).json()["user"]["role"] == "user"


def test_a_revoked_or_forged_cookie_is_signed_out_and_cleared(
    client: TestClient, alice: Headers
) -> None:
    client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "pw-alice-long-enough"}
    )
    cookie = client.cookies["berth_session"]
    client.post("/api/v1/auth/logout", headers={"Origin": "http://testserver"})
    client.cookies.set("berth_session", cookie)
    r = client.get(PROBE)
    assert r.status_code == 200
    assert r.json()["signed_in"] is False
    assert 'berth_session=""' in r.headers["set-cookie"]  # the stale cookie is removed
    client.cookies.set("berth_session", "berth_forged")
    assert client.get(PROBE).json()["signed_in"] is False
