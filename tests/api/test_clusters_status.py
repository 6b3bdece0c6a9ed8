"""The portal shows each pool's cluster, and each cluster's reconciler in /status: a cluster
that cannot be reached is `failing` with its waiting sessions while the others run."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from berth.config import load_pool_text
from berth.domain.policy import BookingPolicy
from berth.domain.reservation import Mode, Request
from berth.store import heartbeats, pools, reservations, users
from berth.store.db import Database
from berth.store.models import PoolRow
from tests.api.conftest import Headers

POOLS = """
clusters:
  - {name: east, kubeconfig: /k/east}
  - {name: west, kubeconfig: /k/west}
pools:
  - name: pe
    cluster: east
    nodes: [{name: pe-1, cpu: 8, memory: 64Gi, storage_class: local, gpus: [{index: 0, model: L40S, memory: 48Gi}]}]
  - name: pw
    cluster: west
    nodes: [{name: pw-1, cpu: 8, memory: 64Gi, storage_class: local, gpus: [{index: 0, model: L40S, memory: 48Gi}, {index: 1, model: L40S, memory: 48Gi}]}]
"""


def test_the_pool_listing_names_each_pools_cluster(
    client: TestClient, alice: Headers, db: Database
) -> None:
    with db.transaction() as tx:
        pools.sync(tx, load_pool_text(POOLS))
    listed = {p["name"]: p["cluster"] for p in client.get("/api/v1/pools", headers=alice).json()}
    assert listed == {"c845a": "default", "pe": "east", "pw": "west"}


def test_status_shows_each_cluster_and_the_one_that_fails(
    client: TestClient, alice: Headers, db: Database, now: datetime
) -> None:
    with db.transaction() as tx:
        pools.sync(tx, load_pool_text(POOLS))
        who = users.principal(users.create(tx, "ops", "pw-ops-long-enough", "admin", actor="t"))
        for pool, start in (("pw", now), ("pw", now), ("pe", now + timedelta(hours=1))):
            end = start + timedelta(hours=1)
            req = Request(
                pool, end - timedelta(hours=1), end, "gpu", 1, Mode.INFERENCE, 1000, 2**30
            )
            reservations.book(tx, who, req, BookingPolicy(max_concurrent_per_user=9), now)
        heartbeats.beat(
            tx,
            heartbeats.reconciler_component("default"),
            now - timedelta(seconds=3),
            {"interval_seconds": 30, "sessions": {"ready": 1}},
        )
        heartbeats.beat(
            tx,
            heartbeats.reconciler_component("east"),
            now - timedelta(seconds=2),
            {"interval_seconds": 30, "sessions": {"ready": 2, "provisioning": 1}},
        )
        heartbeats.beat(
            tx,
            heartbeats.reconciler_component("west"),
            now - timedelta(seconds=1),
            {
                "interval_seconds": 30,
                "error": "cluster unavailable: GET /api/v1/namespaces: ReadTimeoutError",
                "sessions": {"provisioning": 3},
            },
        )
    body = client.get("/api/v1/status", headers=alice).json()
    seen = {c["name"]: (c["state"], c["pools"], c["waiting"]) for c in body["clusters"]}
    assert seen == {
        "default": ("running", ["c845a"], 0),
        "east": ("running", ["pe"], 0),
        "west": ("failing", ["pw"], 2),  # both windows are open, neither workspace is ready
    }
    assert body["reconciler"]["state"] == "running"  # the default cluster's, as before
    west = next(c for c in body["clusters"] if c["name"] == "west")
    assert "ReadTimeoutError" in west["details"]["error"]


def test_with_no_pool_on_default_the_summary_is_the_worst_cluster(
    client: TestClient, alice: Headers, db: Database, now: datetime
) -> None:
    with db.transaction() as tx:
        tx.execute(update(PoolRow).values(cluster="east"))  # the demo pool moved to east
        heartbeats.beat(tx, heartbeats.reconciler_component("east"), now, {"interval_seconds": 30})
        pools.sync(tx, load_pool_text(POOLS))
    body = client.get("/api/v1/status", headers=alice).json()
    states = {c["name"]: c["state"] for c in body["clusters"]}
    assert states == {"east": "running", "west": "never seen"}
    assert body["reconciler"]["state"] == "never seen"
