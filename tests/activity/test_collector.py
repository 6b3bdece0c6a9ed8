"""The activity collector against a real Prometheus scraping the stand-in DCGM exporter."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from berth.domain.session import namespace_name
from berth.reconciler.activity import ActivityCollector
from berth.reconciler.prometheus import Prometheus, PrometheusError
from berth.store import heartbeats
from berth.store.db import Database
from berth.store.models import SessionActivity
from tests.activity.conftest import ready_session
from tests.dcgm_standin import GpuPod, StandInDcgmExporter
from tests.prometheus_server import free_port, wait_for_series

INTERVAL = timedelta(seconds=2)


def _rows(db: Database, rid: uuid.UUID) -> list[SessionActivity]:
    with db.transaction() as tx:
        q = select(SessionActivity).where(SessionActivity.reservation_id == rid)
        rows = list(tx.scalars(q.order_by(SessionActivity.at)))
        tx.expunge_all()
    return rows


@pytest.fixture
def busy_tokens(standin: StandInDcgmExporter) -> Iterator[list[str]]:
    """Namespaces whose engine counts tokens all along (a thread bumps their counters)."""
    namespaces: list[str] = []
    stop = threading.Event()

    def bump() -> None:
        while not stop.wait(0.2):
            for ns in namespaces:
                standin.count_tokens(ns, 40, 10)

    t = threading.Thread(target=bump, daemon=True)
    t.start()
    yield namespaces
    stop.set()
    t.join()


def test_one_sample_per_session_from_three_queries_and_null_where_nothing_answered(
    db: Database, standin: StandInDcgmExporter, prometheus: str, busy_tokens: list[str]
) -> None:
    busy, mig, bare = (ready_session(db) for _ in range(3))
    standin.add_pod(GpuPod(namespace_name(busy), "workspace-a", "code-server", "node-1"))
    standin.add_pod(
        GpuPod(namespace_name(mig), "train-b", "train", "node-1", gpus=2, mig_profile="1g.24gb")
    )
    standin.script(namespace_name(busy), 0.62)
    busy_tokens.append(namespace_name(busy))
    # `bare` has no GPU pod: the exporter says nothing of it
    wait_for_series(prometheus, 'vllm:prompt_tokens_total{namespace!=""}')
    time.sleep(INTERVAL.total_seconds() + 1)  # a whole window of scrapes

    collector = ActivityCollector(db, Prometheus(prometheus), INTERVAL)
    outcome = collector.tick(datetime.now(UTC))
    assert (outcome.sessions, outcome.rows, outcome.error) == (3, 3, None)
    (b,), (m,), (n,) = _rows(db, busy), _rows(db, mig), _rows(db, bare)
    assert b.gpu_active == pytest.approx(0.62)
    assert b.tokens_prompt is not None
    assert b.tokens_prompt > 0
    assert b.tokens_generated is not None
    assert b.tokens_generated > 0
    assert (m.gpu_active, m.tokens_prompt) == (0.0, None)  # both slices measured idle
    assert (n.gpu_active, n.tokens_prompt, n.tokens_generated) == (None, None, None)
    assert b.seconds == m.seconds == n.seconds == 2
    with db.transaction() as tx:
        beat = {h.component: h for h in heartbeats.all_beats(tx)}["activity"]
        assert beat.details["prometheus"] == prometheus
        assert beat.details["rows"] == 3


def test_an_exporter_that_stops_answering_leaves_null_never_zero(
    db: Database, standin: StandInDcgmExporter, prometheus: str
) -> None:
    rid = ready_session(db)
    standin.add_pod(GpuPod(namespace_name(rid), "workspace-a", "code-server", "node-1"))
    wait_for_series(prometheus, "DCGM_FI_PROF_GR_ENGINE_ACTIVE")
    collector = ActivityCollector(db, Prometheus(prometheus), INTERVAL)
    collector.tick(datetime.now(UTC))
    standin.stop()  # its series go stale at the next failed scrape
    time.sleep(INTERVAL.total_seconds() + 2)
    collector.tick(datetime.now(UTC))
    first, second = _rows(db, rid)
    assert first.gpu_active == 0.0
    assert second.gpu_active is None


def test_prometheus_down_writes_no_rows_and_says_so(db: Database) -> None:
    rid = ready_session(db)
    down = Prometheus(f"http://127.0.0.1:{free_port()}", timeout=1)
    outcome = ActivityCollector(db, down, INTERVAL).tick(datetime.now(UTC))
    assert outcome.rows == 0
    assert outcome.error is not None
    assert "ConnectError" in outcome.error
    assert _rows(db, rid) == []
    with db.transaction() as tx:
        beat = {h.component: h for h in heartbeats.all_beats(tx)}["activity"]
        assert "ConnectError" in beat.details["error"]


def test_without_a_prometheus_url_nothing_is_measured_and_status_says_off(db: Database) -> None:
    ready_session(db)
    collector = ActivityCollector(db, None, INTERVAL)
    assert collector.start_if_due(datetime.now(UTC)) is False
    with db.transaction() as tx:
        beat = {h.component: h for h in heartbeats.all_beats(tx)}["activity"]
        assert beat.details["prometheus"] is None
        assert tx.scalar(select(SessionActivity.at)) is None


class _Guarded(BaseHTTPRequestHandler):
    """A Prometheus API behind a bearer token, as OpenShift's thanos-querier is."""

    token = "first"

    def do_POST(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b"Unauthorized")
            return
        body = b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"exported_namespace":"berth-x"},"value":[1,"0.5"]}]}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_token_is_read_from_its_file_at_every_query(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Guarded)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        token = tmp_path / "token"
        token.write_text("first\n")
        client = Prometheus(url, token_file=token)
        (series,) = client.query("up", datetime.now(UTC))
        assert (series.labels, series.value) == ({"exported_namespace": "berth-x"}, 0.5)
        _Guarded.token = "rotated"  # the ServiceAccount token was rotated
        with pytest.raises(PrometheusError, match="401"):
            client.query("up", datetime.now(UTC))
        token.write_text("rotated")
        assert client.query("up", datetime.now(UTC))
        with pytest.raises(PrometheusError, match="cannot read the token file"):
            Prometheus(url, token_file=tmp_path / "missing").query("up", datetime.now(UTC))
        with pytest.raises(PrometheusError, match="401"):
            Prometheus(url).query("up", datetime.now(UTC))
    finally:
        server.shutdown()
        server.server_close()
