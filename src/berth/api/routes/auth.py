"""Signing in and out, and API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response

from berth.api import problems, schemas
from berth.api.deps import DB, SESSION_COOKIE, Client, Config, Now, User, presented_token
from berth.config import Settings
from berth.store import audit, tokens, users
from berth.store.db import Database
from berth.store.models import ApiToken
from berth.store.models import User as UserRow

router = APIRouter(prefix="/auth", tags=["auth"])

LOCKOUT = timedelta(minutes=15)


@router.post("/login", operation_id="login", responses=problems.responses(429))
def login(
    body: schemas.LoginRequest,
    response: Response,
    db: DB,
    settings: Config,
    now: Now,
    client: Client,
) -> schemas.LoginResponse:
    """Check a password; set the session cookie and return the same token for API use.

    After `login_max_failures` wrong passwords for one name from one address within 15
    minutes, that address gets 429 for the name until the window has passed: guessing is
    slowed where it comes from, and the user can still sign in from elsewhere.
    """
    name = body.username.lower()[:64]
    _refuse_locked_out(db, settings, name, client)
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
    _set_session_cookie(response, secret, lifetime, settings)
    return schemas.LoginResponse(
        token=secret,
        expires_at=row.expires_at,
        user=schemas.UserPublic(username=user.username, role=user.role),
    )


def _refuse_locked_out(db: Database, settings: Settings, name: str, client: str | None) -> None:
    """429 when this address has had too many wrong passwords for `name` within LOCKOUT."""
    with db.transaction() as tx:
        failures = audit.recent(
            tx, actor=name, action="auth.login_failed", client=client, within=LOCKOUT
        )
    if failures >= settings.login_max_failures:
        raise HTTPException(
            429,
            "too many wrong passwords for this user from your address; try again in 15 minutes",
            headers={"Retry-After": str(int(LOCKOUT.total_seconds()))},
        )


def _authenticate(
    db: Database, body: schemas.LoginRequest, name: str, client: str | None
) -> UserRow:
    """The user, or 401; a wrong password is audited (committed) before the 401 is raised."""
    with db.transaction() as tx:
        user = users.authenticate(tx, body.username, body.password)
        if user is None:
            audit.record(tx, name, "auth.login_failed", f"user:{name}", {}, client)
    if user is None:
        raise HTTPException(401, "wrong username or password, or the account is disabled")
    return user


def _set_session_cookie(
    response: Response, secret: str, lifetime: timedelta, settings: Settings
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/",
    )


@router.post("/logout", status_code=204, operation_id="logout")
def logout(
    request: Request, response: Response, who: User, db: DB, now: Now, client: Client
) -> None:
    secret = presented_token(request)
    with db.transaction() as tx:
        if secret:
            tokens.revoke_secret(tx, secret, now)
        audit.record(tx, who.username, "auth.logout", f"user:{who.username}", {}, client)
    response.delete_cookie(SESSION_COOKIE, path="/")


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
    days = body.expires_in_days or settings.token_days
    with db.transaction() as tx:
        secret, row = tokens.issue(
            tx,
            who,
            kind="api",
            name=body.name,
            lifetime=timedelta(days=days),
            now=now,
            client=client,
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
