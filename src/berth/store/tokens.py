"""Bearer tokens: login sessions and named API tokens, one mechanism for both.

A token is 32 random bytes shown once; the database keeps only its SHA-256. A slow hash
(argon2) protects guessable passwords; a random 256-bit secret needs none, and a fast hash lets
every request be authenticated with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update

from berth.store import audit
from berth.store.db import Tx, fetch
from berth.store.errors import Invalid, NotFound
from berth.store.models import ApiToken
from berth.store.users import Principal

PREFIX = "berth_"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def issue(
    tx: Tx,
    user: Principal,
    *,
    kind: str,
    name: str,
    lifetime: timedelta,
    now: datetime,
    client: str | None = None,
    max_lifetime: timedelta | None = None,
) -> tuple[str, ApiToken]:
    """Create a token; return the secret (never stored) and its row.

    An API token may live at most `max_lifetime` (BERTH_TOKEN_MAX_DAYS), and one created
    with an API token no longer than that token (`user.api_token_expires_at`).
    """
    if not name.strip() or len(name) > 128:
        raise Invalid("name", "must be 1-128 characters")
    if lifetime <= timedelta(0):
        raise Invalid("expires_in_days", "expires_in_days: must be positive")
    if max_lifetime is not None and lifetime > max_lifetime:
        raise Invalid(
            "expires_in_days",
            f"expires_in_days: at most {max_lifetime.days} days (BERTH_TOKEN_MAX_DAYS)",
        )
    parent = user.api_token_expires_at
    if parent is not None and now + lifetime > parent:
        raise Invalid(
            "expires_in_days",
            "expires_in_days: a token cannot outlive the API token that creates it, "
            f"which expires {parent.isoformat()}",
        )
    secret = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        kind=kind,
        name=name.strip(),
        token_hash=_digest(secret),
        prefix=secret[: len(PREFIX) + 4],
        expires_at=now + lifetime,
    )
    tx.add(row)
    tx.flush()
    if kind == "api":
        audit.record(tx, user.username, "token.create", f"token:{row.id}", {"name": name}, client)
    else:
        audit.record(tx, user.username, "auth.login", f"user:{user.username}", {}, client)
    return secret, row


# Every authenticated request runs it: psycopg's own statement (`db.fetch`), not SQLAlchemy's.
_RESOLVE = """
    SELECT u.id, u.username, u.role, t.kind, t.expires_at
    FROM users u JOIN api_tokens t ON t.user_id = u.id
    WHERE t.token_hash = %(digest)s AND t.revoked_at IS NULL AND t.expires_at > %(now)s
        AND NOT u.disabled
"""


def resolve(tx: Tx, secret: str, now: datetime) -> Principal | None:
    """The enabled user a live token belongs to (with the token's kind and expiry), else None."""
    if not secret.startswith(PREFIX):
        return None
    found = fetch(tx, _RESOLVE, {"digest": _digest(secret), "now": now})
    if not found:
        return None
    user_id, username, role, kind, expires_at = found[0]
    return Principal(user_id, username, role, credential=kind, credential_expires_at=expires_at)


def list_for(tx: Tx, user: Principal) -> list[ApiToken]:
    q = (
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.kind == "api")
        .order_by(ApiToken.id.desc())
    )
    return list(tx.scalars(q))


def revoke(
    tx: Tx, user: Principal, token_id: int, now: datetime, client: str | None = None
) -> ApiToken:
    """Revoke one of the caller's tokens (admins: anyone's)."""
    row = tx.get(ApiToken, token_id)
    if row is None or (row.user_id != user.id and not user.is_admin):
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(tx, user.username, "token.revoke", f"token:{token_id}", {}, client)
    return row


def revoke_secret(tx: Tx, secret: str, now: datetime) -> None:
    """Log out: revoke the session token presented."""
    tx.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == _digest(secret), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def expire(tx: Tx, now: datetime, keep: timedelta = timedelta(days=30)) -> int:
    """Delete tokens that expired or were revoked more than `keep` ago."""
    cutoff = now - keep
    result = tx.execute(
        delete(ApiToken).where(or_(ApiToken.expires_at < cutoff, ApiToken.revoked_at < cutoff))
    )
    return int(getattr(result, "rowcount", 0) or 0)
