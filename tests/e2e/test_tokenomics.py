"""The Tokenomics page: the reference scenario's chart, breakdown and break-even table; a new
utilization changes $/Mtok; a utilization of 1.3 is refused by the API next to its field; the
measured utilization of a pool replaces the guess."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from berth.store.db import Database
from tests.e2e.conftest import Console, book, sign_in, tomorrow_at

pytestmark = pytest.mark.e2e

CURVE = "Cost per million tokens against utilization"


def shown(page: Page) -> str:
    """The headline $/Mtok as the page shows it, e.g. "$0.107"."""
    return page.get_by_test_id("cost-per-mtok").inner_text()


def test_chart_breakdown_a_new_utilization_and_a_refused_one(
    page: Page,
    server: str,
    console: Console,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    shoot: Callable[[Page, str], None],
) -> None:
    for route in ("cost", "curve", "breakeven"):
        console.allow(422, f"/api/v1/tokenomics/{route}")  # the refused utilization, on purpose
    make_user("alice")
    reference = api_as("alice").post("/api/v1/tokenomics/cost", json={}).json()
    sign_in(page, server, "alice")
    page.get_by_role("link", name="Tokenomics").click()
    expect(page.get_by_role("heading", name="Tokenomics", exact=True)).to_be_visible()

    # Defaults come from the reference scenario.
    expect(page.get_by_label("Scenario", exact=True)).to_have_value("c845a")
    expect(page.get_by_label("Utilization (0–1)")).to_have_value("0.4")
    expect(page.get_by_label("Electricity price ($/kWh)")).to_have_value("0.13")
    expect(page.get_by_label("8B: Share of requests")).to_have_value("0.92")

    figure = page.get_by_role("figure", name=CURVE)
    expect(figure.locator(".recharts-line")).to_have_count(3)  # blended, 8B, 70B
    expect(figure.locator(".recharts-reference-dot")).to_have_count(4)  # each API breaks even
    expect(figure).to_contain_text("OpenAI GPT-4o mini $0.24: break-even at 17.5%")
    expect(page.get_by_test_id("cost-per-mtok")).to_have_text(f"${reference['cost_per_mtok']:.3f}")
    breakdown = page.get_by_role("table").filter(has_text="Component")
    expect(breakdown.get_by_role("row")).to_have_count(1 + 7 + 1)  # head, components, total
    expect(breakdown.get_by_role("row", name=re.compile("^Total"))).to_contain_text(
        f"${reference['annual_cost']:,.0f}"
    )
    breakeven = page.get_by_role("region", name="Break-even against cloud APIs")
    expect(breakeven.get_by_role("row", name=re.compile("^OpenAI GPT-4.1"))).to_contain_text("1.3%")
    figure.scroll_into_view_if_needed()  # the whole chart with its legend, the inputs beside it
    shoot(page, "tokenomics")

    # Twice the utilization: the same fleet serves twice the tokens, for a little more power.
    before = shown(page)
    page.get_by_label("Utilization (0–1)").fill("0.8")
    expect(page.get_by_test_id("cost-per-mtok")).not_to_have_text(before)
    after = shown(page)
    assert 0.5 < float(after.lstrip("$")) / float(before.lstrip("$")) < 0.55
    expect(figure).to_contain_text("now 80%")

    # Out of range: the API's 422 is shown beside the field and in the list by the figures.
    field = page.get_by_label("Utilization (0–1)")
    field.fill("1.3")
    alert = page.get_by_role("alert").filter(has_text="The API refused these inputs")
    expect(alert).to_contain_text("Utilization: Input should be less than or equal to 1")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#tk-utilization-error")).to_have_text(
        "Input should be less than or equal to 1"
    )
    expect(page.get_by_test_id("cost-per-mtok")).to_have_text(after)  # the last accepted
    alert.get_by_role("button", name="Utilization").click()
    expect(field).to_be_focused()

    # Fixing it clears the error.
    field.fill("0.6")
    expect(alert).to_have_count(0)
    expect(field).not_to_have_attribute("aria-invalid", "true")


def test_a_scenario_field_refused_by_the_api_and_the_fleet_scenario(
    page: Page, server: str, console: Console, make_user: Callable[..., str]
) -> None:
    for route in ("cost", "curve", "breakeven"):
        console.allow(422, f"/api/v1/tokenomics/{route}")
    make_user("alice")
    sign_in(page, server, "alice")
    page.goto(server + "/tokenomics")
    price = page.get_by_label("Electricity price ($/kWh)")
    price.fill("-1")
    expect(page.get_by_role("alert")).to_contain_text(
        "Electricity price ($/kWh): Input should be greater than or equal to 0"
    )
    expect(price).to_have_attribute("aria-invalid", "true")
    price.fill("abc")  # not a number: the browser says so and sends nothing
    expect(page.get_by_role("alert")).to_contain_text("Some inputs are not numbers")

    picker = page.get_by_label("Scenario", exact=True)
    picker.focus()
    page.keyboard.press("ArrowDown")  # by keyboard; focus stays while the scenario loads
    expect(picker).to_have_value("fleet")
    expect(page.get_by_label("Servers", exact=True)).to_have_value("8")
    expect(page.get_by_label("Electricity price ($/kWh)")).to_have_value("0.1")
    expect(page.get_by_role("alert")).to_have_count(0)
    figure = page.get_by_role("figure", name=CURVE)
    expect(figure.locator(".recharts-line")).to_have_count(5)  # blended and four classes
    expect(page.get_by_label("400B: Output tokens/s per replica")).to_have_value("800")
    expect(picker).to_be_focused()


def test_measured_utilization_of_a_pool(
    page: Page,
    server: str,
    db: Database,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
) -> None:
    make_user("alice")
    held = book(api_as("alice"), tomorrow_at(10), tomorrow_at(12), "gpu", 1)
    # Moved into the past, as if booked then: one whole GPU for a day of the last 30.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    with db.transaction() as tx:
        tx.execute(
            text("UPDATE reservations SET start_at = :s, end_at = :e WHERE id = :id"),
            {"s": start, "e": start + timedelta(days=1), "id": held["id"]},
        )
    sign_in(page, server, "alice")
    page.goto(server + "/tokenomics")
    expect(page.get_by_label("Pool", exact=True)).to_have_value("c845a")
    page.get_by_role("button", name="Use measured utilization").click()
    # The demo pool has two GPUs: 24 of 2 x 720 GPU-hours.
    expect(page.get_by_role("status").filter(has_text="last 30 days")).to_have_text(
        "Pool c845a, last 30 days: 24 of 1,440 GPU-hours booked = 1.7%, now the utilization."
    )
    expect(page.get_by_label("Utilization (0–1)")).to_have_value("0.0167")
    expect(page.get_by_role("figure", name=CURVE)).to_contain_text("now 2%")
