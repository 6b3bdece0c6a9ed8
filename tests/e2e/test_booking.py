"""Booking in the browser: a MIG booking lands on the calendar; one that does not fit is
refused with the API's reason and a suggested slot, which then books."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Console, book, iso, local_input, sign_in, tomorrow_at

pytestmark = pytest.mark.e2e


def fill_booking(page: Page, kind: str, count: int, start_hour: int, end_hour: int) -> None:
    page.get_by_label("GPU kind").select_option(kind)
    page.get_by_label("Count").fill(str(count))
    page.get_by_label("Start", exact=True).fill(local_input(tomorrow_at(start_hour)))
    page.get_by_label("End", exact=True).fill(local_input(tomorrow_at(end_hour)))


def test_book_a_mig_reservation_and_see_it_on_the_calendar(
    page: Page,
    server: str,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("alice")
    make_user("bob")
    book(api_as("bob"), tomorrow_at(9), tomorrow_at(11), "gpu", 1)  # someone else's block
    sign_in(page, server, "alice")
    page.get_by_role("link", name="Book", exact=True).click()

    fill_booking(page, "mig-1g.24gb", 2, 10, 12)
    page.get_by_label("Inference").check()
    # Defaults are per unit, so two slices get twice the kind's CPU and memory.
    expect(page.get_by_label("CPU cores")).to_have_value("32")
    expect(page.get_by_label("Memory (GiB)")).to_have_value("192")
    expect(page.get_by_role("status").filter(has_text="Fits")).to_contain_text(
        "at least 4 of 4 × mig-1g.24gb free"
    )
    shoot(page, "book")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_role("heading", name="Booked")).to_be_visible()

    mine = api_as("alice").get("/api/v1/reservations").json()
    assert len(mine) == 1
    got = mine[0]
    assert (got["start"], got["end"]) == (iso(tomorrow_at(10)), iso(tomorrow_at(12)))
    assert (got["gpu"], got["mode"], got["cpu"], got["memory"]) == (
        {"kind": "mig-1g.24gb", "count": 2},
        "inference",
        32.0,
        "192Gi",
    )

    page.get_by_role("link", name="See it on the calendar").click()
    expect(page.get_by_role("heading", name="Calendar")).to_be_visible()
    expect(page.locator(".ev-mine").filter(has_text="Mine: 2 × mig-1g.24gb")).to_be_visible()
    expect(page.locator(".ev-busy").filter(has_text="Busy: 1 × gpu")).to_be_visible()
    expect(page.locator(".ev-busy")).not_to_contain_text("bob")  # others stay anonymous
    page.locator(".ev-mine").first.scroll_into_view_if_needed()
    shoot(page, "calendar")


def test_a_booking_that_does_not_fit_shows_the_reason_and_a_suggestion(
    page: Page,
    server: str,
    console: Console,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("alice")
    make_user("bob")
    book(api_as("bob"), tomorrow_at(10), tomorrow_at(12), "mig-1g.24gb", 3)
    console.allow(409, "/api/v1/reservations")  # the refusal this test is about
    sign_in(page, server, "alice")
    page.get_by_role("link", name="Book", exact=True).click()

    fill_booking(page, "mig-1g.24gb", 2, 11, 13)
    # The live check warns before submitting ...
    expect(page.get_by_role("status").filter(has_text="Does not fit")).to_contain_text(
        "1 × mig-1g.24gb free, 2 × mig-1g.24gb asked"
    )
    # ... and the API's refusal says which resource, when, free vs asked, and what fits.
    page.get_by_role("button", name="Book", exact=True).click()
    refusal = page.get_by_role("alert").filter(has_text="The booking was refused")
    expect(refusal).to_contain_text("not enough mig-1g.24gb")
    expect(refusal).to_contain_text("1 × mig-1g.24gb free, 2 × mig-1g.24gb asked")
    expect(refusal).to_contain_text("Nearest slot that fits")
    refusal.scroll_into_view_if_needed()
    shoot(page, "book-refused")

    refusal.get_by_role("button", name="Use the suggested slot").click()
    expect(page.get_by_label("Start", exact=True)).to_have_value(local_input(tomorrow_at(12)))
    expect(page.get_by_label("End", exact=True)).to_have_value(local_input(tomorrow_at(14)))
    expect(page.get_by_role("status").filter(has_text="Fits")).to_be_visible()
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_role("heading", name="Booked")).to_be_visible()
    got = api_as("alice").get("/api/v1/reservations").json()
    assert [(r["start"], r["end"]) for r in got] == [
        (iso(tomorrow_at(12)), iso(tomorrow_at(12) + timedelta(hours=2)))
    ]


def test_selecting_a_range_on_the_calendar_starts_a_booking(
    page: Page, server: str, make_user: Callable[..., str]
) -> None:
    make_user("alice")
    sign_in(page, server, "alice")
    page.goto(f"{server}/calendar?date={iso(tomorrow_at(12))}")
    page.get_by_role("button", name="Day", exact=True).click()
    expect(page.get_by_role("button", name="Day", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    slot = page.locator('[data-time="14:00:00"]').last
    slot.scroll_into_view_if_needed()
    box = slot.bounding_box()
    assert box is not None
    x = box["x"] + box["width"] * 0.6
    page.mouse.move(x, box["y"] + 3)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] * 3.5, steps=8)
    page.mouse.up()
    expect(page.get_by_role("heading", name="Book GPU capacity")).to_be_visible()
    expect(page.get_by_label("Start", exact=True)).to_have_value(local_input(tomorrow_at(14)))
