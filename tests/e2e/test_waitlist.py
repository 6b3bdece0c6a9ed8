"""The fair waitlist in the browser: a refused booking joins it, the notify loop's sweep makes
an offer when capacity frees, and the offer is accepted on the Waitlist page."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from berth.config import Settings
from berth.notify.loop import Deliverer
from berth.store.db import Database
from tests.e2e.conftest import Console, book, sign_in, tomorrow_at
from tests.e2e.test_booking import fill_booking

pytestmark = pytest.mark.e2e


def test_join_the_waitlist_from_a_refusal_then_accept_the_offer(
    page: Page,
    server: str,
    console: Console,
    db: Database,
    settings: Settings,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("alice")
    make_user("bob")
    held = book(api_as("bob"), tomorrow_at(10), tomorrow_at(12), "mig-1g.24gb", 3)
    console.allow(409, "/api/v1/reservations")  # the refusal this test is about
    sign_in(page, server, "alice")
    page.get_by_role("link", name="Book", exact=True).click()
    fill_booking(page, "mig-1g.24gb", 2, 10, 12)
    page.get_by_role("button", name="Book", exact=True).click()
    refusal = page.get_by_role("alert").filter(has_text="The booking was refused")
    refusal.get_by_role("button", name="Join the waitlist").click()
    expect(refusal).to_contain_text("On the waitlist")
    shoot(page, "waitlist-joined")

    refusal.get_by_role("link", name="See your waitlist").click()
    card = page.get_by_role("article").filter(has_text="2 × mig-1g.24gb")
    expect(card).to_contain_text("Waiting for capacity")

    # bob cancels; the notify loop's next pass offers the freed capacity to alice
    assert api_as("bob").post(f"/api/v1/reservations/{held['id']}/cancel").status_code == 200
    Deliverer.from_settings(db, settings).sweep()
    page.reload()
    card = page.get_by_role("article").filter(has_text="2 × mig-1g.24gb")
    expect(card).to_contain_text("Offered: held for you")
    expect(card).to_contain_text(re.compile(r"answer within \d+m \d\ds"))
    shoot(page, "waitlist-offer")
    card.get_by_role("button", name="Accept").click()
    expect(card).to_contain_text("Accepted: booked")
    mine = api_as("alice").get("/api/v1/reservations").json()
    assert [(r["status"], r["gpu"]["count"]) for r in mine] == [("APPROVED", 2)]
