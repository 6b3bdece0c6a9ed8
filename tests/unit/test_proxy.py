"""X-Forwarded-* believed only from configured proxies (berth.api.proxy, config.TrustedProxies)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from berth.api.proxy import ForwardedHeaders, client_address
from berth.config import Settings, TrustedProxies

PROXY = TrustedProxies.parse("10.0.0.0/8, 2001:db8::1")


def test_the_setting_parses_addresses_networks_and_star() -> None:
    assert [PROXY.trusts(h) for h in ("10.1.2.3", "2001:db8::1")] == [True, True]
    assert [PROXY.trusts(h) for h in ("11.0.0.1", "2001:db8::2", "testclient", None)] == [False] * 4
    assert not TrustedProxies.parse("").trusts("127.0.0.1")  # the default: nobody
    assert TrustedProxies.parse("*").trusts("anything")
    with pytest.raises(ValueError, match="not an IP address"):
        Settings(forwarded_allow_ips="10.0.0.0/8, proxy.example")


def test_the_client_is_the_first_untrusted_hop_from_the_right() -> None:
    # the client wrote "6.6.6.6" itself; the proxy appended the address it saw
    assert client_address("10.0.0.2", ["6.6.6.6", "198.51.100.7"], PROXY) == "198.51.100.7"
    # two trusted proxies in a row
    assert client_address("10.0.0.2", ["198.51.100.7", "10.0.0.3"], PROXY) == "198.51.100.7"
    # an untrusted peer's header is not read at all
    assert client_address("203.0.113.9", ["6.6.6.6"], PROXY) == "203.0.113.9"
    # garbage stops the walk at the hop that passed it on
    assert client_address("10.0.0.2", ["<script>", "10.0.0.3"], PROXY) == "10.0.0.3"


def _seen(peer: str, headers: dict[str, str], trusted: TrustedProxies = PROXY) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    scope = {
        "type": "http",
        "scheme": "http",
        "client": (peer, 5555),
        "headers": [(b"host", b"berth.internal:8000")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    middleware = ForwardedHeaders(app, trusted)
    # a thread of its own: a browser test earlier in the run may leave an event loop running
    # in this one (Playwright's sync API), where asyncio.run() refuses to start
    with ThreadPoolExecutor(1) as worker:
        worker.submit(asyncio.run, middleware(scope, None, None)).result()  # type: ignore[arg-type]
    return seen


FORWARDED = {
    "X-Forwarded-For": "6.6.6.6, 198.51.100.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "berth.example.org",
}


def test_a_trusted_proxy_sets_client_scheme_and_host() -> None:
    scope = _seen("10.0.0.2", FORWARDED)
    assert scope["client"][0] == "198.51.100.7"
    assert scope["scheme"] == "https"
    assert dict(scope["headers"])[b"host"] == b"berth.example.org"


def test_an_untrusted_peer_changes_nothing() -> None:
    scope = _seen("203.0.113.9", FORWARDED)
    assert scope["client"] == ("203.0.113.9", 5555)
    assert scope["scheme"] == "http"
    assert dict(scope["headers"])[b"host"] == b"berth.internal:8000"
    # nor with the default setting, even from loopback
    scope = _seen("127.0.0.1", FORWARDED, TrustedProxies.parse(""))
    assert (scope["client"][0], scope["scheme"]) == ("127.0.0.1", "http")


def test_odd_proto_and_host_values_are_ignored() -> None:
    scope = _seen(
        "10.0.0.2", {"X-Forwarded-Proto": "gopher", "X-Forwarded-Host": "evil.example/path"}
    )
    assert scope["scheme"] == "http"
    assert dict(scope["headers"])[b"host"] == b"berth.internal:8000"
