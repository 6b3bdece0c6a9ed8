"""Browser-facing defences: security headers on every response, and the CSRF origin check.

The session cookie is SameSite=Strict already; the origin check is the second lock, for
browsers or paths where SameSite does not hold (an old browser, a same-site sibling host). A
mutation (POST, PUT, PATCH, DELETE) that a session cookie would authenticate must say where it
comes from (`Origin`, else `Referer`) and that must be this server's own origin, as the
browser sees it (the scheme and host a trusted proxy forwarded, see `berth.api.proxy`).
Requests with a bearer token are not affected: a browser never attaches one by itself. A
sign-in from a foreign page is refused too (login CSRF), but one with no origin at all (a
script, the CLI) is not.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from berth.api import problems
from berth.api.deps import SESSION_COOKIE, bearer_token

# The built UI (web/ → berth/web): one module script and one stylesheet from /assets, no
# inline script, no eval, styles set through the DOM (React's style props), fetches to itself.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# FastAPI's Swagger page loads swagger-ui from a CDN and starts it with an inline script; it
# shows only the schema, never data of anyone, so only that page gets these allowances.
DOCS_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
DOCS_PATH = "/api/docs"

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
HSTS = "max-age=31536000"

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOGIN_PATH = "/api/v1/auth/login"


class SecurityHeaders:
    """Adds HEADERS (and HSTS over HTTPS) to every response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = dict(HEADERS)
        if scope["path"] == DOCS_PATH:
            extra["Content-Security-Policy"] = DOCS_CSP
        if scope["scheme"] == "https":
            extra["Strict-Transport-Security"] = HSTS
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                added = [(k, v) for k, v in raw if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _origin(url: str) -> str | None:
    """scheme://host[:port] of a URL, lower-case, without the scheme's default port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def own_origin(request: Request) -> str | None:
    """The origin a browser uses for this server: the request's scheme and Host."""
    return _origin(f"{request.url.scheme}://{request.headers.get('host', '')}/")


def claimed_origin(headers: Headers) -> str | None:
    """Where the request says it comes from: Origin, else Referer's origin; None if neither."""
    origin = headers.get("origin")
    if origin is not None:
        return _origin(origin) or "null"
    referer = headers.get("referer")
    if referer is not None:
        return _origin(referer) or "null"
    return None


class CsrfGuard:
    """403 for a cookie-authenticated mutation (or a sign-in) from another origin."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE:
            refusal = self._refusal(Request(scope))
            if refusal is not None:
                await problems.problem(403, refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(request: Request) -> str | None:
        claimed = claimed_origin(request.headers)
        if request.url.path == LOGIN_PATH:  # authenticated by the body, not the cookie
            if claimed is None:
                return None
        elif SESSION_COOKIE not in request.cookies or bearer_token(request) is not None:
            return None
        elif claimed is None:
            return (
                "a change made with the session cookie must carry an Origin or Referer "
                "header; API clients send 'Authorization: Bearer ...' instead"
            )
        if claimed != own_origin(request):
            return f"cross-origin request refused: {claimed} is not this server's origin"
        return None
