"""Every page renders at tablet width without sideways scrolling; availability reads."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import TABLET, book, sign_in, tomorrow_at

pytestmark = pytest.mark.e2e

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


def test_availability_shows_capacity_and_next_free_slots(
    page: Page,
    server: str,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("alice")
    make_user("bob")
    book(api_as("bob"), tomorrow_at(10), tomorrow_at(14), "mig-1g.24gb", 4)
    sign_in(page, server, "alice")
    heat = page.get_by_role("img", name="Free capacity of pool c845a")
    expect(heat).to_be_visible()
    for row in ("mig-1g.24gb", "gpu", "CPU cores", "Memory"):
        expect(heat).to_contain_text(row)
    full = heat.locator('[data-resource="mig-1g.24gb"][title*=": 0 × mig-1g.24gb of"]')
    expect(full).not_to_have_count(0)

    page.get_by_label("Count").fill("4")
    page.get_by_label("Hours").fill("6")
    slots = page.get_by_role("region", name="Next free slots").get_by_role("listitem")
    expect(slots).not_to_have_count(0)
    shoot(page, "availability")
    slots.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Book GPU capacity")).to_be_visible()
    expect(page.get_by_label("Count")).to_have_value("4")
    expect(page.get_by_role("status").filter(has_text="Fits")).to_be_visible()


def test_pages_fit_a_tablet(page: Page, server: str, make_user: Callable[..., str]) -> None:
    make_user("root", "admin")
    page.set_viewport_size(TABLET)
    sign_in(page, server, "root")
    for path, heading in PAGES.items():
        page.goto(server + path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at tablet width"
