"""Errors as RFC 9457 problem details (`application/problem+json`).

Every failure a client can cause ends here as a 4xx with a `detail` a person can act on;
the store's typed errors map one-to-one to a status. Only a bug is a 500.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from berth.store.errors import Conflict, Forbidden, Invalid, NotFound, Refused, StoreError

log = logging.getLogger("berth.api")

MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
}


def problem(
    status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status}
    body["detail"] = detail
    body.update(extra)
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers or None)


def _store_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreError)
    if isinstance(exc, Refused):
        s = exc.shortage
        extra: dict[str, Any] = {
            "shortage": {
                "resource": s.resource,
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "free": s.free,
                "asked": s.asked,
            }
        }
        if exc.suggestion is not None:
            end = exc.suggestion + timedelta(seconds=exc.duration_s)
            extra["suggestion"] = {"start": exc.suggestion.isoformat(), "end": end.isoformat()}
        return problem(409, exc.detail, **extra)
    if isinstance(exc, Invalid):
        return problem(422, exc.detail, errors=[{"field": exc.field, "message": exc.detail}])
    status = {NotFound: 404, Forbidden: 403, Conflict: 409}.get(type(exc), 400)
    return problem(status, exc.detail)


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        errors.append({"field": ".".join(loc), "message": str(err.get("msg", "invalid"))})
    detail = "; ".join(
        f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
    )
    return problem(422, detail or "invalid request", errors=errors)


def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))


def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    """A bug. Answered outside every middleware, so the security headers are added here."""
    from berth.api.security import HEADERS

    log.exception("unhandled error", exc_info=exc)
    return problem(500, "internal error; the request changed nothing", headers=HEADERS)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
