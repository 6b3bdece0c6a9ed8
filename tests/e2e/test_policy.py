"""The Book form follows the server's booking grid (GET /api/v1/policy), here 30 minutes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from berth.config import Settings
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, grid_minutes=30, max_length_hours=12)


def test_the_book_form_uses_the_server_grid(
    page: Page, server: str, make_user: Callable[..., str]
) -> None:
    make_user("alice")
    sign_in(page, server, "alice")
    page.get_by_role("link", name="Book", exact=True).click()
    expect(page.get_by_text("Times snap to the 30-minute grid")).to_contain_text(
        "lasts 15 min to 12 h and starts within 90 days"
    )
    start = page.get_by_label("Start", exact=True)
    expect(start).to_have_attribute("step", "1800")
    assert start.input_value()[-2:] in ("00", "30")
    page.get_by_role("button", name="1 h", exact=True).click()
    assert page.get_by_label("End", exact=True).input_value()[-2:] in ("00", "30")
