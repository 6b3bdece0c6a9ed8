"""Slack-compatible webhooks with httpx, and the SSRF rule checked where it matters: at send
time the host is resolved and every address checked (domain.notifications.address_refusal),
and the connection goes to that checked address (a pinned network backend), so a DNS answer
that changes between the check and the connect cannot redirect it. TLS still verifies the
URL's name. Redirects are not followed; no proxy from the environment is used."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
from collections.abc import Iterable
from functools import cache

import httpcore
import httpx

from berth.domain.notifications import (
    AllowedHosts,
    IPAddress,
    Message,
    address_refusal,
    check_webhook_syntax,
    slack_payload,
)
from berth.notify.email import PermanentError


class Refused(PermanentError):
    """The URL points where webhooks may not go."""


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (a literal address is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror}") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def checked_address(url: str, allowed: AllowedHosts) -> IPAddress:
    """The address to call for `url`, every resolved address allowed; Refused otherwise."""
    host, port = check_webhook_syntax(url)
    addresses = resolve(host, port)
    for address in addresses:
        why = address_refusal(host, address, allowed)
        if why is not None:
            raise Refused(why)
    return addresses[0]


class _Pinned(httpcore.SyncBackend):
    """Connects to the checked address whatever name the request carries."""

    def __init__(self, address: IPAddress) -> None:
        self.address = address

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        return super().connect_tcp(str(self.address), port, timeout, local_address, socket_options)


@cache
def _tls() -> ssl.SSLContext:
    """Verifying TLS (loading the CA bundle takes a while: once per process)."""
    return httpx.create_ssl_context()


def _transport(address: IPAddress) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(verify=_tls())
    transport._pool = httpcore.ConnectionPool(  # the one seam httpx has for a network backend
        ssl_context=_tls(), network_backend=_Pinned(address)
    )
    return transport


def post_webhook(url: str, m: Message, allowed: AllowedHosts, timeout: float = 10.0) -> None:
    """POST the Slack-compatible payload to `url`. Raises Refused (the SSRF rule),
    PermanentError (a 4xx but 408 and 429: sending again would not help) or another error
    (a network error, a 5xx: retried)."""
    address = checked_address(url, allowed)
    body = json.dumps(slack_payload(m)).encode()
    headers = {"content-type": "application/json", "user-agent": "berth-notify"}
    with httpx.Client(
        timeout=timeout, follow_redirects=False, transport=_transport(address), trust_env=False
    ) as client:
        r = client.post(url, content=body, headers=headers)
    if r.is_success:
        return
    detail = f"HTTP {r.status_code} from the webhook: {r.text[:200]}"
    if 400 <= r.status_code < 500 and r.status_code not in (408, 429):
        raise PermanentError(detail)
    raise OSError(detail)
