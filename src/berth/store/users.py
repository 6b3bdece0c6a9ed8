"""Users and their passwords (argon2id). Usernames are lower-case and unique.

The password policy follows NIST SP 800-63B: a minimum length and a check against passwords
known to be common (zxcvbn's frequency lists, with its patterns: repeats, sequences, keyboard
walks, l33t, the user's own name), and no composition rules. Changing a password or disabling
a user revokes every session and API token the user has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from zxcvbn import zxcvbn

from berth.store import audit
from berth.store.db import Tx
from berth.store.errors import Conflict, Invalid, NotFound
from berth.store.models import ApiToken, User

ROLES = ("admin", "user")
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,31}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MIN_SCORE = 2  # zxcvbn: 0-1 is "too guessable" (fewer than a million guesses)
_JUDGED = 72  # zxcvbn refuses more (and its cost grows with length): judged by its start

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verifying against this keeps a login for an unknown user as slow as for a known one.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user behind a session cookie or a bearer token."""

    id: int
    username: str
    role: str
    # the credential this request came with: "session" or "api", and when it expires (not
    # part of who the principal is: two requests of one user compare equal)
    credential: str | None = field(default=None, compare=False)
    credential_expires_at: datetime | None = field(default=None, compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def api_token_expires_at(self) -> datetime | None:
        """When the API token this request came with expires; None for a sign-in session."""
        return self.credential_expires_at if self.credential == "api" else None


def principal(user: User) -> Principal:
    return Principal(id=user.id, username=user.username, role=user.role)


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise Invalid(
            "username",
            "2-32 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter",
        )
    return username


def check_password(password: str, username: str | None = None) -> str:
    """At least MIN_PASSWORD characters and not a common or patterned one (422 otherwise)."""
    if len(password) < MIN_PASSWORD:
        raise Invalid("password", f"password: must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise Invalid("password", f"password: must be at most {MAX_PASSWORD} characters")
    judged = zxcvbn(password[:_JUDGED], user_inputs=[username] if username else [])
    if judged["score"] < MIN_SCORE:
        why = str(judged["feedback"]["warning"] or "").rstrip(".")
        raise Invalid(
            "password",
            "password: is too common or too easy to guess"
            + (f" ({why.lower()})" if why else "")
            + "; a few unrelated words make a good one",
        )
    return password


def create(
    tx: Tx, username: str, password: str, role: str, *, actor: str, client: str | None = None
) -> User:
    check_username(username)
    check_password(password, username)
    if role not in ROLES:
        raise Invalid("role", f"must be one of {', '.join(ROLES)}")
    user = User(username=username, password_hash=_hasher.hash(password), role=role)
    try:
        with tx.begin_nested():
            tx.add(user)
            tx.flush()
    except IntegrityError as exc:
        raise Conflict(f"user {username!r} already exists") from exc
    audit.record(tx, actor, "user.create", f"user:{username}", {"role": role}, client)
    return user


def authenticate(tx: Tx, username: str, password: str) -> User | None:
    """The enabled user with this password, else None (same cost either way)."""
    user = tx.scalar(select(User).where(User.username == username.lower()))
    stored = user.password_hash if user is not None else None
    try:  # a user of an identity provider has no password: as slow, and refused, as no user
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled or stored is None:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
    return user


def get(tx: Tx, username: str) -> User:
    user = tx.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def list_all(tx: Tx) -> list[User]:
    return list(tx.scalars(select(User).order_by(User.username)))


def count_admins(tx: Tx) -> int:
    q = select(func.count()).select_from(User).where(User.role == "admin", ~User.disabled)
    return int(tx.scalar(q) or 0)


def update(
    tx: Tx,
    username: str,
    *,
    role: str | None,
    disabled: bool | None,
    password: str | None = None,
    actor: str,
    now: datetime,
    client: str | None = None,
) -> User:
    """Change role, disabled flag or password; the last enabled admin cannot be demoted.

    A new password or disabling the user revokes all their sessions and API tokens.
    """
    user = get(tx, username)
    changes: dict[str, object] = {}
    if role is not None and role != user.role:
        if role not in ROLES:
            raise Invalid("role", f"must be one of {', '.join(ROLES)}")
        changes["role"] = role
    if disabled is not None and disabled != user.disabled:
        changes["disabled"] = disabled
    losing_admin = (
        user.role == "admin"
        and not user.disabled
        and (changes.get("role", "admin") != "admin" or changes.get("disabled", False))
    )
    if losing_admin and count_admins(tx) <= 1:
        raise Conflict("this is the last enabled admin; make another admin first")
    if "role" in changes:
        user.role = role  # type: ignore[assignment]
    if "disabled" in changes:
        user.disabled = bool(disabled)
    if password is not None and user.provider != "local":
        raise Invalid(
            "password",
            f"password: {username!r} signs in through {user.provider}; it has no password here",
        )
    if password is not None:
        user.password_hash = _hasher.hash(check_password(password, username))
        changes["password_changed"] = True
    if password is not None or changes.get("disabled"):
        changes["tokens_revoked"] = revoke_credentials(tx, user, now)
    if changes:
        audit.record(tx, actor, "user.update", f"user:{username}", changes, client)
    return user


def revoke_credentials(tx: Tx, user: User, now: datetime) -> int:
    """Revoke every live session and API token of `user`; return how many."""
    result = tx.execute(
        sql_update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
