"""The Usage page: totals, the three charts, the ledger table and its CSV for a user (their own)
and an admin (everyone's); and the tokenomics page's measured utilization from the same data."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from berth.store.db import Database
from tests.e2e.conftest import sign_in
from tests.usage_rows import add_reservation, add_samples, every

pytestmark = pytest.mark.e2e

H = timedelta(hours=1)
STEP = timedelta(minutes=5)


@pytest.fixture
def history(db: Database, make_user: Callable[..., str]) -> datetime:
    """Three days ago (in the past of the real clock the server runs on): alice held the whole
    GPU 4 h, busy at 50 %, and two MIG slices 6 h, idle; bob served a model on the GPU for 3 h
    at 90 %, 250,000 tokens every 5 minutes."""
    for name in ("alice", "bob"):
        make_user(name)
    make_user("root", "admin")
    t = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=3)
    gpu = add_reservation(db, "alice", t, t + 4 * H)
    add_samples(db, gpu, every(t, t + 4 * H, STEP), 300, 0.5)
    mig = add_reservation(db, "alice", t, t + 6 * H, kind="mig-1g.24gb", count=2)
    add_samples(db, mig, every(t, t + 6 * H, STEP), 300, 0.0)
    served = add_reservation(db, "bob", t + 5 * H, t + 8 * H)
    add_samples(db, served, every(t + 5 * H, t + 8 * H, STEP), 300, 0.9, 200_000, 50_000)
    return t


def test_usage_page_of_a_user(page: Page, server: str, history: datetime) -> None:
    sign_in(page, server, "alice")
    page.get_by_role("link", name="Usage").click()
    expect(page.get_by_role("heading", name="Usage", exact=True)).to_be_visible()
    totals = page.get_by_label("Totals")
    # 4 GPU-hours + 2 x 0.25 x 6 h = 7 reserved; used 4 x 0.5 = 2; all measured; idle 5 of 7
    expect(totals).to_contain_text("Reserved7.0 GPU-h")
    expect(totals).to_contain_text("Used2.0 GPU-h")
    expect(totals).to_contain_text("Measured100.0%")
    expect(totals).to_contain_text("Idle71.4%")
    days = page.get_by_role("figure", name="Reserved and used GPU-hours per day")
    expect(days.locator(".recharts-bar-rectangle").first).to_be_visible()
    idle = page.get_by_role("figure", name="Most idle bookings")
    expect(idle.get_by_role("listitem").first).to_contain_text(
        re.compile(r"^alice · mig-1g\.24gb ×2 · \d+ \w+: 3\.0 idle GPU-hours \(100\.0% of")
    )
    expect(idle.get_by_role("listitem").nth(1)).to_contain_text("gpu ×1")
    cost = page.get_by_role("figure", name="Cost by user")
    expect(cost.get_by_role("listitem")).to_have_count(1)  # only her own
    table = page.get_by_role("table", name="Reserved and used GPU-hours, idle share and cost")
    expect(table.get_by_role("row", name=re.compile("^alice"))).to_contain_text("7.0")

    # the CSV behind the link is the same ledger
    href = page.get_by_role("link", name="Download CSV").get_attribute("href")
    assert href is not None
    answer = page.request.get(server + href)
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text())))
    assert [r["user"] for r in rows] == ["alice"]
    assert float(rows[0]["reserved_gpu_hours"]) == 7.0

    page.get_by_label("Table rows by").select_option("pool,gpu_kind")
    expect(table.get_by_role("row", name=re.compile("^c845a"))).to_have_count(2)


def test_an_admin_sees_everyone_and_tokens(
    page: Page,
    server: str,
    history: datetime,
    shoot: Callable[[Page, str], None],
) -> None:
    sign_in(page, server, "root")
    page.goto(server + "/usage")
    cost = page.get_by_role("figure", name="Cost by user")
    table = page.get_by_role("table", name="Reserved and used GPU-hours, idle share and cost")
    expect(page.get_by_text("As an admin you see every user's reservations.")).to_be_visible()
    expect(cost.get_by_role("listitem")).to_have_count(2)
    page.get_by_label("Table rows by").select_option("user")
    bob = table.get_by_role("row", name=re.compile("^bob"))
    expect(bob).to_contain_text("9M")  # 36 samples x 250,000 tokens, so a $/Mtok
    expect(bob.get_by_role("cell").last).to_contain_text("$")
    page.set_viewport_size({"width": 1280, "height": 1450})  # charts and table in one picture
    shoot(page, "usage")


def test_tokenomics_takes_measured_utilization(page: Page, server: str, history: datetime) -> None:
    sign_in(page, server, "alice")
    page.goto(server + "/tokenomics")
    page.get_by_label("Utilization from").select_option("measured")
    page.get_by_role("button", name="Use measured utilization").click()
    # used: alice 2 GPU-hours + bob 0.9 x 3 h = 4.7 of 2 GPUs x 720 h
    expect(page.get_by_role("status").filter(has_text="last 30 days")).to_contain_text(
        "4.7 of 1,440 GPU-hours used"
    )
    expect(page.get_by_label("Utilization (0–1)")).to_have_value("0.00326")
