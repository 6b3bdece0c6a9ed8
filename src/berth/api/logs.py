"""The access log never keeps a credential that travels in a URL: a calendar feed's secret (the
path is the credential) or a sign-in's authorization code and state (and any token a provider
might put in a query), which a provider's redirect brings to `/api/v1/auth/*/callback`."""

from __future__ import annotations

import logging
import re

_FEED_SECRET = re.compile(r"(/api/v1/calendar/feeds/)[^/?#\s]+?(\.ics)")
_QUERY_SECRET = re.compile(
    r"([?&](?:code|state|id_token|access_token|refresh_token|token|session_state)=)[^&#\s]*"
)


def redact(text: str) -> str:
    """`text` with any feed secret or sign-in code, state or token in it replaced by `***`."""
    return _QUERY_SECRET.sub(r"\1***", _FEED_SECRET.sub(r"\1***\2", text))


class RedactFeedSecrets(logging.Filter):
    """On uvicorn's access logger: its record's arguments carry the request's path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger once per process."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactFeedSecrets) for f in access.filters):
        access.addFilter(RedactFeedSecrets())
