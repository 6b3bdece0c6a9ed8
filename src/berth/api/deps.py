"""Dependencies shared by the routes: the database, the clock, the caller, the client address.

The clock is a dependency so tests can move time; nothing below the API reads the clock itself.

A dependency that only reads the request or the app's state is `async def`: FastAPI runs a
plain `def` dependency in its thread pool, a thread hop (and a wait for the GIL among the
pool's busy threads) per dependency per request, for what is a few attribute reads. Those
that read the database (`current_user`, `cache_agent`) or a file (`get_box`) stay plain
`def`: they block, so they belong in the pool, off the event loop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError

from berth.config import Settings
from berth.store import cache, tokens
from berth.store.crypto import SecretBox
from berth.store.db import Database, Tx
from berth.store.read_cache import ReadCache
from berth.store.users import Principal

SESSION_COOKIE = "berth_session"


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_read_cache(request: Request) -> ReadCache:
    cache: ReadCache = request.app.state.read_cache
    return cache


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_box(request: Request) -> SecretBox:
    """The keys of workspace passwords, loaded on first use (not when the app is built, so
    rendering the OpenAPI schema makes no key file)."""
    state = request.app.state
    if getattr(state, "box", None) is None:
        settings: Settings = state.settings
        state.box = settings.secret_box()
    box: SecretBox = state.box
    return box


async def clock() -> datetime:
    return datetime.now(UTC)


async def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header, if there is one."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def presented_token(request: Request) -> str | None:
    """A bearer token from the Authorization header, else the session cookie."""
    return bearer_token(request) or request.cookies.get(SESSION_COOKIE)


DB = Annotated[Database, Depends(get_db)]
Config = Annotated[Settings, Depends(get_settings)]
Reads = Annotated[ReadCache, Depends(get_read_cache)]
Now = Annotated[datetime, Depends(clock)]
Client = Annotated[str | None, Depends(client_address)]
Box = Annotated[SecretBox, Depends(get_box)]


async def secure_cookies(request: Request, settings: Config) -> bool:
    """Cookies are Secure when the request came over TLS (directly or via a trusted proxy's
    X-Forwarded-Proto), or always with BERTH_SECURE_COOKIES."""
    return settings.secure_cookies or request.url.scheme == "https"


SecureCookies = Annotated[bool, Depends(secure_cookies)]


async def credential(request: Request) -> str:
    """The token presented (401 if none), not yet checked: see `authenticate`."""
    secret = presented_token(request)
    if not secret:
        raise HTTPException(401, "sign in, or send an API token as 'Authorization: Bearer ...'")
    return secret


Credential = Annotated[str, Depends(credential)]


def authenticate(tx: Tx, secret: str, now: datetime) -> Principal:
    """The enabled user of a live token (401 otherwise), read in the caller's transaction: a
    route that opens one anyway (booking) saves the authentication's own."""
    who = tokens.resolve(tx, secret, now)
    if who is None:
        raise HTTPException(401, "the token is unknown, expired or revoked; sign in again")
    return who


def current_user(secret: Credential, db: DB, now: Now) -> Principal:
    with db.transaction() as tx:
        return authenticate(tx, secret, now)


User = Annotated[Principal, Depends(current_user)]


async def admin_user(who: User) -> Principal:
    if not who.is_admin:
        raise HTTPException(403, "this needs the admin role")
    return who


Admin = Annotated[Principal, Depends(admin_user)]


async def no_nul_in_parameters(request: Request) -> None:
    """Refuse (422, naming the parameter) a path or query parameter with a NUL character:
    PostgreSQL cannot compare or store one, so it could only fail deeper down."""
    errors = [
        {
            "loc": (where, name),
            "msg": "must not contain NUL (\\x00) characters",
            "type": "value_error",
        }
        for where, params in (("path", request.path_params), ("query", request.query_params))
        for name, value in params.items()
        if isinstance(value, str) and "\x00" in value
    ]
    if errors:
        raise RequestValidationError(errors)


def cache_agent(node: str, request: Request, db: DB, now: Now) -> str:
    """The node of the path, when the request carries that node's live cache credential.

    Only a bearer credential counts (never a cookie): 401 without one or with an unknown,
    expired or revoked one; 403 with a user's token or another node's credential."""
    secret = bearer_token(request)
    if not secret:
        raise HTTPException(401, "send the node's cache credential as 'Authorization: Bearer ...'")
    with db.transaction() as tx:
        owner = cache.credential_node(tx, secret, now)
        if owner is None:
            if tokens.resolve(tx, secret, now) is not None:
                raise HTTPException(
                    403, "this endpoint takes a node's cache credential, not a user's"
                )
            raise HTTPException(401, "the cache credential is unknown, expired or revoked")
    if owner != node:
        raise HTTPException(403, f"this credential is not for node {node!r}")
    return node


CacheAgent = Annotated[str, Depends(cache_agent)]
