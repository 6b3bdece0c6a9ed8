"""Every page passes axe-core's WCAG 2 A/AA rules (axe-core from web/node_modules, pinned)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import book, sign_in, tomorrow_at

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
PAGES = {
    "/availability": "Availability",
    "/calendar": "Calendar",
    "/book": "Book GPU capacity",
    "/reservations": "My reservations",
    "/waitlist": "Waitlist",
    "/approvals": "Approvals",
    "/teams": "Teams",
    "/usage": "Usage",
    "/tokenomics": "Tokenomics",
    "/admin": "Admin",
}
RUN = """() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})
  .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"""


@pytest.fixture
def bypass_csp() -> bool:
    """axe is injected as an inline script, which the portal's CSP rightly blocks."""
    return True


def violations(page: Page) -> list[dict[str, Any]]:
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(RUN)
    return found


def test_pages_pass_axe(
    page: Page,
    server: str,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
) -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make ui` (npm ci installs it)")
    make_user("root", "admin")
    make_user("alice")
    book(api_as("alice"), tomorrow_at(10), tomorrow_at(12), "mig-1g.24gb", 2)
    book(api_as("root"), tomorrow_at(11), tomorrow_at(13), "gpu", 1)

    page.goto(server + "/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    problems = {"sign-in": violations(page)}
    sign_in(page, server, "root")
    for path, heading in PAGES.items():
        page.goto(server + path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        problems[path] = violations(page)
    for tab in ("Users", "Audit log", "Health", "Cache"):
        page.get_by_role("tab", name=tab).click()
        problems[f"/admin {tab}"] = violations(page)
    assert {k: v for k, v in problems.items() if v} == {}
