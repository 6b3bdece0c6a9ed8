"""Berth configured for the session's Keycloak, and a sign-in the way a browser makes it.

Its fixtures (`sso`, `sso_overrides`) are imported by the conftest of tests/identity and
tests/e2e.

`sso_sign_in` follows the redirects a browser would, and fills in Keycloak's own login form
(its HTML, as served) with the user's password: the real authorization-code flow with PKCE,
only without rendering. The Chromium test in tests/e2e clicks through the same pages.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from berth.api.app import create_app
from berth.config import Settings
from berth.store.db import Database
from tests.conftest import free_port, serving
from tests.keycloak import CLIENT_ID, Realm

_FORM_ACTION = re.compile(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', re.S)


def password(name: str) -> str:
    return f"kc-{name}-long-enough-pw"


@dataclass
class Sso:
    url: str
    settings: Settings
    realm: Realm
    clients: list[httpx.Client] = field(default_factory=list)

    def user(self, name: str, *groups: str) -> str:
        return self.realm.add_user(name, password(name), list(groups))

    def browser(self) -> httpx.Client:
        """A new cookie jar, as a fresh browser has; closed after the test."""
        client = httpx.Client(timeout=30, follow_redirects=False)
        self.clients.append(client)
        return client

    def sign_in(
        self, name: str, next_path: str | None = None
    ) -> tuple[httpx.Client, httpx.Response]:
        """A new browser that signs in as `name`; it and Berth's answer to the callback."""
        client = self.browser()
        params = {"next": next_path} if next_path is not None else {}
        r = client.get(f"{self.url}/api/v1/auth/oidc/login", params=params)
        assert r.status_code == 303, r.text
        page = client.get(r.headers["location"])
        assert page.status_code == 200, page.text[:500]
        back = keycloak_login(client, page, name)
        assert back.status_code == 302, back.text[:800]
        callback = back.headers["location"]
        assert callback.startswith(f"{self.url}/api/v1/auth/oidc/callback?"), callback
        return client, client.get(callback)


def sso_settings(realm: Realm, data_dir: Path, url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "public_url": url,
        "oidc_issuer": realm.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": realm.client_secret,
        "oidc_display_name": "Company SSO",
        "oidc_cluster_user_claim": "preferred_username",
        "admin_groups": "berth-admins",
        "allowed_groups": "gpu-users",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def sso_overrides() -> dict[str, object]:
    """Settings a test changes (e.g. `local_login`)."""
    return {}


@pytest.fixture
def sso(
    db: Database, keycloak: Realm, tmp_path: Path, sso_overrides: dict[str, object]
) -> Iterator[Sso]:
    """The real app on a port chosen first (the redirect URI names it), signing in through
    the session's Keycloak, whose client is told exactly that redirect URI."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = sso_settings(keycloak, tmp_path, url, **sso_overrides)
    keycloak.allow_redirect(f"{url}/api/v1/auth/oidc/callback")
    with serving(create_app(settings, db), port=port):
        sso = Sso(url, settings, keycloak)
        yield sso
        for client in sso.clients:
            client.close()


def keycloak_login(client: httpx.Client, page: httpx.Response, name: str) -> httpx.Response:
    """Fill Keycloak's login form on `page` and post it; Keycloak's answer (a redirect)."""
    # Keycloak marks its cookies Secure. A browser sends those to http://127.0.0.1 (a secure
    # context), httpx does not: clear the flag so this client behaves as Chromium does.
    for cookie in client.cookies.jar:
        cookie.secure = False
    found = _FORM_ACTION.search(page.text)
    assert found, f"no Keycloak login form at {page.url}: {page.text[:500]}"
    return client.post(
        html.unescape(found.group(1)),
        data={"username": name, "password": password(name), "credentialId": ""},
    )
