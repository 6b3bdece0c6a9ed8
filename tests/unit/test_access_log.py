"""A calendar feed's secret is its credential: the access log keeps the path without it."""

from __future__ import annotations

import logging

from berth.api.logs import RedactFeedSecrets, install, redact


def test_the_feed_secret_is_redacted_and_other_paths_are_kept() -> None:
    assert (
        redact("/api/v1/calendar/feeds/berthcal_Ab-9_x.ics?x=1")
        == "/api/v1/calendar/feeds/***.ics?x=1"
    )
    assert redact("/api/v1/reservations/5e1.ics") == "/api/v1/reservations/5e1.ics"


def test_a_sign_in_code_state_and_tokens_are_redacted_from_the_query() -> None:
    assert (
        redact("/api/v1/auth/oidc/callback?state=s3cr3t&session_state=x1&code=c0de&iss=https://kc")
        == "/api/v1/auth/oidc/callback?state=***&session_state=***&code=***&iss=https://kc"
    )
    assert redact("/cb?error=access_denied&state=abc") == "/cb?error=access_denied&state=***"
    assert redact("/x?access_token=a&id_token=b#frag") == "/x?access_token=***&id_token=***#frag"
    assert redact("/api/v1/reservations?status=ACTIVE") == "/api/v1/reservations?status=ACTIVE"


def test_an_access_record_is_redacted_in_its_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/api/v1/calendar/feeds/berthcal_secret.ics", "1.1", 200),
        None,
    )
    assert RedactFeedSecrets().filter(record)
    assert "berthcal_secret" not in record.getMessage()
    assert "/api/v1/calendar/feeds/***.ics" in record.getMessage()


def test_install_adds_the_filter_once() -> None:
    install()
    install()
    access = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, RedactFeedSecrets) for f in access.filters) == 1
