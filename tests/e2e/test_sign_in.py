"""Signing in: a wrong password is refused in words; the right one opens the portal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Console, password

pytestmark = pytest.mark.e2e


def test_sign_in_refuses_a_wrong_password_then_signs_in(
    page: Page,
    server: str,
    console: Console,
    make_user: Callable[..., str],
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("alice")
    console.allow(401, "/api/v1/auth/login")
    page.goto(server + "/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    shoot(page, "sign-in")

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong username or password")

    page.get_by_label("Password").fill(password("alice"))
    page.get_by_role("button", name="Sign in").click()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Availability")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("alice", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Admin")).to_have_count(0)  # not an admin

    page.reload()  # the session cookie keeps her signed in
    expect(page.get_by_role("heading", name="Availability")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_keyboard_only_sign_in_and_navigation(
    page: Page, server: str, make_user: Callable[..., str]
) -> None:
    make_user("alice")
    page.goto(server + "/")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type(password("alice"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Availability")).to_be_visible()

    # Tab from the top reaches the skip link, then the navigation in order.
    page.locator("body").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Calendar")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Calendar")).to_be_visible()

    # The calendar's own controls and its scrolling hours are reachable by keyboard.
    title = page.locator(".cal-toolbar h2")
    expect(title).not_to_have_text("")
    before = title.text_content()
    page.get_by_role("button", name="Next week").focus()
    page.keyboard.press("Enter")
    expect(title).not_to_have_text(before or "")
    page.get_by_role("region", name="Calendar hours").focus()
    expect(page.get_by_role("region", name="Calendar hours")).to_be_focused()
