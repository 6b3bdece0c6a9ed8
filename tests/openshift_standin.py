"""A STAND-IN for OpenShift's OAuth server and the one API it is asked: not OpenShift.

No OpenShift runs here (the sim's `--openshift` has the Route and SCC CRDs, not the OAuth
server), so the sign-in tests talk to this small server, which serves the documented endpoints
the way OpenShift's do, with the checks OpenShift makes:

- `GET /.well-known/oauth-authorization-server` (RFC 8414 metadata, as the API server serves it);
- `GET /oauth/authorize`: the client must be the ServiceAccount (`system:serviceaccount:NS:NAME`)
  and the redirect URI must begin with one of its `serviceaccounts.openshift.io/oauth-redirecturi.*`
  annotations (same scheme, host and port, the path below); the scope must be `user:info`; a
  PKCE challenge is kept. Where OpenShift shows its login page, the stand-in signs in the user
  the test named (`sign_in_as`) at once;
- `POST /oauth/token`: the code once, the same redirect URI, the ServiceAccount's token as the
  client secret (in the body), the PKCE verifier that hashes to the challenge;
- `GET /apis/user.openshift.io/v1/users/~` with the access token: the User, its groups included.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response


@dataclass
class StandInUser:
    name: str
    uid: str
    groups: list[str]


@dataclass
class OpenShiftStandIn:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    users: dict[str, StandInUser] = field(default_factory=dict)
    signing_in: str | None = None
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    authorize_queries: list[dict[str, str]] = field(default_factory=list)

    def add_user(self, name: str, *groups: str) -> None:
        self.users[name] = StandInUser(name, f"uid-{secrets.token_hex(4)}", list(groups))

    def sign_in_as(self, name: str) -> None:
        self.signing_in = name

    def _redirect_allowed(self, uri: str) -> bool:
        asked = urlsplit(uri)
        for allowed in map(urlsplit, self.redirect_uris):
            same_origin = (asked.scheme, asked.netloc) == (allowed.scheme, allowed.netloc)
            if same_origin and asked.path.startswith(allowed.path):
                return True
        return False

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/oauth-authorization-server")
        def metadata(request: Request) -> dict[str, Any]:
            base = str(request.base_url).rstrip("/")
            return {
                "issuer": base,
                "authorization_endpoint": f"{base}/oauth/authorize",
                "token_endpoint": f"{base}/oauth/token",
                "scopes_supported": ["user:full", "user:info", "user:check-access"],
                "response_types_supported": ["code", "token"],
                "grant_types_supported": ["authorization_code", "implicit"],
                "code_challenge_methods_supported": ["plain", "S256"],
            }

        @app.get("/oauth/authorize")
        def authorize(request: Request) -> Response:
            q = dict(request.query_params)
            self.authorize_queries.append(q)
            if q.get("client_id") != self.client_id:
                return JSONResponse({"error": "unauthorized_client"}, 400)
            redirect = q.get("redirect_uri", "")
            if not self._redirect_allowed(redirect):
                return JSONResponse({"error": "invalid_request", "redirect": "not allowed"}, 400)
            if q.get("response_type") != "code" or q.get("scope") != "user:info":
                return JSONResponse({"error": "invalid_scope"}, 400)
            if self.signing_in is None:
                return JSONResponse({"error": "no one signs in (the test named no user)"}, 400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "user": self.signing_in,
                "redirect_uri": redirect,
                "challenge": q.get("code_challenge"),
                "method": q.get("code_challenge_method"),
            }
            sep = "&" if "?" in redirect else "?"
            return RedirectResponse(
                f"{redirect}{sep}{urlencode({'code': code, 'state': q.get('state', '')})}", 302
            )

        @app.post("/oauth/token")
        async def token(request: Request) -> Response:
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            grant_type, code = form.get("grant_type", ""), form.get("code", "")
            redirect_uri, code_verifier = (
                form.get("redirect_uri", ""),
                form.get("code_verifier", ""),
            )
            client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
            if client_id != self.client_id or client_secret != self.client_secret:
                return JSONResponse({"error": "unauthorized_client"}, 401)
            grant = self.codes.pop(code, None)
            if grant_type != "authorization_code" or grant is None:
                return JSONResponse({"error": "invalid_grant"}, 400)
            if redirect_uri != grant["redirect_uri"]:
                return JSONResponse({"error": "invalid_grant", "why": "redirect_uri"}, 400)
            if grant["challenge"] is not None:
                digest = hashlib.sha256(code_verifier.encode()).digest()
                s256 = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if grant["method"] != "S256" or s256 != grant["challenge"]:
                    return JSONResponse(
                        {"error": "invalid_grant", "error_description": "PKCE verification"},
                        400,
                    )
            access = f"sha256~{secrets.token_urlsafe(24)}"
            self.tokens[access] = grant["user"]
            return JSONResponse(
                {"access_token": access, "token_type": "Bearer", "expires_in": 86400,
                 "scope": "user:info"}
            )  # fmt: skip

        @app.get("/apis/user.openshift.io/v1/users/~")
        def me(request: Request) -> Response:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            name = self.tokens.get(value) if scheme.lower() == "bearer" else None
            if name is None:
                return JSONResponse({"kind": "Status", "code": 401}, 401)
            user = self.users[name]
            return JSONResponse(
                {
                    "kind": "User",
                    "apiVersion": "user.openshift.io/v1",
                    "metadata": {"name": user.name, "uid": user.uid},
                    "identities": [f"company-ldap:{user.name}"],
                    "groups": [*user.groups, "system:authenticated", "system:authenticated:oauth"],
                }
            )

        return app
