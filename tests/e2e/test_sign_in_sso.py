"""Signing in through the company's identity provider in Chromium: Berth's Sign in page offers
the provider, Keycloak's own login page takes the password, and Berth opens as that user with
the role their groups give."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LAPTOP, TIMEZONE, Console
from tests.sso import Sso, password

pytestmark = [pytest.mark.e2e, pytest.mark.sso]


@pytest.fixture
def sso_page(browser: Browser, console: Console, sso: Sso) -> Iterator[Page]:
    """A fresh browser context on the SSO-configured portal (the `page` fixture's, on `sso`)."""
    context = browser.new_context(viewport=LAPTOP, timezone_id=TIMEZONE, locale="en-GB")
    context.set_default_timeout(30_000)
    pg = context.new_page()
    pg.on("console", console.on_console)
    pg.on("pageerror", console.on_page_error)
    yield pg
    context.close()
    assert console.errors == [], console.errors


def test_sign_in_through_keycloaks_login_page_lands_as_that_user_with_the_mapped_role(
    sso_page: Page, sso: Sso, shoot: Callable[[Page, str], None]
) -> None:
    page = sso_page
    sso.user("erin", "gpu-users", "berth-admins")
    page.goto(sso.url + "/calendar")
    button = page.get_by_role("link", name="Sign in with Company SSO")
    expect(button).to_be_visible()
    expect(page.get_by_text("or with a Berth password (break-glass)")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_visible()  # the break-glass form stays
    shoot(page, "sign-in-providers")

    button.click()
    page.wait_for_url(f"{sso.realm.issuer}/**")  # Keycloak's own login page
    page.locator("#username").fill("erin")
    page.locator("#password").fill(password("erin"))
    page.locator("#kc-login").click()

    page.wait_for_url(f"{sso.url}/calendar")  # back where she asked to go
    nav = page.get_by_role("navigation", name="Main")
    expect(page.get_by_role("heading", name="Calendar")).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("erin (admin)")  # berth-admins → admin
    expect(nav.get_by_role("link", name="Admin")).to_be_visible()

    page.reload()  # the session cookie keeps her signed in
    expect(page.get_by_role("heading", name="Calendar")).to_be_visible()


@pytest.mark.parametrize("sso_overrides", [{"local_login": False}])
def test_with_password_sign_in_switched_off_only_the_provider_is_offered(
    sso_page: Page, sso: Sso
) -> None:
    sso_page.goto(sso.url + "/")
    expect(sso_page.get_by_role("link", name="Sign in with Company SSO")).to_be_visible()
    expect(sso_page.get_by_label("Password")).to_have_count(0)
