"""Liveness, readiness and metrics, outside /api/v1 where probes and scrapers expect them."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from berth.api import schemas
from berth.api.deps import DB

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
def healthz() -> schemas.Health:
    """The process answers."""
    return schemas.Health(status="ok")


@router.get("/readyz", operation_id="readyz", responses={503: {"model": schemas.Health}})
def readyz(db: DB) -> Response:
    """Ready when PostgreSQL answers."""
    ok = db.ping()
    body = schemas.Health(
        status="ok" if ok else "unavailable", checks={"database": "ok" if ok else "unreachable"}
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", operation_id="metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
