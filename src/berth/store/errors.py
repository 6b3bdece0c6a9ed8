"""The store's error vocabulary; the API turns each into one HTTP status and problem+json.

StoreError
├── NotFound        the thing does not exist (or the caller may not know it does)
├── Forbidden       it exists, the caller may see it, but may not do this
├── Conflict        the request is valid but the current state refuses it
│   └── Refused     a booking that does not fit: which resource, when, free vs asked
└── Invalid         the request itself breaks a rule (field named)
"""

from __future__ import annotations

from datetime import datetime

from berth.domain.capacity import Shortage


class StoreError(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class NotFound(StoreError):
    pass


class Forbidden(StoreError):
    pass


class Conflict(StoreError):
    pass


class Invalid(StoreError):
    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        super().__init__(detail)


class Refused(Conflict):
    def __init__(
        self, detail: str, shortage: Shortage, suggestion: datetime | None, duration_s: float
    ) -> None:
        self.shortage = shortage
        self.suggestion = suggestion
        self.duration_s = duration_s
        super().__init__(detail)
