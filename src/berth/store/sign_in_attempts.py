"""OAuth sign-ins in flight: kept on the server, found by the state the browser brings back.

The browser gets only the state (a cookie, and in the provider's redirect); the nonce and the
PKCE verifier stay here. The state is stored as SHA-256 (a copy of the table finishes no
sign-in), an attempt is taken once (deleted as it is read), and lives `LIFETIME`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete

from berth.store.db import Tx
from berth.store.models import SignInAttempt

LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class Attempt:
    provider: str
    nonce: str
    code_verifier: str
    next_path: str


def _digest(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()


def begin(tx: Tx, state: str, attempt: Attempt, now: datetime) -> None:
    """Remember an attempt (and forget the expired ones)."""
    tx.execute(delete(SignInAttempt).where(SignInAttempt.expires_at <= now))
    tx.add(
        SignInAttempt(
            state_hash=_digest(state),
            provider=attempt.provider,
            nonce=attempt.nonce,
            code_verifier=attempt.code_verifier,
            next_path=attempt.next_path,
            expires_at=now + LIFETIME,
        )
    )


def take(tx: Tx, state: str, now: datetime) -> Attempt | None:
    """The live attempt of `state`, removed as it is read; None if unknown, used or expired."""
    row = tx.execute(
        delete(SignInAttempt)
        .where(SignInAttempt.state_hash == _digest(state))
        .returning(
            SignInAttempt.provider,
            SignInAttempt.nonce,
            SignInAttempt.code_verifier,
            SignInAttempt.next_path,
            SignInAttempt.expires_at,
        )
    ).first()
    if row is None or row.expires_at <= now:
        return None
    return Attempt(row.provider, row.nonce, row.code_verifier, row.next_path)
