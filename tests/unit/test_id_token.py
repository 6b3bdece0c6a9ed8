"""The id_token checks, on tokens signed with keys this test controls: a good one passes, and
a wrong audience, a wrong nonce, an expired one, a forged signature, another issuer, an unknown
key or an unsigned token is refused with a sentence that says which."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from berth.api.identity.common import ProviderError
from berth.api.identity.oidc import check_id_token

ISSUER = "https://sso.example.org/realms/company"
CLIENT = "berth-portal"
NONCE = "n-0S6_WzA2Mj"
NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
KEY = RSAKey.generate_key(2048, parameters={"kid": "issuer-key"})
JWKS = KeySet([KEY]).as_dict(private=False)


def claims(**changes: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "sub": "f3c1",
        "aud": CLIENT,
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
        "iat": int(NOW.timestamp()),
        "nonce": NONCE,
        "preferred_username": "alice",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: RSAKey = KEY, kid: str = "issuer-key") -> str:
    return jwt.encode({"alg": "RS256", "kid": kid}, payload, key)


def check(token: str) -> dict[str, Any]:
    return check_id_token(
        token, JWKS, issuer=ISSUER, client_id=CLIENT, nonce=NONCE, now=NOW, algorithms=["RS256"]
    )


def test_a_good_token_gives_its_claims() -> None:
    assert check(sign(claims()))["preferred_username"] == "alice"
    # a list audience that holds Berth's client (and names it as authorised party) is fine
    assert check(sign(claims(aud=[CLIENT, "account"], azp=CLIENT)))["sub"] == "f3c1"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (claims(aud="another-app"), "meant for another client (aud 'another-app')"),
        (claims(aud=["another-app"], azp=CLIENT), "meant for another client"),
        (claims(nonce="someone-elses"), "nonce is not this sign-in's"),
        (claims(nonce=None), "lacks the 'nonce' claim"),
        (claims(exp=int((NOW - timedelta(minutes=5)).timestamp())), "has expired"),
        (claims(iss="https://evil.example.org"), "issued by 'https://evil.example.org'"),
        (claims(azp="another-app"), "issued to another client (azp 'another-app')"),
    ],
    ids=["audience", "audience-list", "nonce", "no-nonce", "expired", "issuer", "azp"],
)
def test_a_token_with_wrong_claims_is_refused_with_the_reason(
    payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProviderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check(sign(payload))


def test_a_forged_signature_is_refused() -> None:
    forger = RSAKey.generate_key(2048, parameters={"kid": "issuer-key"})  # same kid, other key
    with pytest.raises(ProviderError, match="signature does not verify: forged or altered"):
        check(sign(claims(), forger))
    # altered after signing: the payload of one token with the signature of another
    good, other = sign(claims()), sign(claims(preferred_username="root"))
    spliced = ".".join([good.split(".")[0], other.split(".")[1], good.split(".")[2]])
    with pytest.raises(ProviderError, match="forged or altered"):
        check(spliced)


def test_a_key_the_issuer_does_not_publish_is_refused() -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"})
    with pytest.raises(ProviderError, match="a key the issuer does not publish"):
        check(sign(claims(), stranger, kid="stranger"))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_an_unsigned_or_hmac_token_is_refused() -> None:
    secret = OctKey.import_key("a-shared-secret-anyone-may-know-32b")
    with pytest.raises(ProviderError, match="cannot be read"):
        check(jwt.encode({"alg": "HS256", "kid": "issuer-key"}, claims(), secret))
    unsigned = f"{_b64({'alg': 'none'})}.{_b64(claims())}."
    with pytest.raises(ProviderError, match="cannot be read"):
        check(unsigned)
