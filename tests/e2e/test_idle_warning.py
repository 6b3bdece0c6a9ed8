"""The idle warning in the browser, from a real reconciler on the sim measuring the session
through a real Prometheus and the stand-in DCGM exporter (docs/idle.md): the card says why and
when, "Keep it" withdraws it and says until when."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from berth.config import load_pool_file
from berth.domain.idle import IdlePolicy
from berth.reconciler.activity import ActivityCollector
from berth.reconciler.loop import Reconciler
from berth.reconciler.prometheus import Prometheus
from berth.store import pools
from berth.store.db import Database
from tests.dcgm_standin import StandInDcgmExporter
from tests.e2e.conftest import book, sign_in
from tests.e2e.test_reservations import READY_WITHIN

# idle for 6 s: warned; 10 minutes to answer, so the page has time to show it
POLICY = IdlePolicy(idle_minutes=0.1, answer_minutes=10, keep_minutes=60)


@pytest.mark.kube
def test_an_idle_session_is_warned_on_its_card_and_kept(
    page: Page,
    server: str,
    db: Database,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    reconciler: Callable[..., Reconciler],
    sim_standin: StandInDcgmExporter,
    sim_prometheus: str,
    shoot: Callable[[Page, str], None],
) -> None:
    (pool,) = load_pool_file()
    with db.transaction() as tx:
        pools.sync(tx, [dataclasses.replace(pool, idle={"mig-1g.24gb": POLICY})])
    make_user("alice")
    alice = api_as("alice")
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    mine = book(alice, now, end, "mig-1g.24gb", 1)
    activity = ActivityCollector(db, Prometheus(sim_prometheus), timedelta(seconds=2))
    reconciler(activity=activity)  # the stand-in reads 0 for its GPU: idle

    sign_in(page, server, "alice")
    page.get_by_role("link", name="My reservations").click()
    card = page.get_by_role("article").filter(has_text="1 × mig-1g.24gb")
    expect(card).to_contain_text("Workspace ready", timeout=READY_WITHIN)
    warning = card.get_by_role("alert")
    expect(warning).to_contain_text("Its GPUs have stayed idle", timeout=60_000)
    expect(warning).to_contain_text("It will be released at")
    expect(card.get_by_role("button", name="Release now")).to_have_count(1)  # in the warning
    shoot(page, "idle-warning")

    warning.get_by_role("button", name="Keep it").click()
    expect(card).to_contain_text("Kept: no idle release before")
    expect(card.get_by_role("alert")).to_have_count(0)
    got = alice.get(f"/api/v1/reservations/{mine['id']}").json()
    assert got["status"] == "ACTIVE"
    assert got["idle"]["reason"] is None
    assert got["idle"]["keep_until"] is not None
