"""OpenShift's OAuth server, which is OAuth 2.0 but not OpenID Connect.

No id_token and no discovery at the issuer: the API server announces its OAuth server at
`/.well-known/oauth-authorization-server` (RFC 8414), the client is a ServiceAccount
(`system:serviceaccount:<namespace>:<name>`, its token the client secret, its allowed redirect
URIs in the annotations `serviceaccounts.openshift.io/oauth-redirecturi.<name>`), and who signed
in is asked of the API server with the new access token: `user.openshift.io/v1` `users/~` (the
only thing the `user:info` scope allows). That answer's `metadata.name` is the cluster's name for
the person, `metadata.uid` the stable subject, `groups` their groups (the API server's own
`system:` groups dropped). The access token is used for that one request and then forgotten.
"""

from __future__ import annotations

import ssl
from datetime import datetime
from typing import Any

import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

from berth.api.identity.common import HTTP_TIMEOUT, Flow, ProviderError, ProviderUnavailable
from berth.config import Settings
from berth.domain.identity import OPENSHIFT, Claimed, SignInRefused, groups_from, username_from

SCOPE = "user:info"
USER_PATH = "/apis/user.openshift.io/v1/users/~"


class OpenShiftProvider:
    """The cluster's OAuth server (BERTH_OPENSHIFT_*)."""

    id = OPENSHIFT

    def __init__(self, settings: Settings) -> None:
        assert settings.openshift_api_url
        self.display_name = settings.openshift_display_name
        self.api_url = settings.openshift_api_url.rstrip("/")
        self.client_id = settings.openshift_client_id
        self.secret_file = settings.openshift_client_secret_file
        self.verify: ssl.SSLContext | bool = True
        if settings.openshift_ca_file:  # added to the system's CAs: the OAuth server's route
            context = ssl.create_default_context()  # may be signed by a public CA
            context.load_verify_locations(cafile=str(settings.openshift_ca_file))
            self.verify = context
        self._metadata: dict[str, Any] | None = None

    def _secret(self) -> str:
        """The ServiceAccount's token, read at each use: a rotated token is picked up."""
        try:
            return self.secret_file.read_text().strip()
        except OSError as exc:
            raise ProviderUnavailable(
                f"the OAuth client's secret (the ServiceAccount token) cannot be read from "
                f"{self.secret_file} (BERTH_OPENSHIFT_CLIENT_SECRET_FILE): {exc.strerror}"
            ) from exc

    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            url = f"{self.api_url}/.well-known/oauth-authorization-server"
            try:
                r = httpx.get(url, timeout=HTTP_TIMEOUT, verify=self.verify)
                r.raise_for_status()
                found = r.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise ProviderUnavailable(
                    f"OpenShift's OAuth discovery ({url}) failed: {exc}"
                ) from exc
            if not isinstance(found, dict) or not all(
                isinstance(found.get(k), str) for k in ("authorization_endpoint", "token_endpoint")
            ):
                raise ProviderUnavailable(f"{url} names no authorization and token endpoints")
            self._metadata = found
        return self._metadata

    def _client(self, redirect_uri: str, secret: str | None = None) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=secret,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method's name)
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT,
            verify=self.verify,
        )

    def authorization_url(self, redirect_uri: str, flow: Flow) -> str:
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=flow.state,
                code_verifier=flow.code_verifier,
            )
        return str(url)

    def complete(
        self, code: str, redirect_uri: str, nonce: str, code_verifier: str, now: datetime
    ) -> Claimed:
        """Exchange the code (no id_token, so no nonce), then ask the API server who it is."""
        with self._client(redirect_uri, self._secret()) as client:
            try:
                client.fetch_token(  # the client keeps the token for the next request
                    self.metadata()["token_endpoint"], code=code, code_verifier=code_verifier
                )
            except OAuthError as exc:
                raise ProviderError(
                    f"OpenShift's OAuth server refused the sign-in code ({exc.error}: "
                    f"{exc.description or 'no description'})"
                ) from exc
            except httpx.HTTPError as exc:
                raise ProviderUnavailable(f"OpenShift's token endpoint failed: {exc}") from exc
            try:
                r = client.get(self.api_url + USER_PATH)
                r.raise_for_status()
                user = r.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise ProviderUnavailable(
                    f"the API server did not say who signed in: {exc}"
                ) from exc
        return claimed(user)


def claimed(user: object) -> Claimed:
    """Who a `users/~` answer names."""
    meta = user.get("metadata") if isinstance(user, dict) else None
    if not isinstance(user, dict) or not isinstance(meta, dict):
        raise SignInRefused("the API server's users/~ answer is not a User")
    name, uid = meta.get("name"), meta.get("uid")
    if not isinstance(name, str) or not name:
        raise SignInRefused("the API server's users/~ answer has no metadata.name")
    groups = groups_from(user.get("groups"), "the User's groups")
    return Claimed(
        provider=OPENSHIFT,
        subject=uid if isinstance(uid, str) and uid else name,
        username=username_from(name, "the OpenShift user name"),
        cluster_name=name,
        groups=tuple(g for g in groups if not g.startswith("system:")),
    )
