"""HTTP answers of the Kubernetes API into the Cluster seam's typed errors (see errors.py).

Kept apart from the adapter so the mapping is a pure function of status, headers and body and
can be read and tested on its own. The one subtlety: a 403 is normally a request that will never
succeed, except when the namespace is still being deleted ("NamespaceTerminating"), which
passes by itself and so is transient.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from berth.kube.errors import Conflict, KubeError, NotFound, ServerError, Terminal, Transient

DEFAULT_RETRY_AFTER = 5.0
_TRANSIENT_STATUSES = {429}  # and every 5xx, as ServerError


def retry_after(headers: Mapping[str, str] | None) -> float:
    """Seconds from a Retry-After header (delta-seconds form), else the default."""
    if headers:
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        if value is not None:
            try:
                seconds = float(value)
            except ValueError:
                return DEFAULT_RETRY_AFTER
            if seconds >= 0:
                return seconds
    return DEFAULT_RETRY_AFTER


def _status_body(body: bytes | str | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _causes(status: dict[str, Any]) -> set[str]:
    details = status.get("details") or {}
    return {str(c.get("reason")) for c in details.get("causes") or [] if isinstance(c, dict)}


def translate(
    status: int, headers: Mapping[str, str] | None, body: bytes | str | None, what: str
) -> KubeError:
    """The error for a non-2xx answer to the request described by `what`."""
    parsed = _status_body(body)
    detail = parsed.get("message") or (
        body.decode(errors="replace") if isinstance(body, bytes) else body
    )
    message = f"{what}: HTTP {status}: {str(detail or '')[:500]}".rstrip(": ")
    if status == 404:
        return NotFound(message)
    if status == 409:
        return Conflict(message)
    if status >= 500:
        return ServerError(message, retry_after(headers))
    if status in _TRANSIENT_STATUSES:
        return Transient(message, retry_after(headers))
    if status == 403 and "NamespaceTerminating" in _causes(parsed):
        return Transient(message, DEFAULT_RETRY_AFTER)
    return Terminal(message)


def unreachable(err: Exception, what: str) -> Transient:
    """A request that got no HTTP answer at all: refused, reset, timed out, TLS failed."""
    return Transient(f"{what}: {type(err).__name__}: {err}", DEFAULT_RETRY_AFTER)
