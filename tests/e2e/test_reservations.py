"""My reservations: status, countdown, the workspace placeholder, extend and cancel."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from berth.config import Settings
from berth.domain.reservation import Status
from berth.store import reservations, sessions
from berth.store.db import Database
from tests.e2e.conftest import book, iso, local_input, sign_in, tomorrow_at

pytestmark = pytest.mark.e2e


def test_extend_then_cancel_with_confirmation(
    page: Page,
    server: str,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("alice")
    alice = api_as("alice")
    book(alice, tomorrow_at(10), tomorrow_at(12), "mig-1g.24gb", 1)
    book(alice, tomorrow_at(14), tomorrow_at(15), "gpu", 1)
    sign_in(page, server, "alice")
    page.get_by_role("link", name="My reservations").click()

    card = page.get_by_role("article").filter(has_text="1 × mig-1g.24gb")
    expect(card).to_contain_text("Approved")
    expect(card).to_contain_text("starts in")
    expect(card).to_contain_text("Waiting for workspace")
    shoot(page, "my-reservations")

    card.get_by_role("button", name="Extend").click()
    card.get_by_label("New end").fill(local_input(tomorrow_at(13)))
    card.get_by_role("button", name="Extend").click()
    expect(card.get_by_label("New end")).to_have_count(0)
    expect(card).to_contain_text("13:00")

    card.get_by_role("button", name="Cancel").click()
    dialog = page.get_by_role("dialog", name="Cancel this reservation?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    expect(card).to_contain_text("Approved")

    card.get_by_role("button", name="Cancel").click()
    dialog.get_by_role("button", name="Cancel reservation").click()
    expect(dialog).to_be_hidden()
    history = page.get_by_role("article").filter(has_text="1 × mig-1g.24gb")
    expect(history).to_contain_text("Canceled")
    expect(history.get_by_role("button", name="Cancel")).to_have_count(0)

    got = {r["gpu"]["kind"]: r for r in alice.get("/api/v1/reservations").json()}
    assert got["mig-1g.24gb"]["status"] == "CANCELED"
    assert got["mig-1g.24gb"]["end"] == iso(tomorrow_at(13))
    assert got["gpu"]["status"] == "APPROVED"


def test_active_sessions_count_down_to_their_end_and_failures_show_their_reason(
    page: Page,
    server: str,
    db: Database,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
) -> None:
    make_user("alice")
    alice = api_as("alice")
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    running = book(alice, now, end, "mig-1g.24gb", 1)
    broken = book(alice, now, end, "gpu", 1)
    with db.transaction() as tx:  # what the reconciler will do
        for r in (running, broken):
            reservations.set_status(tx, uuid.UUID(r["id"]), Status.ACTIVE, now)
        reservations.set_status(
            tx, uuid.UUID(broken["id"]), Status.FAILED, now, "workspace image could not be pulled"
        )
    sign_in(page, server, "alice")
    page.get_by_role("link", name="My reservations").click()

    active = page.get_by_role("article").filter(has_text="1 × mig-1g.24gb")
    expect(active).to_contain_text("Active")
    expect(active).to_contain_text("ends in")
    expect(active).to_contain_text("Waiting for workspace")
    expect(active.get_by_role("button", name="End now")).to_be_visible()

    failed = page.get_by_role("article").filter(has_text="1 × gpu")
    expect(failed).to_contain_text("Failed")
    expect(failed).to_contain_text("workspace image could not be pulled")
    expect(failed.get_by_role("button")).to_have_count(0)


def test_the_workspace_link_and_password_appear_once_it_is_ready(
    page: Page,
    server: str,
    db: Database,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    shoot: Callable[[Page, str], None],
    settings: Settings,
) -> None:
    make_user("alice")
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    rid = uuid.UUID(book(api_as("alice"), now, end, "mig-1g.24gb", 1)["id"])
    sign_in(page, server, "alice")
    page.get_by_role("link", name="My reservations").click()
    card = page.get_by_role("article").filter(has_text="1 × mig-1g.24gb")
    expect(card).to_contain_text("Waiting for workspace")

    with db.transaction() as tx:  # the reconciler's steps, as it records them
        password = sessions.start(tx, rid, "berth-e2e", now, settings.secret_box())
        sessions.record_step(tx, rid, "quota", now)
    page.reload()
    expect(card).to_contain_text("Preparing your workspace")
    expect(card).to_contain_text("step: quota")

    with db.transaction() as tx:
        sessions.mark_ready(tx, rid, "https://berth-e2e.apps.example", now)
    page.reload()
    expect(card).to_contain_text("Active")
    link = card.get_by_role("link", name="Open workspace")
    expect(link).to_have_attribute("href", "https://berth-e2e.apps.example")
    expect(card).not_to_contain_text(password)  # only on request
    card.get_by_role("button", name="Show password").click()
    expect(card.locator("code")).to_have_text(password)
    shoot(page, "workspace-ready")
