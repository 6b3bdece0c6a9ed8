"""The delivery loop: claim due deliveries, send, record; and sweep the reminders.

Each pass claims a small batch with FOR UPDATE SKIP LOCKED in its own transaction, sends each
with a timeout, and records the outcome before it commits: several workers (threads, processes,
replicas) share the queue and never send one delivery twice while they live. A worker killed
mid-batch leaves its rows pending, and they are sent again (at least once, never lost).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from berth.config import Settings
from berth.domain.notifications import AllowedHosts
from berth.domain.policy import BookingPolicy
from berth.notify.email import PermanentError, SmtpConfig, send_email
from berth.notify.webhook import post_webhook
from berth.store import deliveries, holds, waitlist
from berth.store.db import UNAVAILABLE, Database
from berth.store.deliveries import Due, RetryPolicy

log = logging.getLogger("berth.notify")

BATCH = 5  # rows stay locked while their batch is sent: small, so a slow receiver holds few


def utcnow() -> datetime:
    return datetime.now(UTC)


def smtp_config(settings: Settings) -> SmtpConfig | None:
    """The SMTP settings, or None: e-mail is off while BERTH_SMTP_HOST is unset."""
    if not settings.smtp_host:
        return None
    password = None
    if settings.smtp_password_file is not None:
        try:
            password = settings.smtp_password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            path = settings.smtp_password_file
            raise ValueError(f"BERTH_SMTP_PASSWORD_FILE {path}: {exc.strerror}") from exc
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        user=settings.smtp_user,
        password=password,
        sender=settings.smtp_from,
    )


@dataclass
class Deliverer:
    db: Database
    smtp: SmtpConfig | None
    allowed: AllowedHosts
    policy: RetryPolicy
    portal_url: str | None = None
    grid: timedelta = timedelta(minutes=15)
    clock: Callable[[], datetime] = utcnow
    # the waitlist's sweep books offers under the booking policy (docs/teams.md)
    policy_of_bookings: BookingPolicy | None = None
    waitlist_timing: waitlist.Timing = field(default_factory=waitlist.Timing)

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> Deliverer:
        return cls(
            db,
            smtp_config(settings),
            AllowedHosts.parse(settings.webhook_allow_hosts),
            RetryPolicy(
                settings.notify_max_attempts,
                timedelta(seconds=settings.notify_retry_base),
                timedelta(seconds=settings.notify_retry_cap),
            ),
            settings.public_url,
            timedelta(minutes=settings.grid_minutes),
            policy_of_bookings=settings.policy(),
            waitlist_timing=waitlist.Timing(
                offer_hold=timedelta(minutes=settings.waitlist_offer_minutes),
                half_life=timedelta(hours=settings.waitlist_half_life_hours),
            ),
        )

    def _send(self, d: Due) -> None:
        if d.address is None:
            raise PermanentError(f"no {d.channel} address set (removed from the preferences)")
        if d.channel == "email":
            if self.smtp is None:
                raise PermanentError("e-mail is off: BERTH_SMTP_HOST is not set")
            send_email(self.smtp, d.address, d.message)
        else:
            post_webhook(d.address, d.message, self.allowed)

    def deliver_once(self, limit: int = BATCH) -> int:
        """One batch: claim, send, record, commit. Returns how many were attempted."""
        with self.db.transaction() as tx:
            batch = deliveries.claim(tx, self.clock(), limit, self.portal_url)
            for d in batch:
                try:
                    self._send(d)
                except PermanentError as exc:
                    log.warning("delivery %s (%s) failed for good: %s", d.id, d.channel, exc)
                    deliveries.failed(tx, d.id, str(exc), self.clock(), self.policy, final=True)
                except Exception as exc:  # any failure of one channel is recorded and retried
                    error = f"{type(exc).__name__}: {exc}"
                    log.info("delivery %s (%s) failed, will retry: %s", d.id, d.channel, error)
                    deliveries.failed(tx, d.id, error, self.clock(), self.policy, final=False)
                else:
                    deliveries.sent(tx, d.id, self.clock())
            return len(batch)

    def sweep(self) -> int:
        """Expire the holds nobody answered (docs/teams.md), settle the waitlist and offer
        the capacity that freed (every pass: level-triggered, no freed slot is missed), then
        record the window-ending reminders due now; returns how many reminders."""
        with self.db.transaction() as tx:
            holds.expire(tx, self.clock())
        if self.policy_of_bookings is not None:
            try:
                waitlist.sweep(self.db, self.clock(), self.policy_of_bookings, self.waitlist_timing)
            except UNAVAILABLE:
                raise
            except Exception:  # a bug in the waitlist must not stop the reminders
                log.exception("waitlist sweep failed; the next pass tries again")
        with self.db.transaction() as tx:
            return deliveries.sweep_reminders(tx, self.clock(), self.grid)

    def drain(self, max_batches: int = 50) -> int:
        """Batches until none is due (at most `max_batches`); how many were attempted."""
        total = 0
        for _ in range(max_batches):
            n = self.deliver_once()
            total += n
            if n == 0:
                break
        return total

    def run(self, stop: threading.Event, interval: float) -> None:
        """Sweep and deliver every `interval` seconds until `stop`; a database outage is
        logged and the next pass tries again."""
        while not stop.is_set():
            try:
                self.sweep()
                self.drain()
            except UNAVAILABLE as exc:
                log.warning("database unavailable, next pass in %.0f s: %s", interval, exc)
            except Exception:
                log.exception("notification pass failed; next pass in %.0f s", interval)
            stop.wait(interval)
