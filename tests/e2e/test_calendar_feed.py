"""The calendar feed on My reservations: make the private URL, a calendar app reads it without a
cookie, revoke it; and the .ics link of one reservation."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import book, sign_in, tomorrow_at

pytestmark = pytest.mark.e2e


def test_make_read_and_revoke_the_calendar_feed(
    page: Page,
    server: str,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("alice")
    booked = book(api_as("alice"), tomorrow_at(10), tomorrow_at(12), "mig-1g.24gb", 1)
    sign_in(page, server, "alice")
    page.get_by_role("link", name="My reservations").click()

    card = page.get_by_role("article").filter(has_text="1 × mig-1g.24gb")
    link = card.get_by_role("link", name="Add to calendar (.ics)")
    expect(link).to_have_attribute("href", f"/api/v1/reservations/{booked['id']}.ics")

    feed = page.get_by_role("region", name="Calendar feed")
    feed.get_by_role("button", name="Create feed URL").click()
    url_field = feed.get_by_label("Feed URL (shown once, copy it now)")
    expect(url_field).to_have_value(re.compile(r"/api/v1/calendar/feeds/berthcal_.+\.ics$"))
    url = url_field.input_value()
    expect(feed.get_by_role("link", name="Subscribe")).to_have_attribute(
        "href", url.replace("http://", "webcal://")
    )
    feed.get_by_role("link", name="Subscribe").scroll_into_view_if_needed()
    shoot(page, "calendar-feed")

    # a calendar app: no cookie, no token
    with httpx.Client(timeout=30) as app:
        got = app.get(url)
        assert got.status_code == 200, got.text
        assert got.headers["content-type"].startswith("text/calendar")
        assert f"UID:reservation-{booked['id']}@berth" in got.text

        feed.get_by_role("button", name="Revoke").click()
        dialog = page.get_by_role("dialog", name="Revoke the calendar feed?")
        dialog.get_by_role("button", name="Revoke feed").click()
        expect(dialog).to_be_hidden()
        expect(feed.get_by_role("button", name="Create feed URL")).to_be_visible()
        assert app.get(url).status_code == 404
