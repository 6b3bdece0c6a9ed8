"""Signing in and out, and API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response

from berth.api import problems, schemas, views
from berth.api.deps import (
    DB,
    SESSION_COOKIE,
    Client,
    Config,
    Now,
    SecureCookies,
    User,
    presented_token,
)
from berth.config import Settings
from berth.store import audit, tokens, users
from berth.store.db import Database
from berth.store.models import ApiToken
from berth.store.models import User as UserRow

router = APIRouter(prefix="/auth", tags=["auth"])

LOCKOUT = timedelta(minutes=15)
LOGIN_FAILED = "auth.login_failed"


@router.get("/session", operation_id="getSession")
def session(
    request: Request, response: Response, db: DB, now: Now, secure: SecureCookies
) -> schemas.SessionStatus:
    """Who is signed in: 200 either way, with `signed_in: false` when nobody is (no cookie
    or token, or one that expired or was revoked, whose cookie is then cleared).

    The page asks this first; unlike `GET /me`, a signed-out visitor is not an error.
    """
    secret = presented_token(request)
    who = None
    if secret:
        with db.transaction() as tx:
            who = tokens.resolve(tx, secret, now)
    if who is None:
        if SESSION_COOKIE in request.cookies:
            _clear_session_cookie(response, secure)
        return schemas.SessionStatus(signed_in=False)
    with db.transaction() as tx:
        user = views.user(users.get(tx, who.username))
    return schemas.SessionStatus(signed_in=True, user=user, expires_at=who.credential_expires_at)


@router.post("/login", operation_id="login", responses=problems.responses(403, 429))
def login(
    body: schemas.LoginRequest,
    response: Response,
    db: DB,
    settings: Config,
    now: Now,
    client: Client,
    secure: SecureCookies,
) -> schemas.LoginResponse:
    """Check a password; set the session cookie and return the same token for API use.

    Wrong passwords are counted from the audit log over the last 15 minutes, by address:
    `login_max_failures` for one name from one address, then that address gets 429 for that
    name (others there, and that name elsewhere, still sign in); `login_max_failures_per_address`
    for all names from one address, then that address gets 429. `Retry-After` says when the
    oldest counted failure leaves the window. An unknown name costs the same argon2 verify
    as a known one, and nothing is kept in memory. With `BERTH_LOCAL_LOGIN=false` password
    sign-in is off (403): people sign in through the identity provider.
    """
    if not settings.local_login:
        raise HTTPException(
            403,
            "password sign-in is switched off here (BERTH_LOCAL_LOGIN=false); "
            "sign in through your organisation's identity provider",
        )
    name = body.username.lower()[:64]
    _refuse_throttled(db, settings, name, client)
    user = _authenticate(db, body, name, client)
    lifetime = timedelta(hours=settings.session_hours)
    with db.transaction() as tx:
        secret, row = tokens.issue(
            tx,
            users.principal(user),
            kind="session",
            name="login",
            lifetime=lifetime,
            now=now,
            client=client,
        )
    set_session_cookie(response, secret, lifetime, secure)
    return schemas.LoginResponse(
        token=secret,
        expires_at=row.expires_at,
        user=schemas.UserPublic(username=user.username, role=user.role),
    )


def _refuse_throttled(db: Database, settings: Settings, name: str, client: str | None) -> None:
    """429 while this address has too many recent failures for `name`, or for any name."""
    limits = (
        (settings.login_max_failures, name, "for this user from your address"),
        (settings.login_max_failures_per_address, None, "from your address"),
    )
    with db.transaction() as tx:
        for limit, actor, which in limits:
            wait = audit.retry_after(
                tx, action=LOGIN_FAILED, client=client, within=LOCKOUT, limit=limit, actor=actor
            )
            if wait is not None:
                minutes = -(-wait // 60)
                raise HTTPException(
                    429,
                    f"too many wrong passwords {which}; try again in {minutes} minute"
                    + ("s" if minutes != 1 else ""),
                    headers={"Retry-After": str(wait)},
                )


def _authenticate(
    db: Database, body: schemas.LoginRequest, name: str, client: str | None
) -> UserRow:
    """The user, or 401; a wrong password is audited (committed) before the 401 is raised."""
    with db.transaction() as tx:
        user = users.authenticate(tx, body.username, body.password)
        if user is None:
            audit.record(tx, name, LOGIN_FAILED, f"user:{name}", {}, client)
    if user is None:
        raise HTTPException(401, "wrong username or password, or the account is disabled")
    return user


def set_session_cookie(response: Response, secret: str, lifetime: timedelta, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )


@router.post("/logout", status_code=204, operation_id="logout")
def logout(
    request: Request,
    response: Response,
    who: User,
    db: DB,
    now: Now,
    client: Client,
    secure: SecureCookies,
) -> None:
    secret = presented_token(request)
    with db.transaction() as tx:
        if secret:
            tokens.revoke_secret(tx, secret, now)
        audit.record(tx, who.username, "auth.logout", f"user:{who.username}", {}, client)
    _clear_session_cookie(response, secure)


def _clear_session_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="strict"
    )


def _public(row: ApiToken) -> schemas.TokenPublic:
    return schemas.TokenPublic(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked=row.revoked_at is not None,
    )


@router.post("/tokens", status_code=201, operation_id="createToken")
def create_token(
    body: schemas.TokenCreate, who: User, db: DB, settings: Config, now: Now, client: Client
) -> schemas.TokenCreated:
    """Create an API token (shown once).

    It lives `expires_in_days` (default `token_days`, at most `token_max_days`). A request
    authenticated by an API token cannot create one that outlives it: the default is cut to
    what that token has left, and a longer `expires_in_days` is refused.
    """
    lifetime = timedelta(days=body.expires_in_days or settings.token_days)
    parent = who.api_token_expires_at
    if body.expires_in_days is None and parent is not None:
        lifetime = min(lifetime, parent - now)
    with db.transaction() as tx:
        secret, row = tokens.issue(
            tx,
            who,
            kind="api",
            name=body.name,
            lifetime=lifetime,
            now=now,
            client=client,
            max_lifetime=timedelta(days=settings.token_max_days),
        )
        public = _public(row)
    return schemas.TokenCreated(token=secret, **public.model_dump())


@router.get("/tokens", operation_id="listTokens")
def list_tokens(who: User, db: DB) -> list[schemas.TokenPublic]:
    with db.transaction() as tx:
        return [_public(r) for r in tokens.list_for(tx, who)]


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    operation_id="revokeToken",
    responses=problems.responses(404),
)
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=schemas.MAX_ROW_ID)],
    who: User,
    db: DB,
    now: Now,
    client: Client,
) -> None:
    with db.transaction() as tx:
        tokens.revoke(tx, who, token_id, now, client)
