"""X-Forwarded-For, -Proto and -Host, believed only from the proxies `BERTH_FORWARDED_ALLOW_IPS`
names.

Everything downstream reads the result from the ASGI scope as if the request had come
directly: `request.client.host` is the client's address (audit records and sign-in throttling
use it), `request.url.scheme` is `https` when the proxy terminated TLS (Secure cookies, the
origin the CSRF check compares with), and the `Host` header is the one the browser used.

Uvicorn's own proxy handling is switched off where Berth starts it (`berth serve`/`berth up`):
its default believes 127.0.0.1, which would let any local process claim any address.
"""

from __future__ import annotations

import ipaddress
import re

from starlette.types import ASGIApp, Receive, Scope, Send

from berth.config import TrustedProxies

_HOST = re.compile(r"^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")
_SCHEMES = {"http": ("http", "ws"), "https": ("https", "wss")}


def _values(headers: list[tuple[bytes, bytes]], name: bytes) -> list[str]:
    """Every comma-separated item of every header `name`, in order."""
    items: list[str] = []
    for key, value in headers:
        if key == name:
            items += [v.strip() for v in value.decode("latin-1").split(",") if v.strip()]
    return items


def client_address(peer: str, forwarded_for: list[str], trusted: TrustedProxies) -> str:
    """Walk X-Forwarded-For from the right while the hop that wrote the entry is trusted.

    The first address written by a trusted hop about an untrusted one is the client; entries
    further left were written by the client itself and are not believed. A malformed entry
    ends the walk at the hop that passed it on.
    """
    client = peer
    for hop in reversed(forwarded_for):
        if not trusted.trusts(client):
            break
        try:
            client = str(ipaddress.ip_address(hop))
        except ValueError:
            break
    return client


class ForwardedHeaders:
    """Pure ASGI middleware; the outermost layer, so every other one sees the result."""

    def __init__(self, app: ASGIApp, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            if peer is not None and self.trusted.trusts(peer[0]):
                scope = self._rewritten(scope, peer)
        await self.app(scope, receive, send)

    def _rewritten(self, scope: Scope, peer: tuple[str, int]) -> Scope:
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        scope = dict(scope)
        forwarded_for = _values(headers, b"x-forwarded-for")
        if forwarded_for:
            scope["client"] = (client_address(peer[0], forwarded_for, self.trusted), 0)
        protos = _values(headers, b"x-forwarded-proto")
        if protos and protos[-1].lower() in _SCHEMES:  # the nearest proxy's word counts
            http, ws = _SCHEMES[protos[-1].lower()]
            scope["scheme"] = ws if scope["type"] == "websocket" else http
        hosts = _values(headers, b"x-forwarded-host")
        if hosts and _HOST.match(hosts[-1]):
            host = hosts[-1].encode("latin-1")
            scope["headers"] = [(k, v) for k, v in headers if k != b"host"] + [(b"host", host)]
        return scope
