"""Warm-up tied to bookings, in the browser: book with a stage from the catalog, then watch the
reservation go waiting → staging N% → staged as the node's agent reports (played here by
requests with the node's credential); the admin's Cache tab shows the node per model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from berth.store import cache
from berth.store.db import Database
from tests.e2e.conftest import TABLET, local_input, sign_in, tomorrow_at

pytestmark = pytest.mark.e2e

NODE = "ucs-c845a-01"
HF = "demo-hf-tiny"
HF_SIZE = 2048 + 1048576 + 100663296


def _node_client(db: Database, server: str) -> httpx.Client:
    with db.transaction() as tx:
        secret, _ = cache.issue_credential(tx, NODE, datetime.now(UTC), actor="test")
    return httpx.Client(base_url=server, timeout=30, headers={"Authorization": f"Bearer {secret}"})


def _report(node: httpx.Client, *models: dict[str, Any]) -> None:
    body = {
        "node": NODE,
        "reported_at": datetime.now(UTC).isoformat(),
        "capacity_bytes": 40 * 2**30,
        "used_bytes": sum(m["downloaded_bytes"] for m in models) + 12 * 2**30,
        "reserved_bytes": 0,
        "high_watermark_bytes": 36 * 2**30,
        "low_watermark_bytes": 32 * 2**30,
        "bandwidth_bytes_per_second": 118e6,
        "models": list(models),
    }
    r = node.put(f"/api/v1/cache/nodes/{NODE}/state", json=body)
    assert r.status_code == 200, r.text


def _hf(state: str, downloaded: int, **kw: Any) -> dict[str, Any]:
    return {
        "model": HF,
        "state": state,
        "size_bytes": HF_SIZE,
        "downloaded_bytes": downloaded,
        **kw,
    }


def test_book_with_a_stage_and_watch_it_staged(
    page: Page,
    server: str,
    db: Database,
    make_user: Callable[..., str],
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("alice")
    node = _node_client(db, server)
    sign_in(page, server, "alice")
    page.get_by_role("link", name="Book", exact=True).click()
    page.get_by_label("Start", exact=True).fill(local_input(tomorrow_at(10)))
    page.get_by_label("End", exact=True).fill(local_input(tomorrow_at(12)))
    models = page.get_by_role("group", name="Models")
    expect(models).to_contain_text("97.0 MiB")  # sizes from the catalog
    models.get_by_role("checkbox", name=HF, exact=True).check()
    page.get_by_role("group", name="Engines").get_by_role("checkbox", name="vllm").check()
    expect(page.get_by_text("Models: 97.0 MiB per node.")).to_be_visible()
    page.get_by_role("group", name="Stage on the nodes (optional)").scroll_into_view_if_needed()
    shoot(page, "book-stage")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_role("heading", name="Booked")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My reservations").click()
    card = page.get_by_role("article").filter(has_text="1 × mig-1g.24gb")
    expect(card).to_contain_text(f"vllm, {HF}")
    expect(card.get_by_role("status", name="Staging: waiting")).to_contain_text(
        "downloads expected to begin by"
    )

    _report(node, _hf("downloading", HF_SIZE * 63 // 100 + 1))
    page.reload()
    status = card.get_by_role("status", name="Staging: staging 63%")
    expect(status).to_be_visible()
    expect(status.get_by_role("progressbar")).to_have_attribute("value", "63")
    shoot(page, "reservation-staging")

    # while bytes move the page polls faster; the next report shows without a reload
    _report(node, _hf("ready", HF_SIZE))
    expect(card.get_by_role("status", name="Staging: staged")).to_be_visible()

    _report(node, _hf("failed", 0, reason="integrity-mismatch", detail="model.safetensors: sha256"))
    page.reload()
    failed = card.get_by_role("status", name="Staging: failed: integrity-mismatch")
    expect(failed).to_contain_text(f"{HF} on {NODE} — model.safetensors: sha256")
    node.close()


def test_the_admin_cache_tab_shows_each_node_per_model(
    page: Page,
    server: str,
    db: Database,
    make_user: Callable[..., str],
    api_as: Callable[[str], httpx.Client],
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("root", "admin")
    make_user("alice")
    alice = api_as("alice")
    start, end = tomorrow_at(9), tomorrow_at(11)
    r = alice.post(
        "/api/v1/reservations",
        json={
            "pool": "c845a",
            "start": start.astimezone(UTC).isoformat(),
            "end": end.astimezone(UTC).isoformat(),
            "gpu": {"kind": "gpu", "count": 1},
            "stage": {"engines": ["vllm", "ollama"], "models": [HF, "demo-ollama-tiny"]},
        },
    )
    assert r.status_code == 201, r.text
    node = _node_client(db, server)
    _report(
        node,
        _hf("ready", HF_SIZE),
        {
            "model": "demo-ollama-tiny",
            "state": "downloading",
            "size_bytes": 50333184,
            "downloaded_bytes": 50333184 * 41 // 100 + 1,
        },
        {
            "model": "demo-triton-tiny",
            "state": "failed",
            "size_bytes": 4096,
            "downloaded_bytes": 0,
            "reason": "source-unavailable",
            "detail": "every source answered 503",
        },
    )
    node.close()
    sign_in(page, server, "root")
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("tab", name="Cache").click()
    panel = page.get_by_role("tabpanel")
    card = panel.get_by_role("article").filter(has_text=NODE)
    expect(card).to_contain_text("pools: c845a")
    expect(card).to_contain_text("bandwidth 112.5 MiB/s")
    expect(card.get_by_role("progressbar", name=f"Disk used on {NODE}")).to_be_visible()
    rows = card.locator("tbody tr")
    expect(rows.filter(has_text="demo-ollama-tiny")).to_contain_text("41%")
    expect(rows.filter(has_text="demo-ollama-tiny")).to_contain_text("yes")
    expect(rows.filter(has_text="demo-triton-tiny")).to_contain_text(
        "source-unavailable: every source answered 503"
    )
    shoot(page, "admin-cache")
    # and at tablet width it does not scroll sideways
    page.set_viewport_size(TABLET)
    expect(card).to_be_visible()
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the Cache tab scrolls sideways by {overflow}px at tablet width"
