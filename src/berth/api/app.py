"""The FastAPI application: routes under /api/v1, probes at the root, the built UI at /."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from berth import __version__
from berth.api import logs, problems
from berth.api.deps import no_nul_in_parameters
from berth.api.metrics import MetricsMiddleware
from berth.api.proxy import ForwardedHeaders
from berth.api.routes import (
    approvals,
    audit,
    auth,
    cache,
    calendar,
    catalog,
    health,
    notifications,
    policy,
    pools,
    reservations,
    sign_in,
    status,
    teams,
    tokenomics,
    usage,
    users,
    waitlist,
)
from berth.api.security import CsrfGuard, SecurityHeaders
from berth.config import Settings
from berth.store.db import Database
from berth.store.read_cache import ReadCache

ANY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def worker_app() -> FastAPI:
    """The app of one of several `berth serve --workers N` processes (an app factory).

    The parent process has already migrated the schema, synced the pools and (without
    BERTH_DATABASE_URL) started the embedded PostgreSQL, whose URL it put in the environment;
    a worker only connects, with its share of the connection budget (BERTH_WORKER_DB_POOL).
    """
    settings = Settings()
    if settings.database_url is None:
        raise RuntimeError("a worker needs BERTH_DATABASE_URL (set by `berth serve`)")
    pool_size = int(os.environ.get(WORKER_DB_POOL, settings.db_pool_size))
    return create_app(settings, Database(settings.database_url, pool_size=pool_size))


WORKER_DB_POOL = "BERTH_WORKER_DB_POOL"  # connections per worker, set by `berth serve`


def ui_dir() -> Path | None:
    """The built UI inside the package, if `make run` (or the wheel build) put it there."""
    path = Path(str(resources.files("berth"))) / "web"
    return path if (path / "index.html").is_file() else None


def create_app(settings: Settings, db: Database) -> FastAPI:
    app = FastAPI(
        title="Berth",
        version=__version__,
        summary="Book GPU capacity on a calendar; get an isolated Kubernetes workspace.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.read_cache = ReadCache(settings.read_cache_mb * 2**20)
    logs.install()  # a calendar feed's secret never reaches the access log
    problems.install(app)
    problems.document(app)
    # The UI bundle ~3x smaller, a week of the calendar (~1 MB) ~25x. Level 3, not the
    # middleware's 9: 2 ms of CPU per calendar week instead of 15, for 35 KiB instead of 21.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=3)
    app.add_middleware(CsrfGuard)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(SecurityHeaders)
    # added last, so outermost: every layer and route sees the forwarded client and scheme
    app.add_middleware(ForwardedHeaders, trusted=settings.trusted_proxies())

    # Every route under /api/v1 reads the database (503 while it cannot answer); all but login
    # need a credential (401; login's is a wrong password).
    # Parameters with a NUL character are refused up front (422), as request bodies refuse them.
    v1 = APIRouter(
        prefix="/api/v1",
        responses=problems.responses(401, 503),
        dependencies=[Depends(no_nul_in_parameters)],
    )
    for module in (
        auth,
        sign_in,
        users,
        pools,
        reservations,
        approvals,
        calendar,
        audit,
        tokenomics,
        usage,
        status,
        policy,
        catalog,
        cache,
        notifications,
        teams,
        waitlist,
    ):
        v1.include_router(module.router)
    app.include_router(v1)
    app.include_router(health.router)

    @app.api_route("/api/{rest:path}", include_in_schema=False, methods=list(ANY_METHOD))
    def unknown_api(rest: str, request: Request) -> Response:
        allowed = problems.allowed_methods(request)
        if allowed:  # the path exists, only not with this method
            return problems.problem(
                405, f"{request.method} is not allowed here", headers={"Allow": ", ".join(allowed)}
            )
        return problems.problem(404, f"no API endpoint /api/{rest}")

    _mount_ui(app)
    return app


def _mount_ui(app: FastAPI) -> None:
    web = ui_dir()
    if web is None:

        @app.get("/", include_in_schema=False)
        def no_ui() -> Response:
            return JSONResponse({"detail": "the UI is not built; the API is at /api/docs"})

        return
    app.mount("/assets", StaticFiles(directory=web / "assets"), name="assets")
    index = web / "index.html"

    @app.get("/{path:path}", include_in_schema=False)
    def spa(path: str) -> Response:
        """Client-side routes all load the single page; real files are served as they are."""
        candidate = (web / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(web.resolve()):
            return FileResponse(candidate)
        return FileResponse(index)
