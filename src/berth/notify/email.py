"""E-mail over SMTP with the standard library: plain, STARTTLS or implicit TLS (SSL)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from berth.domain.notifications import Message, email_text


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # "none" | "starttls" | "ssl"
    user: str | None
    password: str | None
    sender: str
    timeout: float = 15.0


class PermanentError(Exception):
    """An attempt that would fail the same way again (a refused recipient, a bad address)."""


def send_email(cfg: SmtpConfig, to: str, m: Message) -> None:
    """Send one message; raises PermanentError (no retry) or another error (retried)."""
    mail = EmailMessage()
    mail["From"] = cfg.sender
    mail["To"] = to
    mail["Subject"] = f"[Berth] {m.title}"
    mail["X-Berth-Kind"] = m.kind
    mail.set_content(email_text(m))
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if cfg.security == "ssl":
        smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
    else:
        smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
    with smtp:
        if cfg.security == "starttls":
            smtp.starttls(context=context)
        if cfg.user and cfg.password is not None:
            smtp.login(cfg.user, cfg.password)
        try:
            smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"recipient refused: {exc.recipients}") from exc
