"""Liveness, readiness and metrics, outside /api/v1 where probes and scrapers expect them."""

from __future__ import annotations

import os

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from berth.api import schemas
from berth.api.deps import DB
from berth.store import migrate

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
def healthz() -> schemas.Health:
    """The process answers."""
    return schemas.Health(status="ok")


@router.get("/readyz", operation_id="readyz", responses={503: {"model": schemas.Health}})
def readyz(db: DB) -> Response:
    """Ready when PostgreSQL answers and its schema is the one this code expects."""
    checks = {"database": "ok" if db.ping() else "unreachable"}
    if checks["database"] == "ok":
        current, head = migrate.current(db.engine), migrate.head()
        checks["schema"] = "ok" if current == head else f"at {current}, expected {head}"
    ok = all(v == "ok" for v in checks.values())
    body = schemas.Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", operation_id="metrics", include_in_schema=False)
def metrics() -> Response:
    """This process's metrics; with several workers (`berth serve --workers N` sets
    PROMETHEUS_MULTIPROC_DIR) the sum over all of them."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
