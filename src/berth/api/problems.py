"""Errors as RFC 9457 problem details (`application/problem+json`).

Every failure a client can cause ends here as a 4xx with a `detail` a person can act on;
the store's typed errors map one-to-one to a status. A database that cannot answer now (down,
restarting, connections cut) is a 503 with Retry-After. Only a bug is a 500.

The OpenAPI document says so: `responses(...)` documents the problems a route really returns
(each route or router names its own), and `document(app)` puts the `Problem` schema in the
components and states FastAPI's own 422 as the problem+json it really is.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from berth.store.db import UNAVAILABLE
from berth.store.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    OverBudget,
    Refused,
    StoreError,
)

log = logging.getLogger("berth.api")

MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_UNAVAILABLE = 2  # seconds: a restarting PostgreSQL answers again within a few

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
    503: "Service unavailable",
}


class FieldError(BaseModel):
    field: str = Field(description="The request field at fault, dotted ('gpu.count'); may be ''")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; a refused booking (409) adds `shortage`, `suggestion` and
    `waitlist` (true: the same body may join the waitlist, POST /waitlist); one over its team's
    budget adds `budget` (team, pool, gpu_kind, budget: units|week|month, limit, used, asked,
    left, period_start) and `ask` (true: it may be sent again with `ask` for approval)."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str = Field(description="What went wrong, for a person to act on")
    errors: list[FieldError] | None = Field(
        default=None, description="422: each field at fault and why"
    )


_MEANING = {
    400: "The body could not be read as JSON",
    401: "Not signed in: no credential, or an unknown, expired or revoked one",
    403: "Signed in, but the caller may not do this",
    404: "No such thing (or the caller may not know it exists)",
    405: "The path exists, but not with this method (`Allow` lists the ones it has)",
    409: "The request is valid, but the current state refuses it",
    422: "The request breaks a rule; `errors` names the fields",
    429: "Too many attempts; try again after `Retry-After` seconds",
    503: "The database cannot answer now (restarting?); try again after `Retry-After` seconds",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
    405: {"Allow": {"schema": {"type": "string"}, "required": True}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "required": True}},
    503: {"Retry-After": {"schema": {"type": "integer"}, "required": True}},
}
_SCHEMA_REF = "#/components/schemas/Problem"
_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}


def _documented(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _MEANING[status],
        "content": {MEDIA_TYPE: {"schema": {"$ref": _SCHEMA_REF}}},
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route or router: these problems, as problem+json."""
    return {status: _documented(status) for status in statuses}


def document(app: FastAPI) -> None:
    """Add the Problem schema to the app's OpenAPI document, and state every 422 as problem+json
    (FastAPI documents its own validation error as `HTTPValidationError` in application/json,
    which this app never sends)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = generate()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem_schema.pop("$defs", {}))
        schemas["Problem"] = problem_schema
        for path in doc.get("paths", {}).values():
            for operation in path.values():
                answers = operation.get("responses", {})
                if "422" in answers:
                    answers["422"] = _documented(422)
                if "requestBody" in operation:
                    answers["400"] = _documented(400)
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


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
        if exc.waitlist:  # the same body may be sent to POST /waitlist (docs/teams.md)
            extra["waitlist"] = True
        return problem(409, exc.detail, **extra)
    if isinstance(exc, OverBudget):
        return problem(409, exc.detail, budget=_budget(exc), ask=True)
    if isinstance(exc, Invalid):
        return problem(422, exc.detail, errors=[{"field": exc.field, "message": exc.detail}])
    status = {NotFound: 404, Forbidden: 403, Conflict: 409}.get(type(exc), 400)
    return problem(status, exc.detail)


def _budget(exc: OverBudget) -> dict[str, Any]:
    """Which team budget refused a booking and how much is left; with `ask: true` beside it
    (the same booking with `ask` becomes an approval request, docs/teams.md#approvals)."""
    return {
        "team": exc.team,
        "pool": exc.pool,
        "gpu_kind": exc.gpu_kind,
        "budget": exc.budget,
        "limit": exc.limit,
        "used": exc.used,
        "asked": exc.asked,
        "left": exc.left,
        "period_start": exc.period_start.isoformat() if exc.period_start else None,
    }


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


def allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document lists for this request's path (405's `Allow`)."""
    table: list[tuple[re.Pattern[str], list[str]]] | None = getattr(
        request.app.state, "allowed_methods", None
    )
    if table is None:
        table = []
        for template, item in request.app.openapi().get("paths", {}).items():
            methods = {m.upper() for m in item if m.upper() in _METHODS}
            if "GET" in methods:
                methods.add("HEAD")
            table.append((compile_path(template)[0], sorted(methods)))
        request.app.state.allowed_methods = table
    path = request.scope.get("path", "")
    return next((methods for pattern, methods in table if pattern.match(path)), [])


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        # Starlette names only the methods of the first route on the path; a path served by
        # several routes (GET and POST /users) answers with all of them.
        headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
        return problem(405, f"{request.method} is not allowed here", headers=headers)
    return problem(exc.status_code, str(exc.detail), headers=headers)


def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else exc)
    return problem(
        503,
        "the database is not answering right now; nothing was changed. Try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
    )


def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    """A bug. Answered outside every middleware, so the security headers are added here."""
    from berth.api.security import HEADERS

    log.exception("unhandled error", exc_info=exc)
    return problem(500, "internal error; the request changed nothing", headers=HEADERS)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    for error in UNAVAILABLE:
        app.add_exception_handler(error, _unavailable)
    app.add_exception_handler(Exception, _unexpected)
