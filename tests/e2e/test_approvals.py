"""Approvals in the browser: a request waits in My reservations; its team's lead approves one
and rejects another with a reason on the Approvals page."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from berth.config import load_pool_file
from berth.domain.approval import ApprovalRules
from berth.store import pools
from berth.store.db import Database
from berth.store.models import Team, TeamMember, User
from tests.e2e.conftest import book, sign_in, tomorrow_at

pytestmark = pytest.mark.e2e


def test_a_lead_approves_and_rejects_from_the_approvals_page(
    page: Page,
    server: str,
    db: Database,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    shoot: Callable[[Page, str], None],
) -> None:
    (pool,) = load_pool_file()
    with db.transaction() as tx:
        pools.sync(tx, [dataclasses.replace(pool, approval=ApprovalRules(over_units=2))])
    make_user("alice")
    make_user("bob")
    with db.transaction() as tx:
        team = Team(name="ml")
        tx.add(team)
        tx.flush()
        for name, lead in (("alice", False), ("bob", True)):
            uid = tx.scalar(select(User.id).where(User.username == name))
            tx.add(TeamMember(team_id=team.id, user_id=uid, lead=lead))
    alice = api_as("alice")
    big = book(alice, tomorrow_at(10), tomorrow_at(12), "mig-1g.24gb", 3)
    bigger = book(alice, tomorrow_at(14), tomorrow_at(16), "mig-1g.24gb", 4)
    assert (big["status"], bigger["status"]) == ("PENDING", "PENDING")

    sign_in(page, server, "alice")
    page.get_by_role("link", name="My reservations").click()
    card = page.get_by_role("article").filter(has_text="3 × mig-1g.24gb")
    expect(card).to_contain_text("Pending")
    expect(card).to_contain_text("Waiting for approval until")
    expect(card).to_contain_text("more than 2 x mig-1g.24gb (3 asked)")
    shoot(page, "approval-pending")

    page.context.clear_cookies()
    sign_in(page, server, "bob")
    page.get_by_role("link", name="Approvals").click()
    expect(page.get_by_role("heading", name="Approvals", exact=True)).to_be_visible()
    first = page.get_by_role("article").filter(has_text="alice: 3 × mig-1g.24gb")
    second = page.get_by_role("article").filter(has_text="alice: 4 × mig-1g.24gb")
    expect(first).to_contain_text("ml")
    shoot(page, "approvals")
    first.get_by_role("button", name="Approve").click()
    expect(first).to_have_count(0)

    second.get_by_role("button", name="Reject").click()
    second.get_by_label("Reason (told to alice)").fill("use two slices")
    second.get_by_role("button", name="Reject request").click()
    expect(second).to_have_count(0)
    expect(page.get_by_text("Nothing to decide.")).to_be_visible()

    assert alice.get(f"/api/v1/reservations/{big['id']}").json()["status"] == "APPROVED"
    rejected = alice.get(f"/api/v1/reservations/{bigger['id']}").json()
    assert (rejected["status"], rejected["reason"]) == ("REJECTED", "use two slices")
