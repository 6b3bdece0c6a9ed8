"""Notifications, the pure rules: kinds and actions, preferences, reminders, retries, and
which webhook addresses may be called (the SSRF rule). No I/O here; the store records, the
delivery loop (`berth.notify`) resolves and sends."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

# "request": a booking waits for approval (to leads and admins) or was decided (to its owner);
# "offer": a waitlist offer is held for its user (docs/teams.md)
KINDS = ("ready", "failed", "ending", "idle", "released", "request", "offer")
ACTIONS = ("extend", "release", "keep", "open")
CHANNELS = ("email", "webhook")  # the portal (the bell) records every message anyway

DEFAULT_LEAD_MINUTES = (30, 5)
MAX_LEAD_MINUTES = 24 * 60
MAX_LEADS = 5
MAX_URL = 2000
MAX_EMAIL = 254


class PreferenceError(ValueError):
    """A preference that breaks a rule; `field` names it."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.detail = detail
        super().__init__(f"{field}: {detail}")


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}; one of {', '.join(KINDS)}")
    return kind


def check_actions(actions: Iterable[str]) -> list[str]:
    out: list[str] = []
    for a in actions:
        if a not in ACTIONS:
            raise ValueError(f"unknown notification action {a!r}; one of {', '.join(ACTIONS)}")
        if a not in out:
            out.append(a)
    return out


@dataclass(frozen=True)
class Preferences:
    """A user's choices. `channels[kind]` are the channels (beyond the portal) for that kind."""

    email: str | None = None
    webhook_url: str | None = None
    channels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    lead_minutes: tuple[int, ...] = DEFAULT_LEAD_MINUTES

    def channels_for(self, kind: str) -> tuple[str, ...]:
        """The channels a message of `kind` goes to: chosen, and with an address set."""
        chosen = self.channels.get(kind, ())
        have = {"email": self.email, "webhook": self.webhook_url}
        return tuple(c for c in CHANNELS if c in chosen and have[c])


def _check_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    email = email.strip()
    local, at, domain = email.rpartition("@")
    if (
        len(email) > MAX_EMAIL
        or not at
        or not local
        or "." not in domain
        or any(c.isspace() or c in "<>,;\"'" for c in email)
    ):
        raise PreferenceError("email", f"{email!r} is not an e-mail address (name@example.org)")
    return email


def check_webhook_syntax(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL; PreferenceError("webhook_url") otherwise."""
    if len(url) > MAX_URL:
        raise PreferenceError("webhook_url", f"at most {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PreferenceError("webhook_url", "must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise PreferenceError("webhook_url", "must not carry a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise PreferenceError("webhook_url", f"bad port: {exc}") from exc
    return parts.hostname.lower(), port


def check_preferences(
    *,
    email: str | None,
    webhook_url: str | None,
    channels: Mapping[str, Sequence[str]],
    lead_minutes: Sequence[int],
) -> Preferences:
    """Validated preferences, or PreferenceError naming the first bad field."""
    for kind, chosen in channels.items():
        if kind not in KINDS:
            raise PreferenceError("channels", f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
        for c in chosen:
            if c not in CHANNELS:
                raise PreferenceError(
                    f"channels.{kind}", f"unknown channel {c!r}; one of {', '.join(CHANNELS)}"
                )
    leads = sorted(set(lead_minutes), reverse=True)
    if len(leads) > MAX_LEADS:
        raise PreferenceError("lead_minutes", f"at most {MAX_LEADS} reminders")
    if any(m < 1 or m > MAX_LEAD_MINUTES for m in leads):
        raise PreferenceError("lead_minutes", f"each between 1 and {MAX_LEAD_MINUTES} minutes")
    email = _check_email(email)
    url = webhook_url.strip() if webhook_url and webhook_url.strip() else None
    if url is not None:
        check_webhook_syntax(url)
    normalized = {k: tuple(c for c in CHANNELS if c in set(v)) for k, v in channels.items()}
    for kind, chosen in normalized.items():
        if "email" in chosen and email is None:
            raise PreferenceError(f"channels.{kind}", "e-mail chosen but no e-mail address set")
        if "webhook" in chosen and url is None:
            raise PreferenceError(f"channels.{kind}", "webhook chosen but no webhook URL set")
    return Preferences(email, url, normalized, tuple(leads))


# ---- the webhook's addresses (SSRF) ---------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AllowedHosts:
    """What an admin lets webhooks reach although it is not a public address: host names
    (exact, lower case) and networks. Empty by default: public addresses only."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> AllowedHosts:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for item in (i.strip() for i in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                names.add(item.lower().rstrip("."))
        return cls(frozenset(names), tuple(networks))


def address_refusal(host: str, address: IPAddress, allowed: AllowedHosts) -> str | None:
    """Why a webhook may not connect to `address` (which `host` resolved to), or None.

    Only globally routable unicast addresses are called: loopback, link-local (cloud metadata
    at 169.254.169.254), private (RFC 1918, where cluster Service and Pod networks live),
    shared (100.64/10), unique-local, multicast, reserved and unspecified ones are refused,
    as are IPv4-mapped IPv6 forms of them, unless the host name or the address is allowed.
    """
    if host.lower().rstrip(".") in allowed.names:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in net for net in allowed.networks):
        return None
    if address.is_global and not address.is_multicast:
        return None
    return (
        f"{host} resolves to {address}, which is not a public address (loopback, private, "
        "link-local or cluster); an admin may allow it with BERTH_WEBHOOK_ALLOW_HOSTS"
    )


# ---- reminders and retries -----------------------------------------------------------------


def due_lead(end: datetime, now: datetime, leads: Sequence[int]) -> int | None:
    """The reminder due now for a window ending at `end`: the shortest lead (minutes) whose
    time has come, so a sweep that runs late, or a short booking, sends one reminder, not two."""
    if now >= end:
        return None
    due = [m for m in leads if now >= end - timedelta(minutes=m)]
    return min(due) if due else None


def minutes_left(end: datetime, now: datetime) -> int:
    return max(1, round((end - now).total_seconds() / 60))


def retry_delay(attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential backoff after `attempts` failed attempts: base, 2 base, 4 base ... cap."""
    delay: timedelta = base * (2 ** max(attempts - 1, 0))
    return min(delay, cap)


@dataclass(frozen=True)
class Message:
    """What the sender needs of one notification."""

    kind: str
    title: str
    body: str
    actions: tuple[str, ...]
    link: str | None  # the portal page that offers the actions, when the portal URL is known


def slack_payload(m: Message) -> dict[str, object]:
    """Slack-compatible JSON: `text` for any receiver, and blocks for Slack."""
    text = f"{m.title}\n{m.body}"
    if m.link:
        text += f"\n{m.link}"
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{m.title}*\n{m.body}"}}
    ]
    if m.link and m.actions:
        elements = [
            {"type": "button", "text": {"type": "plain_text", "text": a}, "url": m.link}
            for a in m.actions
        ]
        blocks.append({"type": "actions", "elements": elements})
    return {"text": text, "blocks": blocks}


def email_text(m: Message) -> str:
    lines = [m.body, ""]
    if m.actions:
        lines.append("What you can do: " + ", ".join(m.actions) + ".")
    if m.link:
        lines.append(m.link)
    return "\n".join(lines).rstrip() + "\n"
