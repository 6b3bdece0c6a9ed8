"""My reservations: status, countdown, the workspace as the reconciler brings it up on the sim,\nextend and cancel."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from berth.config import load_pool_file
from berth.domain.session import SessionConfig, namespace_name, workspace_url
from berth.kube.adapter import KubeCluster
from berth.reconciler.loop import Reconciler
from berth.reconciler.plan import Limits
from berth.store import pools
from berth.store.db import Database
from tests.conftest import eventually
from tests.e2e.conftest import book, iso, local_input, sign_in, tomorrow_at

FAULT_POOLS = Path(__file__).parents[1] / "kube" / "faults_pools.yaml"

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


# The workspace's states come from Berth's reconciler provisioning on the sim (a real API
# server, scheduler and fake GPU nodes), never from rows a test writes: these tests are both
# browser tests and Kubernetes tests.
READY_WITHIN = 150_000  # ms: provisioning a session on the sim, shared with other tests
FAILED_WITHIN = 120_000  # ms: the ready budget below, a diagnosis, and the UI's polling


@pytest.mark.kube
def test_a_booking_made_in_the_browser_gets_its_workspace_link_and_password(
    page: Page,
    server: str,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    reconciler: Callable[..., Reconciler],
    kube: KubeCluster,
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("alice")
    reconciler()
    sign_in(page, server, "alice")
    page.get_by_role("link", name="Book", exact=True).click()
    page.get_by_label("GPU kind").select_option("mig-1g.24gb")
    page.get_by_label("Count").fill("1")
    page.get_by_role("button", name="Start now").click()
    page.get_by_role("button", name="2 h", exact=True).click()
    page.get_by_role("button", name="Book", exact=True).click()
    booked = page.get_by_role("complementary", name="Check and book")
    expect(booked.get_by_role("heading", name="Booked")).to_be_visible()

    booked.get_by_role("link", name="My reservations").click()
    card = page.get_by_role("article").filter(has_text="1 × mig-1g.24gb")
    expect(card).to_contain_text("Workspace ready", timeout=READY_WITHIN)
    expect(card).to_contain_text("Active")
    expect(card).to_contain_text("ends in")

    alice = api_as("alice")
    (mine,) = alice.get("/api/v1/reservations").json()
    ns = namespace_name(uuid.UUID(mine["id"]))
    assert ns in [n.name for n in kube.namespaces(f"berth.io/reservation={mine['id']}")]
    link = card.get_by_role("link", name="Open workspace")
    # through the portal, which records the first open and sends the browser on (docs/idle.md)
    expect(link).to_have_attribute("href", f"/api/v1/reservations/{mine['id']}/open")
    opened = alice.get(f"/api/v1/reservations/{mine['id']}/open", follow_redirects=False)
    assert opened.headers["location"] == workspace_url(ns, SessionConfig())
    url = f"/api/v1/reservations/{mine['id']}/workspace"
    assert alice.get(url).json()["password"] is None  # only when asked for
    password = alice.get(url, params={"include_password": True}).json()["password"]
    assert password
    expect(card).not_to_contain_text(password)  # only on request
    card.get_by_role("button", name="Show password").click()
    expect(card.locator("code")).to_have_text(password)
    shoot(page, "workspace-ready")


@pytest.mark.kube
def test_an_active_session_counts_down_and_a_failed_one_shows_the_reason(
    page: Page,
    server: str,
    db: Database,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    reconciler: Callable[..., Reconciler],
) -> None:
    """A workspace in pool `ghost` (its node does not exist) can never be scheduled: the
    reconciler diagnoses it once its short ready budget has passed and fails the booking with
    the reason, while the other booking's workspace comes up."""
    with db.transaction() as tx:
        pools.sync(tx, load_pool_file(FAULT_POOLS))
    make_user("alice")
    alice = api_as("alice")
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    book(alice, now, end, "mig-1g.24gb", 1)
    ghost = alice.post(
        "/api/v1/reservations",
        json={
            "pool": "ghost",
            "start": iso(now),
            "end": iso(end),
            "gpu": {"kind": "gpu", "count": 1},
        },
    )
    assert ghost.status_code == 201, ghost.text
    reconciler(Limits(max_attempts=1, ready_timeout=timedelta(seconds=20)))
    sign_in(page, server, "alice")
    page.get_by_role("link", name="My reservations").click()

    active = page.get_by_role("article").filter(has_text="1 × mig-1g.24gb")
    expect(active).to_contain_text("Workspace ready", timeout=READY_WITHIN)
    expect(active).to_contain_text("Active")
    expect(active).to_contain_text("ends in")
    expect(active.get_by_role("button", name="Release now")).to_be_visible()

    failed = page.get_by_role("article").filter(has_text="1 × gpu")
    # the card's status, not its text: the diagnosis it shows while it retries already says
    # "FailedScheduling", which matched "Failed" before the booking had failed
    expect(failed).to_have_attribute("data-status", "FAILED", timeout=FAILED_WITHIN)
    expect(failed).to_contain_text("Failed")
    expect(failed).to_contain_text("gave up after 1 failed attempt")
    expect(failed).to_contain_text("cannot be scheduled")
    expect(failed.get_by_role("button")).to_have_count(0)


@pytest.mark.kube
def test_release_now_ends_the_session_frees_the_window_and_deletes_the_workspace(
    page: Page,
    server: str,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    reconciler: Callable[..., Reconciler],
    kube: KubeCluster,
) -> None:
    """ "I'm done": the card of a running session offers Release now; once confirmed the
    reservation is COMPLETED (released early), and the reconciler deletes its namespace."""
    make_user("alice")
    alice = api_as("alice")
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    mine = book(alice, now, end, "mig-1g.24gb", 1)
    reconciler()
    sign_in(page, server, "alice")
    page.get_by_role("link", name="My reservations").click()
    card = page.get_by_role("article").filter(has_text="1 × mig-1g.24gb")
    expect(card).to_contain_text("Workspace ready", timeout=READY_WITHIN)
    expect(card.get_by_role("button", name="Cancel")).to_have_count(0)

    card.get_by_role("button", name="Release now").click()
    dialog = page.get_by_role("dialog", name="Release this session now?")
    dialog.get_by_role("button", name="Release", exact=True).click()
    expect(dialog).to_be_hidden()
    history = page.get_by_role("article").filter(has_text="1 × mig-1g.24gb")
    expect(history).to_contain_text("Completed")
    expect(history).to_contain_text("released early")

    got = alice.get(f"/api/v1/reservations/{mine['id']}").json()
    assert (got["status"], got["reason"]) == ("COMPLETED", "released")
    assert got["end"] < iso(end)

    def torn_down() -> None:
        left = kube.namespaces(f"berth.io/reservation={mine['id']}")
        assert all(n.phase == "Terminating" for n in left), left

    eventually(torn_down, timeout=READY_WITHIN / 1000)
