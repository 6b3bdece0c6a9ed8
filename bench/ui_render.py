"""Time to render a calendar week holding 1,000 reservations in the portal UI.

Seeds a pool large enough to hold 1,000 bookings in one week (booked through the store's real
booking path, so every one passed the capacity sweep), serves the API and the built UI with
uvicorn, and drives Debian's Chromium with Playwright as one of the twenty owners. It prints:

- api_ms: GET /api/v1/calendar for the week (httpx, same machine), median of the runs;
- load_ms: a fresh page load of /calendar for that week until the events are painted
  (navigation start -> two animation frames after the last event element), median;
- switch_ms: in-app navigation Availability -> Calendar (no reload) until painted, median.

Needs the UI built (`make ui`) and /usr/bin/chromium (`make chromium`). With
BERTH_DATABASE_URL unset it starts an embedded PostgreSQL in a temporary folder.

    .venv/bin/python bench/ui_render.py [--reservations 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from playwright.sync_api import Page, sync_playwright

from berth.api.app import create_app, ui_dir
from berth.config import Settings, load_pool_text
from berth.domain.reservation import Mode, Request
from berth.store import bootstrap, reservations, users
from berth.store.db import Database
from berth.store.embedded import running
from berth.store.errors import Refused

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
NODES = 30
OWNERS = 20
VIEWER = "owner0"


def pool_yaml() -> str:
    node = (
        "      - name: n{i:02d}\n        cpu: 127\n        memory: 754Gi\n"
        "        storage_class: lvms-vg1\n        gpus:\n"
        "          - {{index: 0, model: RTX PRO 6000 Blackwell, memory: 96Gi,"
        " mig: {{profile: 1g.24gb, count: 4}}, replicas: 2}}\n"
        "          - {{index: 1, model: RTX PRO 6000 Blackwell, memory: 96Gi, replicas: 4}}\n"
    )
    nodes = "".join(node.format(i=i) for i in range(NODES))
    return f"pools:\n  - name: bench\n    nodes:\n{nodes}"


def password(name: str) -> str:
    return f"pw-{name}-bench"


def seed(db: Database, week: datetime, count: int, now: datetime) -> int:
    """Book `count` reservations inside [week, week + 7 days); return how many were refused."""
    settings = Settings()
    rng = random.Random(5)
    refused = 0
    with db.transaction() as tx:
        owners = [
            users.principal(
                users.create(tx, f"owner{i}", password(f"owner{i}"), "user", actor="bench")
            )
            for i in range(OWNERS)
        ]
    policy = settings.policy()
    booked = 0
    while booked < count:
        hours = rng.choice([1, 1.5, 2, 3, 4])
        slots = int((7 * 24 - hours) * 4)
        start = week + timedelta(minutes=15 * rng.randrange(slots))
        kind = "gpu" if rng.random() < 0.25 else "mig-1g.24gb"
        req = Request(
            pool="bench",
            start=start,
            end=start + timedelta(hours=hours),
            gpu_kind=kind,
            gpu_count=1 if kind == "gpu" else rng.choice([1, 1, 2]),
            mode=Mode.INTERACTIVE,
            cpu_millicores=4000,
            memory_bytes=32 * 2**30,
        )
        # Admin rights only lift the per-user concurrency cap for seeding; the owner is real.
        who = owners[booked % OWNERS]
        seeder = users.Principal(id=who.id, username=who.username, role="admin")
        try:
            with db.transaction() as tx:
                reservations.book(tx, seeder, req, policy, now)
            booked += 1
        except Refused:
            refused += 1
    return refused


@contextlib.contextmanager
def database() -> Iterator[Database]:
    given = os.environ.get("BERTH_DATABASE_URL")
    with contextlib.ExitStack() as stack:
        if given:
            url = given
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="berth-ui-bench-"))
            url = stack.enter_context(running(Path(tmp) / "pgdata"))
        db = Database(url)
        stack.callback(db.dispose)
        bootstrap.prepare(db, load_pool_text(pool_yaml(), "bench.yaml"))
        yield db


@contextlib.contextmanager
def serve(db: Database) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="berth-ui-bench-data-") as data:
        app = create_app(Settings(data_dir=Path(data)), db)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        srv = uvicorn.Server(config)
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        while not srv.started:
            thread.join(0.05)
        port = srv.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            srv.should_exit = True
            thread.join(10)


PAINTED = """async (expected) => {
  const ready = () =>
    document.querySelector('.legend')?.textContent?.includes(`${expected} in view`) &&
    document.querySelectorAll('.ev-mine, .ev-busy').length > 0;
  while (!ready()) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return [performance.now(), document.querySelectorAll('.ev-mine, .ev-busy').length];
}"""


def measure(page: Page, base: str, week: datetime, expected: int, runs: int) -> dict[str, float]:
    url = f"{base}/calendar?date={week.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    loads, switches, shown = [], [], 0
    for _ in range(runs):
        page.goto(url)
        at, shown = page.evaluate(PAINTED, expected)
        loads.append(at)
        page.get_by_role("link", name="Availability").click()
        page.get_by_role("heading", name="Availability").wait_for()
        began = page.evaluate("performance.now()")
        # Same week: the calendar page remembers nothing, so it fetches and renders anew.
        page.evaluate(f"history.pushState(null, '', {url!r}); dispatchEvent(new Event('popstate'))")
        at, shown = page.evaluate(PAINTED, expected)
        switches.append(at - began)
    return {
        "load_ms": statistics.median(loads),
        "switch_ms": statistics.median(switches),
        "event_elements": shown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reservations", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--screenshot", type=Path, help="save the rendered week as a PNG here")
    args = parser.parse_args()
    if ui_dir() is None:
        raise SystemExit("the UI is not built: run `make ui`")

    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    # FullCalendar's default week runs Sunday to Saturday: seed the whole of next week.
    week = today + timedelta(days=(6 - today.weekday()) % 7 or 7)
    with database() as db:
        began = time.monotonic()
        refused = seed(db, week, args.reservations, now)
        seeded_s = time.monotonic() - began
        with serve(db) as base, httpx.Client(base_url=base, timeout=60) as http:
            r = http.post(
                "/api/v1/auth/login", json={"username": VIEWER, "password": password(VIEWER)}
            )
            r.raise_for_status()
            query = {
                "from": week.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "to": (week + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            api_times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                entries = http.get("/api/v1/calendar", params=query).json()
                api_times.append((time.perf_counter() - t) * 1000)
            expected = len(entries)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
                context = browser.new_context(
                    viewport={"width": 1280, "height": 800}, timezone_id="UTC"
                )
                page = context.new_page()
                page.goto(base + "/")
                page.get_by_label("Username").fill(VIEWER)
                page.get_by_label("Password").fill(password(VIEWER))
                page.get_by_role("button", name="Sign in").click()
                page.get_by_role("navigation", name="Main").wait_for()
                figures = measure(page, base, week, expected, args.runs)
                if args.screenshot:
                    page.screenshot(path=str(args.screenshot))
                browser.close()
    print(
        f"reservations in the week: {expected} (seeded in {seeded_s:.1f} s, "
        f"{refused} random requests refused and retried)"
    )
    runs = args.runs
    print(
        f"api_ms    GET /calendar for the week, median of {runs}: {statistics.median(api_times):.0f}"
    )
    print(f"load_ms   fresh page load to painted week, median of {runs}: {figures['load_ms']:.0f}")
    print(
        f"switch_ms in-app navigation to painted week, median of {runs}: {figures['switch_ms']:.0f}"
    )
    print(f"event elements painted (the rest fold into '+N more'): {figures['event_elements']:.0f}")


if __name__ == "__main__":
    main()
