"""Several clusters in the portal: the pool picker and the availability page name each pool's
cluster; the admin's Health tab lists the clusters and the one that cannot be reached."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from berth.config import load_pool_text
from berth.store import heartbeats, pools
from berth.store.db import Database
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e

EAST = """
clusters:
  - {name: east, kubeconfig: /etc/berth-clusters/east}
pools:
  - name: east-l40s
    cluster: east
    nodes: [{name: east-1, cpu: 8, memory: 64Gi, storage_class: local, gpus: [{index: 0, model: L40S, memory: 48Gi}]}]
"""


def test_the_portal_names_each_pools_cluster_and_the_cluster_that_fails(
    page: Page,
    server: str,
    db: Database,
    make_user: Callable[..., str],
    shoot: Callable[[Page, str], None],
) -> None:
    make_user("root", "admin")
    now = datetime.now(UTC)
    with db.transaction() as tx:
        pools.sync(tx, load_pool_text(EAST))
        heartbeats.beat(tx, heartbeats.reconciler_component("default"), now, {"sessions": {}})
        heartbeats.beat(
            tx,
            heartbeats.reconciler_component("east"),
            now,
            {"error": "cluster unavailable: GET /api/v1/namespaces: ReadTimeoutError"},
        )
    sign_in(page, server, "root")
    page.get_by_role("link", name="Availability").click()
    picker = page.get_by_label("Pool", exact=True)
    expect(picker.locator("option")).to_have_text(
        ["c845a (cluster default)", "east-l40s (cluster east)"]
    )
    picker.select_option("east-l40s")
    expect(page.get_by_text("Pool east-l40s is on cluster east.")).to_be_visible()

    page.get_by_role("link", name="Admin").click()
    page.get_by_role("tab", name="Health").click()
    table = page.get_by_role("table", name="Each cluster's reconciler")
    east = table.get_by_role("row").filter(has_text="east-l40s")
    expect(east).to_contain_text("failing")
    expect(east).to_contain_text("ReadTimeoutError")
    expect(table.get_by_role("row").filter(has_text="c845a")).to_contain_text("running")
    shoot(page, "admin-clusters")
