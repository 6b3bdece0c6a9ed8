"""What every identity provider client shares: the interface, PKCE and the `next` rule."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from berth.domain.identity import Claimed

CALLBACK = "/api/v1/auth/{provider}/callback"
HTTP_TIMEOUT = 10.0  # seconds for one request to a provider


class ProviderError(Exception):
    """The provider's answer cannot be trusted or used; the message says why, for a person."""


class ProviderUnavailable(ProviderError):
    """The provider cannot be reached or is misconfigured: not the person's doing."""


@dataclass(frozen=True)
class Flow:
    """One sign-in's secrets: the state (the browser's), the nonce and PKCE verifier (ours)."""

    state: str
    nonce: str
    code_verifier: str

    @classmethod
    def new(cls) -> Flow:
        # RFC 7636: a verifier of 43-128 characters; 64 random bytes in base64url are 86
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64))


class Provider(Protocol):
    id: str
    display_name: str

    def authorization_url(self, redirect_uri: str, flow: Flow) -> str:
        """Where the browser goes to sign in (with state, nonce, PKCE challenge)."""
        ...

    def complete(
        self, code: str, redirect_uri: str, nonce: str, code_verifier: str, now: datetime
    ) -> Claimed:
        """Exchange the code and say who signed in; ProviderError if it cannot be trusted."""
        ...


_SAFE_NEXT = re.compile(r"^/(?![/\\])[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$")


def safe_next(value: str | None) -> str:
    """A path of this portal to land on after signing in; anything else is "/".

    Only a path that starts with one "/" (not "//" or "/\\", which browsers take for another
    host) and holds URL characters only: never a scheme or a host, so never an open redirect.
    """
    if value and len(value) <= 512 and _SAFE_NEXT.match(value):
        return value
    return "/"
