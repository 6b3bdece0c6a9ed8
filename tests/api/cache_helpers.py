"""Shared by the cache API tests: a two-node pool, node credentials, report bodies."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from berth.config import load_pool_file
from berth.domain.pool import Pool
from berth.store import cache, pools
from berth.store.db import Database

NODE = "ucs-c845a-01"  # the demo pool's node
DUO = ("duo-01", "duo-02")
HF = "demo-hf-tiny"
HF_SIZE = 2048 + 1048576 + 100663296  # the demo catalog's three files


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def duo_pool(nodes: tuple[str, ...] = DUO) -> Pool:
    """The demo pool's shape under another name, on `nodes`."""
    demo = load_pool_file()[0]
    return dataclasses.replace(
        demo, name="duo", nodes=tuple(dataclasses.replace(demo.nodes[0], name=n) for n in nodes)
    )


def add_duo(db: Database, nodes: tuple[str, ...] = DUO) -> None:
    with db.transaction() as tx:
        pools.sync(tx, [duo_pool(nodes)])


def credential(
    db: Database, node: str, now: datetime, expires_at: datetime | None = None
) -> dict[str, str]:
    with db.transaction() as tx:
        secret, _ = cache.issue_credential(tx, node, now, actor="test", expires_at=expires_at)
    return {"Authorization": f"Bearer {secret}"}


def booking(
    now: datetime,
    start_h: float,
    end_h: float,
    *,
    pool: str = "c845a",
    models: tuple[str, ...] = (HF,),
    engines: tuple[str, ...] = ("vllm",),
) -> dict[str, Any]:
    return {
        "pool": pool,
        "start": iso(now + timedelta(hours=start_h)),
        "end": iso(now + timedelta(hours=end_h)),
        "gpu": {"kind": "mig-1g.24gb", "count": 1},
        "stage": {"engines": list(engines), "models": list(models)},
    }


def model_state(
    model: str = HF, state: str = "downloading", downloaded: int = 0, **kw: Any
) -> dict[str, Any]:
    return {
        "model": model,
        "state": state,
        "size_bytes": HF_SIZE,
        "downloaded_bytes": downloaded,
        **kw,
    }


def report(node: str, *models: dict[str, Any], bandwidth: float | None = None) -> dict[str, Any]:
    """A node's report as the agent writes it (`cache_protocol.report_to_json`'s fields)."""
    return {
        "node": node,
        "reported_at": "2030-01-07T09:00:00+00:00",
        "capacity_bytes": 10 * 2**30,
        "used_bytes": sum(m["downloaded_bytes"] for m in models),
        "reserved_bytes": 0,
        "high_watermark_bytes": 9 * 2**30,
        "low_watermark_bytes": 8 * 2**30,
        "bandwidth_bytes_per_second": bandwidth,
        "models": list(models),
    }
