"""The Cluster seam's error vocabulary; the adapter translates every API error into one of these.

KubeError
├── NotFound     the object is not there
├── Conflict     a write lost a race or a field-manager conflict; retry after a re-read
├── Transient    the API server is unreachable, overloaded or timing out (retry_after, s)
│   └── ServerError  it answered 5xx: an outage, or (when it is otherwise healthy) a fault
│                    of this one request, e.g. a broken admission webhook
└── Terminal     the request itself is wrong (400/403/422): retrying will not help
"""

from __future__ import annotations


class KubeError(Exception):
    """Anything the Cluster port raises."""


class NotFound(KubeError):
    """The object is not there (404)."""


class Conflict(KubeError):
    """A write lost a race or a field-manager conflict (409)."""


class Transient(KubeError):
    def __init__(self, message: str, retry_after: float = 5.0) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ServerError(Transient):
    """A 5xx answer: an outage, or a fault of this request (`Cluster.healthy` tells which)."""


class Terminal(KubeError):
    """400/403/422: the request itself is wrong."""
