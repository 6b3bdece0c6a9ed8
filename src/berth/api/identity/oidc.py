"""OpenID Connect: authorization code with PKCE (Authlib), the id_token checked here.

Discovery reads `<issuer>/.well-known/openid-configuration` once per process (and again after
`METADATA_TTL`), and insists its `issuer` is the configured one. The id_token's signature is
checked against the issuer's JWKS (fetched again once when a key id is unknown: the provider
rotated its keys), with the algorithms the issuer announces, never `none` or a shared-secret
HMAC; then Authlib's `CodeIDToken` rules with `iss`, `aud` and the sign-in's `nonce` required,
`exp` and `iat` checked with `LEEWAY`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from berth.api.identity.common import HTTP_TIMEOUT, Flow, ProviderError, ProviderUnavailable
from berth.config import Settings
from berth.domain.identity import OIDC, Claimed, SignInRefused, groups_from, username_from

METADATA_TTL = 3600.0  # seconds a discovery document and its keys are reused
LEEWAY = 60  # seconds of clock difference allowed on exp and iat
ASYMMETRIC = ("RS", "PS", "ES", "Ed")  # algorithm families whose keys the JWKS publishes

_CLAIM_MESSAGES = {
    "iss": "the id_token was issued by {value!r}, not by the configured issuer",
    "aud": "the id_token is meant for another client (aud {value!r}), not for Berth's",
    "azp": "the id_token was issued to another client (azp {value!r})",
    "nonce": "the id_token's nonce is not this sign-in's: a replayed or foreign token",
    "at_hash": "the id_token does not belong to the access token it came with (at_hash)",
}


def check_id_token(
    id_token: str,
    jwks: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    now: datetime,
    algorithms: list[str],
    access_token: str | None = None,
) -> dict[str, Any]:
    """The id_token's claims when its signature, issuer, audience, nonce and times hold.

    Raises ProviderError with a sentence that says which check failed.
    """
    allowed = [a for a in algorithms if a.startswith(ASYMMETRIC)] or ["RS256"]
    try:
        token = jwt.decode(
            id_token,
            KeySet.import_key_set(dict(jwks)),  # type: ignore[arg-type]
            registry=JWSRegistry(algorithms=allowed, strict_check_header=False),
        )
    except InvalidKeyIdError as exc:
        raise ProviderError(
            "the id_token is signed with a key the issuer does not publish"
        ) from exc
    except BadSignatureError as exc:
        raise ProviderError("the id_token's signature does not verify: forged or altered") from exc
    except JoseError as exc:
        raise ProviderError(f"the id_token cannot be read ({exc.error}: {exc})") from exc
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True, "value": nonce},
    }
    params = {"nonce": nonce, "client_id": client_id}
    if access_token:
        params["access_token"] = access_token
    claims = CodeIDToken(token.claims, token.header, options, params)
    try:
        claims.validate(now=int(now.timestamp()), leeway=LEEWAY)
    except ExpiredTokenError as exc:
        raise ProviderError("the id_token has expired; sign in again") from exc
    except MissingClaimError as exc:
        raise ProviderError(f"the id_token lacks the {exc.claim!r} claim") from exc
    except InvalidClaimError as exc:
        template = _CLAIM_MESSAGES.get(exc.claim, "the id_token's {claim!r} claim is not valid")
        raise ProviderError(
            template.format(claim=exc.claim, value=token.claims.get(exc.claim))
        ) from exc
    except JoseError as exc:
        raise ProviderError(f"the id_token is not valid ({exc.error}: {exc})") from exc
    return dict(token.claims)


class OidcProvider:
    """The configured OpenID Connect provider (BERTH_OIDC_*)."""

    id = OIDC

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer
        assert settings.oidc_client_id
        self.display_name = settings.oidc_display_name
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.client_secret = (
            settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
        )
        self.scopes = settings.oidc_scopes
        self.username_claim = settings.oidc_username_claim
        self.groups_claim = settings.oidc_groups_claim
        self.cluster_claim = settings.oidc_cluster_user_claim
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None
        self._fetched = 0.0

    # ---- discovery and keys ----

    def _get(self, url: str, what: str) -> dict[str, Any]:
        try:
            r = httpx.get(url, timeout=HTTP_TIMEOUT, follow_redirects=False)
            r.raise_for_status()
            body = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(
                f"the identity provider's {what} ({url}) failed: {exc}"
            ) from exc
        if not isinstance(body, dict):
            raise ProviderUnavailable(
                f"the identity provider's {what} ({url}) is not a JSON object"
            )
        return body

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._fetched > METADATA_TTL:
                url = f"{self.issuer}/.well-known/openid-configuration"
                found = self._get(url, "discovery document")
                if found.get("issuer") != self.issuer:
                    raise ProviderUnavailable(
                        f"the discovery document at {url} names the issuer "
                        f"{found.get('issuer')!r}, not {self.issuer!r} (BERTH_OIDC_ISSUER)"
                    )
                missing = [
                    k
                    for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")
                    if not isinstance(found.get(k), str)
                ]
                if missing:
                    raise ProviderUnavailable(f"the discovery document at {url} lacks {missing}")
                self._metadata, self._jwks, self._fetched = found, None, time.monotonic()
            return self._metadata

    def jwks(self, *, again: bool = False) -> dict[str, Any]:
        meta = self.metadata()
        with self._lock:
            if self._jwks is None or again:
                self._jwks = self._get(meta["jwks_uri"], "key set (jwks_uri)")
            return self._jwks

    # ---- the flow ----

    def _client(self, redirect_uri: str) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
            scope=self.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT,
        )

    def authorization_url(self, redirect_uri: str, flow: Flow) -> str:
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=flow.state,
                nonce=flow.nonce,
                code_verifier=flow.code_verifier,
            )
        return str(url)

    def complete(
        self, code: str, redirect_uri: str, nonce: str, code_verifier: str, now: datetime
    ) -> Claimed:
        meta = self.metadata()
        with self._client(redirect_uri) as client:
            try:
                token = client.fetch_token(
                    meta["token_endpoint"], code=code, code_verifier=code_verifier
                )
            except OAuthError as exc:
                raise ProviderError(
                    f"the identity provider refused the sign-in code ({exc.error}: "
                    f"{exc.description or 'no description'})"
                ) from exc
            except httpx.HTTPError as exc:
                raise ProviderUnavailable(
                    f"the identity provider's token endpoint failed: {exc}"
                ) from exc
            if "id_token" not in token:
                raise ProviderError("the identity provider sent no id_token (is 'openid' a scope?)")
            claims = self._checked(token["id_token"], nonce, now, token.get("access_token"))
            if self.groups_claim not in claims and meta.get("userinfo_endpoint"):
                claims = {**self._userinfo(client, meta["userinfo_endpoint"]), **claims}
        return self.claimed(claims)

    def _checked(
        self, id_token: str, nonce: str, now: datetime, access_token: str | None
    ) -> dict[str, Any]:
        algorithms = list(self.metadata().get("id_token_signing_alg_values_supported", []))
        common = {"issuer": self.issuer, "client_id": self.client_id, "nonce": nonce}
        try:
            return check_id_token(
                id_token, self.jwks(), now=now, algorithms=algorithms,
                access_token=access_token, **common,
            )  # fmt: skip
        except ProviderError as first:
            if "does not publish" not in str(first):
                raise
            return check_id_token(  # the provider may have rotated its keys since we looked
                id_token, self.jwks(again=True), now=now, algorithms=algorithms,
                access_token=access_token, **common,
            )  # fmt: skip

    @staticmethod
    def _userinfo(client: OAuth2Client, url: str) -> dict[str, Any]:
        try:
            r = client.get(url)
            r.raise_for_status()
            body = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(
                f"the identity provider's userinfo endpoint failed: {exc}"
            ) from exc
        return body if isinstance(body, dict) else {}

    def claimed(self, claims: Mapping[str, Any]) -> Claimed:
        """Who the checked claims say signed in (SignInRefused names a missing claim)."""
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise SignInRefused("the id_token has no subject ('sub')")
        cluster = claims.get(self.cluster_claim)
        if not isinstance(cluster, str) or not cluster:
            raise SignInRefused(
                f"the provider sent no {self.cluster_claim!r} claim, which names you to the "
                "cluster (BERTH_OIDC_CLUSTER_USER_CLAIM)"
            )
        return Claimed(
            provider=OIDC,
            subject=subject,
            username=username_from(
                claims.get(self.username_claim), f"claim {self.username_claim!r}"
            ),
            cluster_name=cluster,
            groups=groups_from(claims.get(self.groups_claim), f"claim {self.groups_claim!r}"),
        )
