"""Browser tests: Debian's Chromium driven by Playwright against the real API, PostgreSQL and
the built UI, all started here. Every test fails on a console error or an uncaught page error.

The browser itself logs an HTTP error response as a console error ("Failed to load resource").
The UI causes a few of those on purpose — asking /me before sign-in, a refused booking — so a
test names the ones it expects (`console.allow(409, "/api/v1/reservations")`); any other fails.
Screenshots go to $BERTH_SCREENSHOTS when set (docs/screenshots is made that way), else to tmp.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize, sync_playwright

from berth.api.app import ui_dir
from berth.config import Settings
from berth.domain.session import SessionConfig
from berth.kube.adapter import KubeCluster
from berth.reconciler.activity import ActivityCollector
from berth.reconciler.loop import Cadence, Reconciler
from berth.reconciler.plan import Limits
from berth.store import users
from berth.store.db import Database
from tests.sso import sso, sso_overrides  # Berth on the session's Keycloak (sign-in tests)

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
__all__ = ["sso", "sso_overrides"]
# Playwright gives every launch a fresh profile (it refuses --user-data-dir in launch()).
TIMEZONE = "Europe/Berlin"  # not UTC, so local display and UTC requests really differ
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
TABLET: ViewportSize = {"width": 768, "height": 1024}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if ui_dir() is None:
        pytest.fail("the UI is not built into src/berth/web: run `make ui`")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium`")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@dataclass
class Console:
    """Console errors and page errors of one page; expected HTTP errors are named by tests."""

    errors: list[str] = field(default_factory=list)
    allowed: list[tuple[int, str]] = field(default_factory=list)

    def allow(self, status: int, path: str) -> None:
        self.allowed.append((status, path))

    def on_console(self, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        url = str(msg.location.get("url", ""))
        for status, path in self.allowed:
            if f"status of {status}" in msg.text and url.split("?")[0].endswith(path):
                return
        self.errors.append(f"{msg.text} ({url})")

    def on_page_error(self, exc: Exception) -> None:
        self.errors.append(f"uncaught: {exc}")


@pytest.fixture
def console() -> Console:
    return Console()  # the sign-in gate's question (/auth/session) is a 200 even signed out


@pytest.fixture
def bypass_csp() -> bool:
    """Pages run under the portal's Content-Security-Policy, so a violation fails the test."""
    return False


@pytest.fixture
def page(browser: Browser, console: Console, server: str, bypass_csp: bool) -> Iterator[Page]:
    """A fresh browser context; it closes before the server stops, so no request hangs in the air."""
    context = browser.new_context(
        viewport=LAPTOP, timezone_id=TIMEZONE, locale="en-GB", bypass_csp=bypass_csp
    )
    context.set_default_timeout(15_000)
    pg = context.new_page()
    pg.on("console", console.on_console)
    pg.on("pageerror", console.on_page_error)
    yield pg
    context.close()
    assert console.errors == [], console.errors


@pytest.fixture
def shoot(tmp_path: Path) -> Callable[[Page, str], None]:
    """Save a screenshot of the viewport as NAME.png."""
    target = Path(os.environ.get("BERTH_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)

    def save(pg: Page, name: str) -> None:
        pg.wait_for_load_state("networkidle")
        pg.screenshot(path=str(target / f"{name}.png"))

    return save


# ---- people and bookings ------------------------------------------------------------------


def password(name: str) -> str:
    return f"pw-{name}-long-enough"


@pytest.fixture
def make_user(db: Database) -> Callable[..., str]:
    def make(name: str, role: str = "user") -> str:
        with db.transaction() as tx:
            users.create(tx, name, password(name), role, actor="test")
        return name

    return make


@pytest.fixture
def api_as(server: str) -> Iterator[Callable[[str], httpx.Client]]:
    """An HTTP client signed in as a user (bearer token), for arranging what a test needs."""
    clients: list[httpx.Client] = []

    def make(name: str) -> httpx.Client:
        c = httpx.Client(base_url=server, timeout=30)
        clients.append(c)
        r = c.post("/api/v1/auth/login", json={"username": name, "password": password(name)})
        assert r.status_code == 200, r.text
        c.cookies.clear()
        c.headers["Authorization"] = f"Bearer {r.json()['token']}"
        return c

    yield make
    for c in clients:
        c.close()


def tomorrow_at(hour: int) -> datetime:
    """Tomorrow at `hour`:00 in the browser's time zone, as an aware datetime."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(TIMEZONE)
    day = datetime.now(tz).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=tz)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_input(t: datetime) -> str:
    """The value a datetime-local field shows for `t` in the browser's time zone."""
    return t.strftime("%Y-%m-%dT%H:%M")


def book(client: httpx.Client, start: datetime, end: datetime, kind: str, count: int) -> Any:
    r = client.post(
        "/api/v1/reservations",
        json={
            "pool": "c845a",
            "start": iso(start),
            "end": iso(end),
            "gpu": {"kind": kind, "count": count},
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def sign_in(pg: Page, server: str, name: str) -> None:
    pg.goto(server + "/")
    pg.get_by_label("Username").fill(name)
    pg.get_by_label("Password").fill(password(name))
    pg.get_by_role("button", name="Sign in").click()
    pg.get_by_role("navigation", name="Main").wait_for()


# ---- the reconciler on the sim: workspace states come from it, never written by a test -----

RECONCILER_CADENCE = Cadence(
    interval=timedelta(seconds=2),
    standby_poll=timedelta(seconds=0.5),
    ready_poll=timedelta(seconds=1),
)


@pytest.fixture
def reconciler(
    db: Database, kube: KubeCluster, settings: Settings
) -> Iterator[Callable[..., Reconciler]]:
    """Start Berth's reconciler in a thread on the test database, driving the sim (its sessions
    are removed after the test by the `kube` fixture, once the reconciler has stopped)."""
    running: list[tuple[threading.Event, threading.Thread]] = []

    def start(
        limits: Limits | None = None, activity: ActivityCollector | None = None
    ) -> Reconciler:
        rec = Reconciler(
            db,
            kube,
            SessionConfig(),
            limits=limits or Limits(max_attempts=3),
            cadence=RECONCILER_CADENCE,
            source="the test's sim",
            box=settings.secret_box(),  # the portal opens what the reconciler sealed
            activity=activity,
        )
        stop = threading.Event()
        thread = threading.Thread(target=rec.run, args=(stop,), name="reconciler", daemon=True)
        thread.start()
        running.append((stop, thread))
        return rec

    yield start
    for stop, thread in running:
        stop.set()
        thread.join(30)
        assert not thread.is_alive(), "the reconciler did not stop"
