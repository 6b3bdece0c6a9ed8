"""Admin: everyone's reservations, users (add, disable, role), the audit log, health."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import book, password, sign_in, tomorrow_at

pytestmark = pytest.mark.e2e


def test_admin_sees_another_users_booking_and_the_audit_entries(
    page: Page,
    server: str,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("root", "admin")
    make_user("alice")
    make_user("bob")
    book(api_as("alice"), tomorrow_at(10), tomorrow_at(12), "mig-1g.24gb", 2)
    book(api_as("bob"), tomorrow_at(13), tomorrow_at(14), "gpu", 1)
    sign_in(page, server, "root")
    page.get_by_role("link", name="Admin").click()

    table = page.get_by_role("tabpanel")
    expect(table.get_by_role("row").filter(has_text="alice")).to_contain_text("2 × mig-1g.24gb")
    expect(table.get_by_role("row").filter(has_text="bob")).to_contain_text("1 × gpu")
    page.get_by_label("Owner").fill("ali")
    expect(table.locator("tbody tr")).to_have_count(1)
    shoot(page, "admin-reservations")

    page.get_by_role("tab", name="Audit log").click()
    rows = page.get_by_role("tabpanel").locator("tbody tr")
    created = rows.filter(has_text="reservation.create")
    expect(created.filter(has_text="alice")).to_have_count(1)
    expect(created.filter(has_text="bob")).to_have_count(1)
    page.get_by_label("Actor").fill("alice")
    expect(rows.filter(has_text="bob")).to_have_count(0)
    shoot(page, "admin-audit")

    page.get_by_role("tab", name="Health").click()
    expect(page.get_by_role("tabpanel")).to_contain_text("database")
    expect(page.get_by_role("tabpanel")).to_contain_text("ok")
    # No reconciler runs in this test: the API says so, and so does the page.
    expect(page.get_by_role("tabpanel")).to_contain_text("Reconciler")
    expect(page.get_by_role("tabpanel")).to_contain_text("never seen")


def test_admin_adds_disables_and_promotes_users(
    page: Page,
    server: str,
    make_user: Callable[..., str],
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("root", "admin")
    sign_in(page, server, "root")
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("tab", name="Users").click()
    panel = page.get_by_role("tabpanel")

    panel.get_by_label("Username").fill("carol")
    panel.get_by_label("Password").fill(password("carol"))
    panel.get_by_role("button", name="Add user").click()
    row = panel.get_by_role("row").filter(has_text="carol")
    expect(row).to_contain_text("Enabled")

    row.get_by_label("Role of carol").select_option("admin")
    expect(row.get_by_label("Role of carol")).to_have_value("admin")
    row.get_by_role("button", name="Disable carol").click()
    expect(row).to_contain_text("Disabled")
    shoot(page, "admin-users")

    # The keyboard moves between the tabs with the arrow keys.
    page.get_by_role("tab", name="Users").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Audit log")).to_be_focused()
    expect(page.get_by_role("tab", name="Audit log")).to_have_attribute("aria-selected", "true")
    rows = page.get_by_role("tabpanel").locator("tbody tr")
    expect(rows.filter(has_text="user.update")).not_to_have_count(0)
