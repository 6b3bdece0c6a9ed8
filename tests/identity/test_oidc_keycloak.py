"""OIDC sign-in through a real Keycloak: users made at first sign-in, groups stored and mapped
to roles, the allowed groups enforced at every sign-in, tokens of disabled users dead, the
browser binding of state, and `next` that never leaves the portal."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from berth.store import identity, users
from berth.store.db import Database
from tests.sso import Sso, keycloak_login

pytestmark = pytest.mark.sso


def _signed_in(client: httpx.Client, server: str) -> dict[str, object]:
    r = client.get(f"{server}/api/v1/auth/session")
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_first_sign_in_makes_the_user_with_groups_and_the_mapped_role(
    sso: Sso, db: Database
) -> None:
    sso.user("ann", "gpu-users", "other-team")
    sso.user("ada", "berth-admins")

    client, r = sso.sign_in("ann")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/"
    session = _signed_in(client, sso.url)
    assert session["signed_in"] is True
    assert session["user"] == {
        "username": "ann",
        "role": "user",
        "disabled": False,
        "created_at": session["user"]["created_at"],  # type: ignore[index]
        "provider": "oidc",
    }
    client, r = sso.sign_in("ada")
    assert _signed_in(client, sso.url)["user"]["role"] == "admin"  # type: ignore[index]

    with db.transaction() as tx:
        ann = users.get(tx, "ann")
        assert (ann.provider, ann.cluster_name, ann.password_hash) == ("oidc", "ann", None)
        assert identity.groups_of(tx, ann.id) == ["gpu-users", "other-team"]
        assert identity.members_of(tx, "oidc", "berth-admins") == ["ada"]


def test_groups_are_refreshed_and_a_user_out_of_the_allowed_groups_is_refused_and_cut_off(
    sso: Sso, db: Database
) -> None:
    sso.user("bob", "gpu-users", "berth-admins")
    client, r = sso.sign_in("bob")
    assert _signed_in(client, sso.url)["user"]["role"] == "admin"  # type: ignore[index]
    made = client.post(f"{sso.url}/api/v1/auth/tokens", json={"name": "laptop"},
                       headers={"Origin": sso.url})  # fmt: skip
    assert made.status_code == 201, made.text
    token = {"Authorization": f"Bearer {made.json()['token']}"}
    assert httpx.get(f"{sso.url}/api/v1/me", headers=token).status_code == 200

    sso.realm.remove_from_group("bob", "berth-admins")
    client, r = sso.sign_in("bob")
    assert r.status_code == 303
    assert _signed_in(client, sso.url)["user"]["role"] == "user"  # type: ignore[index]
    with db.transaction() as tx:
        assert identity.groups_of(tx, users.get(tx, "bob").id) == ["gpu-users"]

    sso.realm.remove_from_group("bob", "gpu-users")
    _, refused = sso.sign_in("bob")
    assert refused.status_code == 403
    assert "not in a group allowed to use Berth (berth-admins, gpu-users)" in refused.text
    assert "set-cookie" not in {k.lower() for k in refused.headers if "berth_session" in
                                refused.headers.get(k, "")}  # fmt: skip
    # what bob still held is revoked: his API token and the earlier session
    assert httpx.get(f"{sso.url}/api/v1/me", headers=token).status_code == 401
    assert _signed_in(client, sso.url)["signed_in"] is False
    with db.transaction() as tx:
        assert identity.groups_of(tx, users.get(tx, "bob").id) == []


def test_a_disabled_users_api_token_stops_working_and_they_cannot_sign_in(
    sso: Sso, db: Database
) -> None:
    with db.transaction() as tx:
        users.create(tx, "root", "pw-root-long-enough", "admin", actor="test")
    admin = sso.browser()
    login = admin.post(f"{sso.url}/api/v1/auth/login",
                       json={"username": "root", "password": "pw-root-long-enough"})  # fmt: skip
    assert login.status_code == 200, login.text
    admin.cookies.clear()
    admin.headers["Authorization"] = f"Bearer {login.json()['token']}"

    sso.user("cyd", "gpu-users")
    client, _ = sso.sign_in("cyd")
    made = client.post(f"{sso.url}/api/v1/auth/tokens", json={"name": "ci"},
                       headers={"Origin": sso.url})  # fmt: skip
    token = {"Authorization": f"Bearer {made.json()['token']}"}
    assert httpx.get(f"{sso.url}/api/v1/me", headers=token).json()["username"] == "cyd"

    assert admin.patch(f"{sso.url}/api/v1/users/cyd", json={"disabled": True}).status_code == 200
    r = httpx.get(f"{sso.url}/api/v1/me", headers=token)
    assert r.status_code == 401
    assert "unknown, expired or revoked" in r.json()["detail"]
    _, refused = sso.sign_in("cyd")
    assert refused.status_code == 403
    assert "this account is disabled in Berth" in refused.text
    # and a password cannot be given to an account of the provider
    r = admin.patch(f"{sso.url}/api/v1/users/cyd", json={"password": "a brand new long passphrase"})
    assert r.status_code == 422
    assert "signs in through oidc" in r.json()["detail"]


@pytest.mark.parametrize(
    ("name", "asked", "lands"),
    [
        ("nx-path", "/calendar", "/calendar"),
        ("nx-query", "/reservations?status=ACTIVE", "/reservations?status=ACTIVE"),
        ("nx-url", "https://evil.example/steal", "/"),
        ("nx-scheme-relative", "//evil.example/steal", "/"),
        ("nx-backslash", "/\\evil.example", "/"),
        ("nx-script", "javascript:alert(1)", "/"),
    ],
)
def test_next_lands_on_a_path_of_the_portal_only(
    sso: Sso, name: str, asked: str, lands: str
) -> None:
    sso.user(name, "gpu-users")
    _, r = sso.sign_in(name, next_path=asked)
    assert r.status_code == 303
    assert r.headers["location"] == lands
    assert not urlsplit(r.headers["location"]).netloc


def test_a_sign_in_finishes_only_in_the_browser_that_started_it_and_only_once(sso: Sso) -> None:
    sso.user("dee", "gpu-users")
    alice_browser = sso.browser()
    start = alice_browser.get(f"{sso.url}/api/v1/auth/oidc/login")
    page = alice_browser.get(start.headers["location"])
    back = keycloak_login(alice_browser, page, "dee")
    callback = back.headers["location"]

    other_browser = sso.browser()  # an attacker who got the link: no state cookie
    r = other_browser.get(callback)
    assert r.status_code == 400
    assert "not started in this browser" in r.text

    r = alice_browser.get(callback)
    assert r.status_code == 303
    assert "berth_session" in r.cookies
    r = alice_browser.get(callback)  # replayed: the attempt was taken (and its cookie cleared)
    assert r.status_code == 400


def test_the_providers_answer_on_the_sign_in_page_and_unknown_ones_are_404(sso: Sso) -> None:
    r = httpx.get(f"{sso.url}/api/v1/auth/providers")
    assert r.json() == {
        "password": True,
        "providers": [{"id": "oidc", "name": "Company SSO", "url": "/api/v1/auth/oidc/login"}],
    }
    r = httpx.get(f"{sso.url}/api/v1/auth/openshift/login")
    assert r.status_code == 404
    assert "no identity provider 'openshift'" in r.json()["detail"]


@pytest.mark.parametrize("sso_overrides", [{"local_login": False}])
def test_password_sign_in_can_be_switched_off(sso: Sso, db: Database) -> None:
    with db.transaction() as tx:
        users.create(tx, "root", "pw-root-long-enough", "admin", actor="test")
    r = httpx.post(f"{sso.url}/api/v1/auth/login",
                   json={"username": "root", "password": "pw-root-long-enough"})  # fmt: skip
    assert r.status_code == 403
    assert "BERTH_LOCAL_LOGIN=false" in r.json()["detail"]
    assert httpx.get(f"{sso.url}/api/v1/auth/providers").json()["password"] is False


def test_a_providers_error_is_shown_only_to_the_browser_that_started_the_sign_in(
    sso: Sso,
) -> None:
    crafted = "?error=access_denied&error_description=Your+account+is+locked%2C+call+555"
    stranger = sso.browser()
    r = stranger.get(f"{sso.url}/api/v1/auth/oidc/callback{crafted}&state=made-up")
    assert r.status_code == 403
    assert "Company SSO did not sign you in" in r.text
    assert "call 555" not in r.text

    browser = sso.browser()
    start = browser.get(f"{sso.url}/api/v1/auth/oidc/login")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    r = browser.get(f"{sso.url}/api/v1/auth/oidc/callback?error=access_denied&state={state}")
    assert r.status_code == 403
    assert "did not sign you in (access_denied)" in r.text
