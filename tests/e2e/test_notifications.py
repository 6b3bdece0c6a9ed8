"""The bell and the notification settings in a real browser: unread count, an idle warning
with its actions (extend opens the reservation's extend form, release is the confirmed Release
now, keep is offered), mark all read; saving settings, and a refused webhook URL changes
nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from berth.domain.reservation import Status
from berth.store import notifications, reservations
from berth.store.db import Database
from berth.store.models import User
from tests.e2e.conftest import Console, book, sign_in, tomorrow_at

pytestmark = pytest.mark.e2e


def _active_with_warning(db: Database, rid: str) -> None:
    """The reservation running, and the messages the reconciler and idle reclaim record."""
    with db.transaction() as tx:
        row = reservations.set_status(tx, uuid.UUID(rid), Status.ACTIVE, tomorrow_at(10))
        uid = tx.scalar(select(User.id).where(User.username == "alice"))
        assert uid is not None
        notifications.notify(
            tx,
            user_id=uid,
            kind="ready",
            title="Your workspace is ready",
            body="1 x mig-1g.24gb in pool c845a.",
            reservation_id=row.id,
            actions=["open"],
        )
        notifications.notify(
            tx,
            user_id=uid,
            kind="idle",
            title="Your GPUs look idle",
            body="No GPU activity for 30 minutes; the session is released in 15 unless you keep it.",
            reservation_id=row.id,
            actions=["extend", "release", "keep"],
        )


def test_the_bell_shows_a_warning_with_its_actions_and_marks_read(
    page: Page,
    server: str,
    db: Database,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("alice")
    booked = book(api_as("alice"), tomorrow_at(10), tomorrow_at(12), "mig-1g.24gb", 1)
    _active_with_warning(db, booked["id"])
    sign_in(page, server, "alice")

    bell = page.get_by_role("button", name="Notifications, 2 unread")
    bell.click()
    panel = page.get_by_role("region", name="Notifications")
    warning = panel.get_by_role("listitem").filter(has_text="Your GPUs look idle")
    expect(warning.get_by_role("button", name="Keep")).to_be_visible()
    expect(warning.get_by_role("button", name="Release now")).to_be_visible()
    warning.get_by_role("button", name="Extend…").click()
    expect(warning.get_by_label("New end")).to_be_visible()
    shoot(page, "notifications-bell")
    warning.get_by_role("button", name="Close").click()
    expect(warning.get_by_label("New end")).to_be_hidden()

    warning.get_by_role("button", name="Release now").click()
    dialog = page.get_by_role("dialog", name="Release this session now?")
    dialog.get_by_role("button", name="Release").click()
    expect(dialog).to_be_hidden()
    expect(warning).to_contain_text("This reservation is completed.")
    # the release itself is a message too
    released = panel.get_by_role("listitem").filter(has_text="Your workspace was released")
    expect(released).to_be_visible()
    expect(page.get_by_role("button", name="Notifications, 3 unread")).to_be_visible()

    panel.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_role("button", name="Notifications", exact=True)).to_be_visible()
    expect(panel.get_by_role("button", name="Mark read")).to_have_count(0)


def test_notification_settings_are_saved_and_a_refused_webhook_changes_nothing(
    page: Page,
    server: str,
    make_user: Callable[..., str],
    console: Console,
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("alice")
    sign_in(page, server, "alice")
    page.get_by_role("link", name="My reservations").click()
    prefs = page.get_by_role("region", name="Notifications")
    prefs.get_by_label("E-mail address").fill("alice@example.org")
    prefs.get_by_label("Reminders (minutes before the end; empty: none)").fill("10, 45")
    prefs.get_by_role("checkbox", name="Workspace ready by E-mail").check()
    prefs.get_by_role("checkbox", name="Idle warning by E-mail").check()
    prefs.get_by_role("button", name="Save notification settings").click()
    expect(prefs.get_by_role("status")).to_have_text("Saved.")
    expect(prefs.get_by_label("Reminders (minutes before the end; empty: none)")).to_have_value(
        "45, 10"
    )
    prefs.scroll_into_view_if_needed()
    shoot(page, "notification-settings")

    console.allow(422, "/api/v1/me/notification-preferences")  # the refusal this test is about
    prefs.get_by_label("Webhook URL").fill("http://169.254.169.254/latest/meta-data")
    prefs.get_by_role("checkbox", name="Window ends soon by Webhook").check()
    prefs.get_by_role("button", name="Save notification settings").click()
    expect(prefs.get_by_role("alert")).to_contain_text("not a public address")

    page.reload()
    prefs = page.get_by_role("region", name="Notifications")
    expect(prefs.get_by_label("E-mail address")).to_have_value("alice@example.org")
    expect(prefs.get_by_label("Webhook URL")).to_have_value("")
    expect(prefs.get_by_label("Reminders (minutes before the end; empty: none)")).to_have_value(
        "45, 10"
    )
    expect(prefs.get_by_role("checkbox", name="Workspace ready by E-mail")).to_be_checked()
    expect(prefs.get_by_role("checkbox", name="Window ends soon by Webhook")).not_to_be_checked()
