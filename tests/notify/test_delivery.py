"""Delivery on the real database to real receivers: an SMTP server and a local HTTP webhook
receiver that fails on purpose. Retries are counted at the receiver; time moves by a clock
the test sets (no wall-clock assertions)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from typer.testing import CliRunner

from berth.domain.notifications import AllowedHosts, Preferences
from berth.notify import webhook
from berth.notify.email import SmtpConfig
from berth.notify.loop import Deliverer
from berth.store import notifications, users
from berth.store.db import Database
from berth.store.deliveries import RetryPolicy
from berth.store.models import NotificationDelivery
from tests.notify.conftest import Mailbox, Receiver

LOCAL = AllowedHosts.parse("127.0.0.1")
POLICY = RetryPolicy(max_attempts=4, base=timedelta(seconds=30), cap=timedelta(minutes=10))


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


def _user(db: Database, name: str, prefs: Preferences, now: datetime) -> int:
    with db.transaction() as tx:
        uid = users.create(tx, name, f"pw-{name}-long-enough", "user", actor="test").id
        notifications.save_preferences(tx, uid, prefs, now)
    return uid


def _notify(db: Database, uid: int, title: str, kind: str = "ready") -> int:
    with db.transaction() as tx:
        return notifications.notify(tx, user_id=uid, kind=kind, title=title, body="body")


def _deliveries(db: Database) -> dict[str, NotificationDelivery]:
    with db.transaction() as tx:
        return {d.channel: d for d in tx.scalars(select(NotificationDelivery))}


def _smtp_config(controller: Controller) -> SmtpConfig:
    return SmtpConfig("127.0.0.1", controller.port, "none", None, None, "berth@example.org")


def test_mail_reaches_a_real_smtp_server(
    db: Database, now: datetime, smtp: tuple[Controller, Mailbox]
) -> None:
    controller, box = smtp
    uid = _user(
        db, "alice", Preferences(email="alice@example.org", channels={"idle": ("email",)}), now
    )
    with db.transaction() as tx:
        notifications.notify(
            tx,
            user_id=uid,
            kind="idle",
            title="Your GPUs look idle",
            body="No activity for 30 min.",
            actions=["extend", "release", "keep"],
        )
    clock = Clock(now + timedelta(days=3650))  # far past the recording: due
    deliverer = Deliverer(
        db, _smtp_config(controller), LOCAL, POLICY, "https://berth.example", clock=clock
    )
    assert deliverer.drain() == 1
    ((to, mail),) = box.messages
    assert to == ["alice@example.org"]
    assert mail["Subject"] == "[Berth] Your GPUs look idle"
    assert mail["From"] == "berth@example.org"
    text = mail.get_payload()
    assert isinstance(text, str)
    assert "No activity for 30 min." in text
    assert "What you can do: extend, release, keep." in text
    assert "https://berth.example/reservations" in text
    d = _deliveries(db)["email"]
    assert (d.state, d.attempts, d.errors) == ("sent", 1, [])
    assert deliverer.drain() == 0  # nothing is sent twice


def test_a_failing_webhook_is_retried_with_backoff_and_every_error_recorded(
    db: Database, now: datetime, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    uid = _user(
        db, "alice", Preferences(webhook_url=receiver.url, channels={"ready": ("webhook",)}), now
    )
    _notify(db, uid, "Your workspace is ready")
    clock = Clock(now + timedelta(days=3650))
    deliverer = Deliverer(db, None, LOCAL, POLICY, clock=clock)

    assert deliverer.drain() == 1
    first = _deliveries(db)["webhook"]
    assert (first.state, first.attempts) == ("pending", 1)
    assert first.next_attempt_at == clock.now + timedelta(seconds=30)
    assert deliverer.drain() == 0  # not due yet: nothing sent early
    clock.advance(timedelta(seconds=30))
    assert deliverer.drain() == 1
    second = _deliveries(db)["webhook"]
    assert second.next_attempt_at == clock.now + timedelta(seconds=60)  # doubled
    clock.advance(timedelta(seconds=60))
    assert deliverer.drain() == 1

    assert receiver.answered == [503, 503, 200]  # counted at the server
    done = _deliveries(db)["webhook"]
    assert (done.state, done.attempts) == ("sent", 3)
    assert [e["error"] for e in done.errors] == ["OSError: HTTP 503 from the webhook: no"] * 2
    payload = receiver.requests[-1]
    assert payload["text"] == "Your workspace is ready\nbody"
    assert isinstance(payload["blocks"], list)


def test_a_channel_that_keeps_failing_gives_up_and_does_not_hold_up_the_other(
    db: Database, now: datetime, receiver: Receiver, smtp: tuple[Controller, Mailbox]
) -> None:
    controller, box = smtp
    receiver.fail_first = 1000
    prefs = Preferences(
        email="alice@example.org",
        webhook_url=receiver.url,
        channels={"failed": ("email", "webhook")},
    )
    uid = _user(db, "alice", prefs, now)
    _notify(db, uid, "Provisioning failed", kind="failed")
    clock = Clock(now + timedelta(days=3650))
    deliverer = Deliverer(db, _smtp_config(controller), LOCAL, POLICY, clock=clock)
    deliverer.drain()
    assert len(box.messages) == 1  # the mail went out on the first pass
    for _ in range(10):
        clock.advance(POLICY.cap)
        deliverer.drain()
    hook = _deliveries(db)["webhook"]
    assert (hook.state, hook.attempts, len(hook.errors)) == ("failed", 4, 4)
    assert len(receiver.requests) == POLICY.max_attempts
    assert _deliveries(db)["email"].state == "sent"
    assert len(box.messages) == 1


def test_the_ssrf_rule_is_checked_again_at_send_time(
    db: Database, now: datetime, receiver: Receiver
) -> None:
    # saved while an admin allowed the host (or before its name resolved inward)
    uid = _user(
        db, "alice", Preferences(webhook_url=receiver.url, channels={"ready": ("webhook",)}), now
    )
    _notify(db, uid, "Ready")
    clock = Clock(now + timedelta(days=3650))
    Deliverer(db, None, AllowedHosts(), POLICY, clock=clock).drain()
    d = _deliveries(db)["webhook"]
    assert d.state == "failed"  # for good: retrying would not make it public
    assert d.attempts == 1
    assert d.last_error is not None
    assert "127.0.0.1, which is not a public address" in d.last_error
    assert receiver.requests == []  # never called


def test_mail_while_smtp_is_off_is_recorded_as_failed(db: Database, now: datetime) -> None:
    uid = _user(
        db, "alice", Preferences(email="a@example.org", channels={"ready": ("email",)}), now
    )
    _notify(db, uid, "Ready")
    Deliverer(db, None, LOCAL, POLICY, clock=Clock(now + timedelta(days=3650))).drain()
    d = _deliveries(db)["email"]
    assert d.state == "failed"
    assert d.last_error == "e-mail is off: BERTH_SMTP_HOST is not set"


def test_an_address_removed_before_sending_fails_that_delivery_clearly(
    db: Database, now: datetime, receiver: Receiver
) -> None:
    uid = _user(
        db, "alice", Preferences(webhook_url=receiver.url, channels={"ready": ("webhook",)}), now
    )
    _notify(db, uid, "Ready")
    with db.transaction() as tx:
        notifications.save_preferences(tx, uid, Preferences(), now)
    Deliverer(db, None, LOCAL, POLICY, clock=Clock(now + timedelta(days=3650))).drain()
    d = _deliveries(db)["webhook"]
    assert (d.state, d.last_error) == (
        "failed",
        "no webhook address set (removed from the preferences)",
    )
    assert receiver.requests == []


def test_the_connection_goes_to_the_address_that_was_checked(
    db: Database, now: datetime, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved once, checked, and the request connects to that address: here a
    name no DNS server knows reaches the receiver, with its own name in the Host header."""
    port = receiver.url.split(":")[2].split("/")[0]
    url = f"http://hooks.berth.invalid:{port}/hook"
    checked: list[str] = []

    def resolve(host: str, port: int) -> list[webhook.IPAddress]:
        checked.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(webhook, "resolve", resolve)
    uid = _user(db, "alice", Preferences(webhook_url=url, channels={"ready": ("webhook",)}), now)
    _notify(db, uid, "Ready")
    Deliverer(db, None, LOCAL, POLICY, clock=Clock(now + timedelta(days=3650))).drain()
    assert _deliveries(db)["webhook"].state == "sent"
    assert checked == ["hooks.berth.invalid"]
    assert receiver.hosts == [f"hooks.berth.invalid:{port}"]


def test_berth_notify_once_delivers_what_is_due(
    db: Database,
    now: datetime,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from berth.cli import app

    monkeypatch.setenv("BERTH_DATABASE_URL", db.url)
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BERTH_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
    uid = _user(
        db, "alice", Preferences(webhook_url=receiver.url, channels={"ready": ("webhook",)}), now
    )
    _notify(db, uid, "Ready")  # due at once (the database's clock)
    r = CliRunner().invoke(app, ["notify", "--once"])
    assert r.exit_code == 0, r.output
    assert "deliveries attempted: 1" in r.output
    assert receiver.answered == [200]
    assert _deliveries(db)["webhook"].state == "sent"


def test_an_unreadable_smtp_password_file_is_a_clear_refusal(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from berth.cli import app

    monkeypatch.setenv("BERTH_DATABASE_URL", db.url)
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BERTH_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("BERTH_SMTP_PASSWORD_FILE", str(tmp_path / "missing"))
    r = CliRunner().invoke(app, ["notify", "--once"])
    assert r.exit_code == 2
    assert "cannot deliver notifications: BERTH_SMTP_PASSWORD_FILE" in r.output
    assert "No such file or directory" in r.output
