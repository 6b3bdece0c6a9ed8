"""Signing in through an identity provider: the browser's round trip, start to session cookie.

`GET /auth/{provider}/login` makes the sign-in's secrets, keeps the nonce and the PKCE verifier
in the database, gives the browser the state in a cookie (`berth_sign_in`: HttpOnly, SameSite
Lax so it comes back with the provider's redirect, path /api/v1/auth, ten minutes) and sends it
to the provider. `GET /auth/{provider}/callback` takes the attempt whose state both the query
and the cookie carry (once), exchanges the code, checks who signed in, creates or refreshes the
user and their groups, and answers with the session cookie and a redirect to the `next` path
kept at the start (a path of this portal only). The redirect URI is BERTH_PUBLIC_URL's, never
the request's. Both are browser navigations, so they are not in the OpenAPI document, and a
refusal is a small page that says why (never the code or a token).
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from html import escape
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from berth.api import schemas
from berth.api.deps import DB, Client, Config, Now, SecureCookies
from berth.api.identity.common import (
    CALLBACK,
    Flow,
    Provider,
    ProviderError,
    ProviderUnavailable,
    safe_next,
)
from berth.api.identity.oidc import OidcProvider
from berth.api.identity.openshift import OpenShiftProvider
from berth.api.routes.auth import set_session_cookie
from berth.config import Settings
from berth.domain.identity import GroupRules, SignInRefused
from berth.store import identity, sign_in_attempts, tokens, users
from berth.store.sign_in_attempts import LIFETIME, Attempt

router = APIRouter(prefix="/auth", tags=["auth"])

ATTEMPT_COOKIE = "berth_sign_in"
COOKIE_PATH = "/api/v1/auth"
Text = Annotated[str | None, Query(max_length=4096)]


def configured(settings: Settings) -> dict[str, Provider]:
    """The providers the settings configure, by id (none: password sign-in only)."""
    found: dict[str, Provider] = {}
    if settings.oidc_issuer:
        found["oidc"] = OidcProvider(settings)
    if settings.openshift_api_url:
        found["openshift"] = OpenShiftProvider(settings)
    return found


def _providers(request: Request) -> dict[str, Provider]:
    state = request.app.state
    if getattr(state, "providers", None) is None:
        state.providers = configured(state.settings)
    providers: dict[str, Provider] = state.providers
    return providers


def redirect_uri(settings: Settings, provider: str) -> str:
    assert settings.public_url  # the settings refuse a provider without it
    return settings.public_url.rstrip("/") + CALLBACK.format(provider=provider)


@router.get("/providers", operation_id="getSignInOptions")
def sign_in_options(request: Request, settings: Config) -> schemas.SignInOptions:
    """How one signs in here: the password form (unless BERTH_LOCAL_LOGIN=false) and the
    configured identity providers, each with the address a browser navigates to."""
    return schemas.SignInOptions(
        password=settings.local_login,
        providers=[
            schemas.SignInProvider(
                id=p.id,
                name=p.display_name,
                url=f"/api/v1/auth/{p.id}/login",
            )
            for p in _providers(request).values()
        ],
    )


def _provider(request: Request, name: str) -> Provider:
    provider = _providers(request).get(name)
    if provider is None:
        raise HTTPException(404, f"no identity provider {name!r} is configured here")
    return provider


def refusal_page(status: int, why: str) -> HTMLResponse:
    """A page a person reads: what went wrong, and the way back. No script, no styles."""
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Sign-in failed · Berth</title></head><body><main>"
        "<h1>Sign-in failed</h1>"
        f"<p role='alert'>{escape(why)}</p>"
        "<p><a href='/'>Back to sign in</a></p></main></body></html>"
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/{provider}/login", include_in_schema=False)
def start(
    provider: str,
    request: Request,
    db: DB,
    settings: Config,
    now: Now,
    secure: SecureCookies,
    next: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    """Send the browser to the provider; `next` (a path of this portal) is where it lands."""
    chosen = _provider(request, provider)
    flow = Flow.new()
    try:
        url = chosen.authorization_url(redirect_uri(settings, chosen.id), flow)
    except ProviderError as exc:
        return refusal_page(502, str(exc))
    attempt = Attempt(chosen.id, flow.nonce, flow.code_verifier, safe_next(next))
    with db.transaction() as tx:
        sign_in_attempts.begin(tx, flow.state, attempt, now)
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        ATTEMPT_COOKIE,
        flow.state,
        max_age=int(LIFETIME.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",  # a Strict cookie would not come back with the provider's redirect
        secure=secure,
    )
    return response


@router.get("/{provider}/callback", include_in_schema=False)
def callback(
    provider: str,
    request: Request,
    db: DB,
    settings: Config,
    now: Now,
    client: Client,
    secure: SecureCookies,
    code: Text = None,
    state: Text = None,
    error: Text = None,
    error_description: Text = None,
) -> Response:
    """Finish a sign-in the provider sent back; the session cookie, or a page saying why not."""
    chosen = _provider(request, provider)
    response = _finish(chosen, request, db, settings, now, client, secure, code, state, error,
                       error_description)  # fmt: skip
    response.delete_cookie(
        ATTEMPT_COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=secure
    )
    return response


def _finish(
    chosen: Provider,
    request: Request,
    db: DB,
    settings: Settings,
    now: Now,
    client: str | None,
    secure: bool,
    code: str | None,
    state: str | None,
    error: str | None,
    error_description: str | None,
) -> Response:
    browser_state = request.cookies.get(ATTEMPT_COOKIE)
    if state and browser_state and hmac.compare_digest(state, browser_state):
        with db.transaction() as tx:  # taken once, whatever happens next
            attempt = sign_in_attempts.take(tx, state, now)
    else:
        attempt = None
    if error:  # the provider's words only for this browser's own sign-in: no one can make
        # the portal show a text of theirs with a crafted link
        said = f"{error}: {error_description}" if error_description else error
        why = f" ({said[:300]})" if attempt is not None else ""
        return refusal_page(403, f"{chosen.display_name} did not sign you in{why}")
    if not state or not code:
        return refusal_page(400, "the provider's answer lacks the code or the state")
    if not browser_state:
        return refusal_page(
            400,
            "this sign-in was not started in this browser, or took longer than "
            f"{LIFETIME.seconds // 60} minutes; start again",
        )
    if attempt is None or attempt.provider != chosen.id:
        return refusal_page(
            400,
            "this sign-in does not match the one this browser started, or was used; start again",
        )
    try:
        who = chosen.complete(
            code, redirect_uri(settings, chosen.id), attempt.nonce, attempt.code_verifier, now
        )
    except ProviderUnavailable as exc:
        return refusal_page(502, str(exc))
    except (ProviderError, SignInRefused) as exc:
        return refusal_page(403, str(exc))
    rules = GroupRules.parse(settings.admin_groups, settings.allowed_groups, settings.team_groups)
    lifetime = timedelta(hours=settings.session_hours)
    with db.transaction() as tx:
        outcome = identity.sign_in(tx, who, rules, now, client)
        secret = None
        if outcome.refusal is None and outcome.user is not None:
            secret, _ = tokens.issue(
                tx, users.principal(outcome.user), kind="session", name=f"sign-in ({chosen.id})",
                lifetime=lifetime, now=now, client=client,
            )  # fmt: skip
    if secret is None:
        return refusal_page(403, outcome.refusal or "sign-in refused")
    response = RedirectResponse(attempt.next_path, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    set_session_cookie(response, secret, lifetime, secure)
    return response
