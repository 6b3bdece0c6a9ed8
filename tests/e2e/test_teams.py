"""The Teams page in Chromium: an admin makes a team, adds a lead and sets a budget; the lead
sees the budget used and left with its chart; a booking over the budget is refused in the
Book page with the budget's words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Console, book, local_input, sign_in, tomorrow_at

pytestmark = pytest.mark.e2e


def test_team_budget_from_admin_to_member(
    page: Page,
    server: str,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    shoot: Callable[[Page, str], None],
    console: Console,
) -> None:
    make_user("root", "admin")
    make_user("alice")
    sign_in(page, server, "root")
    page.get_by_role("link", name="Teams").click()
    expect(page.get_by_role("heading", name="Teams", exact=True)).to_be_visible()
    page.get_by_label("Team name").fill("ml")
    page.get_by_role("button", name="Make team").click()
    team = page.get_by_role("article", name="ml")
    expect(team).to_be_visible()
    team.get_by_text("Change ml").click()
    team.get_by_role("textbox", name="Person", exact=True).fill("alice")
    team.get_by_role("checkbox", name="lead").check()
    team.get_by_role("button", name="Add or update").click()
    expect(team).to_contain_text("alice (lead)")
    team.get_by_role("textbox", name="Pool", exact=True).fill("c845a")
    team.get_by_role("textbox", name="GPU kind", exact=True).fill("gpu")
    team.get_by_role("textbox", name="Units at once", exact=True).fill("1")
    team.get_by_role("textbox", name="GPU-hours a week", exact=True).fill("10")
    team.get_by_role("button", name="Set budget").click()
    expect(team.get_by_role("heading", name="gpu in c845a")).to_be_visible()

    # alice books 6 of her team's 10 weekly GPU-hours through the API (the same week as the
    # page's "now" unless tomorrow is a Monday; the check below reads the page, not a guess)
    alice = api_as("alice")
    start = tomorrow_at(9)
    booked = book(alice, start, start + timedelta(hours=6), "gpu", 1)
    assert booked["team_id"] is not None

    page.context.clear_cookies()
    sign_in(page, server, "alice")
    page.get_by_role("link", name="Teams").click()
    team = page.get_by_role("article", name="ml")
    expect(team).to_contain_text("you lead it")
    expect(team).to_contain_text("of 10.0 GPU-hours this week")
    expect(team.locator(".recharts-bar-rectangle").first).to_be_visible()
    shoot(page, "teams")

    # 6 more hours the same day would be 12 of 10: refused, with the budget's words
    console.allow(409, "/api/v1/reservations")  # the refusal this test is about
    page.get_by_role("link", name="Book").click()
    expect(page.get_by_text("For team ml")).to_be_visible()
    page.get_by_label("GPU kind").select_option("gpu")
    later = start + timedelta(hours=7)
    page.get_by_label("Start", exact=True).fill(local_input(later))
    page.get_by_label("End", exact=True).fill(local_input(later + timedelta(hours=6)))
    page.get_by_role("button", name="Book", exact=True).click()
    refusal = page.get_by_role("alert").filter(has_text="budget")
    expect(refusal).to_contain_text("over the budget of team 'ml' in pool 'c845a'")
    expect(refusal).to_contain_text("4 GPU-hours left")
    shoot(page, "book-over-budget")
