"""The real cache agent (a `berth cache-agent` process) against the real portal and PostgreSQL:
a booking with a stage is staged on the node, and its owner sees it staged. Needs the agent
(branch `agent`); skipped where it is not built in."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from berth.catalog import load_catalog_file
from berth.domain.catalog import HttpSource
from berth.store import cache, catalog, users
from berth.store.db import Database
from tests.conftest import eventually

demo = pytest.importorskip("berth.cache.demo")
if not hasattr(demo, "demo_server"):
    pytest.skip("the cache agent is not in this build", allow_module_level=True)

NODE = "ucs-c845a-01"
HF = "demo-hf-tiny"


def test_the_agent_stages_a_booking_and_its_owner_sees_it_staged(
    db: Database, server: str, tmp_path: Path
) -> None:
    demo_catalog = load_catalog_file()
    source = demo.demo_server(demo_catalog, port=0)
    threading.Thread(
        target=source.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    ).start()
    url = f"http://127.0.0.1:{source.server_address[1]}"
    moved = dataclasses.replace(
        demo_catalog,
        models=tuple(
            dataclasses.replace(m, sources=(HttpSource(f"{url}/{m.id}"),))
            for m in demo_catalog.models
        ),
    )
    now = datetime.now(UTC)
    with db.transaction() as tx:
        catalog.sync(tx, moved)
        users.create(tx, "alice", "pw-alice-long-enough", "user", actor="test")
        secret, _ = cache.issue_credential(tx, NODE, now, actor="test")
    token = tmp_path / "node.token"
    token.write_text(secret)
    with httpx.Client(base_url=server, timeout=30) as alice:
        login = alice.post(
            "/api/v1/auth/login", json={"username": "alice", "password": "pw-alice-long-enough"}
        )
        assert login.status_code == 200
        alice.cookies.clear()
        alice.headers["Authorization"] = f"Bearer {login.json()['token']}"
        start = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        r = alice.post(
            "/api/v1/reservations",
            json={
                "pool": "c845a",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "gpu": {"kind": "gpu", "count": 1},
                "stage": {"engines": ["vllm"], "models": [HF]},
            },
        )
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        agent = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from berth.cli import app; app()",
                "cache-agent",
                "--node",
                NODE,
                "--root",
                str(tmp_path / "root"),
                "--api",
                server,
                "--token-file",
                str(token),
                "--capacity",
                "1Gi",
                "--no-provision",
                "--no-bind-mount",
                "--poll",
                "0.2",
                "--report-every",
                "0.2",
            ],
            env={**os.environ},
        )

        def staged() -> None:
            s = alice.get(f"/api/v1/reservations/{rid}").json()["staging"]
            if s["state"] == "failed" or agent.poll() is not None:
                raise RuntimeError(f"staging failed or the agent exited: {s}")
            assert s["state"] == "staged", s

        try:
            eventually(staged, timeout=120)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(60)
            source.shutdown()
            source.server_close()
    published = tmp_path / "root" / "cache" / "models" / HF
    assert sorted(p.name for p in published.iterdir()) == [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    ]
