"""The pure rules of notifications: kinds, actions, preferences, reminders, backoff, SSRF."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from berth.domain import notifications as rules

END = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


def test_unknown_kinds_and_actions_are_refused() -> None:
    assert rules.check_kind("idle") == "idle"
    with pytest.raises(ValueError, match="unknown notification kind 'ready!'"):
        rules.check_kind("ready!")
    assert rules.check_actions(["extend", "release", "extend"]) == ["extend", "release"]
    with pytest.raises(ValueError, match="unknown notification action 'delete'"):
        rules.check_actions(["release", "delete"])


def test_preferences_are_normalized_and_name_the_bad_field() -> None:
    p = rules.check_preferences(
        email=" a@example.org ",
        webhook_url="https://hooks.example.org/x",
        channels={"ready": ["webhook", "email", "email"], "idle": []},
        lead_minutes=[5, 30, 5],
    )
    assert p.email == "a@example.org"
    assert p.channels == {"ready": ("email", "webhook"), "idle": ()}
    assert p.lead_minutes == (30, 5)
    assert p.channels_for("ready") == ("email", "webhook")
    assert p.channels_for("idle") == ()
    cases = [
        ({"email": "not-an-address"}, "email"),
        ({"webhook_url": "ftp://example.org/"}, "webhook_url"),
        ({"webhook_url": "https://u:p@example.org/"}, "webhook_url"),
        ({"webhook_url": "https://example.org:99999/"}, "webhook_url"),
        ({"channels": {"ready": ["sms"]}}, "channels.ready"),
        ({"channels": {"nope": []}}, "channels"),
        ({"channels": {"ready": ["email"]}}, "channels.ready"),  # no address
        ({"channels": {"failed": ["webhook"]}}, "channels.failed"),
        ({"lead_minutes": [0]}, "lead_minutes"),
        ({"lead_minutes": [1441]}, "lead_minutes"),
        ({"lead_minutes": [1, 2, 3, 4, 5, 6]}, "lead_minutes"),
    ]
    for change, field in cases:
        args: dict[str, object] = {
            "email": None,
            "webhook_url": None,
            "channels": {},
            "lead_minutes": [30, 5],
        }
        args.update(change)
        with pytest.raises(rules.PreferenceError) as caught:
            rules.check_preferences(**args)  # type: ignore[arg-type]
        assert caught.value.field == field, change


def test_one_reminder_per_sweep_the_shortest_lead_that_is_due() -> None:
    leads = (30, 5)
    assert rules.due_lead(END, END - timedelta(minutes=31), leads) is None
    assert rules.due_lead(END, END - timedelta(minutes=30), leads) == 30
    assert rules.due_lead(END, END - timedelta(minutes=6), leads) == 30
    assert rules.due_lead(END, END - timedelta(minutes=5), leads) == 5
    assert rules.due_lead(END, END - timedelta(minutes=1), leads) == 5
    assert rules.due_lead(END, END, leads) is None  # ended: nothing
    assert rules.minutes_left(END, END - timedelta(minutes=29, seconds=40)) == 30
    assert rules.minutes_left(END, END - timedelta(seconds=3)) == 1


def test_backoff_doubles_up_to_the_cap() -> None:
    base, cap = timedelta(seconds=30), timedelta(minutes=5)
    delays = [rules.retry_delay(n, base, cap).total_seconds() for n in range(1, 7)]
    assert delays == [30, 60, 120, 240, 300, 300]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.96.0.1",  # a cluster Service address
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_webhooks_never_reach_inner_addresses(address: str) -> None:
    ip = ipaddress.ip_address(address)
    why = rules.address_refusal("hook.example.org", ip, rules.AllowedHosts())
    assert why is not None
    assert "not a public address" in why


def test_public_addresses_and_what_an_admin_allows_are_reached() -> None:
    none = rules.AllowedHosts()
    assert rules.address_refusal("x", ipaddress.ip_address("93.184.216.34"), none) is None
    assert rules.address_refusal("x", ipaddress.ip_address("2606:4700::1"), none) is None
    allowed = rules.AllowedHosts.parse("hooks.internal, 10.1.0.0/16, ::1")
    assert (
        rules.address_refusal("HOOKS.internal.", ipaddress.ip_address("10.9.9.9"), allowed) is None
    )
    assert rules.address_refusal("other", ipaddress.ip_address("10.1.2.3"), allowed) is None
    assert rules.address_refusal("other", ipaddress.ip_address("::1"), allowed) is None
    assert rules.address_refusal("other", ipaddress.ip_address("10.2.0.1"), allowed) is not None


def test_the_webhook_payload_is_slack_compatible() -> None:
    m = rules.Message(
        "ending", "Closes in 5 min", "Pool c845a", ("extend", "release"), "https://b/r"
    )
    payload = rules.slack_payload(m)
    assert payload["text"] == "Closes in 5 min\nPool c845a\nhttps://b/r"
    blocks = payload["blocks"]
    assert isinstance(blocks, list)
    assert blocks[0]["type"] == "section"
    assert [e["text"]["text"] for e in blocks[1]["elements"]] == ["extend", "release"]
    assert "What you can do: extend, release." in rules.email_text(m)
