"""Real HTTP artifact servers on loopback for the cache agent's tests, and models of random
bytes they serve. Each server counts the body bytes it sent per path, and the requests (with
their Range header), so tests can say what was fetched twice and what was not."""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from berth.cache.artifact_server import ArtifactHandler, ArtifactHttpServer, Blob, BytesBlob
from berth.domain.cache_protocol import Plan, StageItem, plan_to_json
from berth.domain.catalog import HttpSource, Model, ModelFile, ModelFormat


class DropsHandler(ArtifactHandler):
    """Closes the connection after `drop_after` body bytes of every response, `drops` times
    (then serves normally)."""

    def send_body(self, path: str, blob: Blob, start: int, end: int) -> None:
        srv = self.server
        with srv._lock:
            drop = srv.drops > 0  # type: ignore[attr-defined]
            if drop:
                srv.drops -= 1  # type: ignore[attr-defined]
        if not drop:
            super().send_body(path, blob, start, end)
            return
        cut = min(end, start + srv.drop_after)  # type: ignore[attr-defined]
        super().send_body(path, blob, start, cut)
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(2)


class CorruptHandler(ArtifactHandler):
    """Flips one byte of every file it serves (same size, wrong sha256)."""

    def transform(self, path: str, offset: int, data: bytes) -> bytes:
        if offset == 0 and data:
            return bytes([data[0] ^ 0xFF]) + data[1:]
        return data


class NoRangeHandler(ArtifactHandler):
    """Ignores Range: always the whole file with 200."""

    def honours_range(self) -> bool:
        return False


class SlowHandler(ArtifactHandler):
    """Small chunks, a pause after each (set `server.rate`), and a gate tests can close."""

    def send_body(self, path: str, blob: Blob, start: int, end: int) -> None:
        gate: threading.Event | None = getattr(self.server, "gate", None)
        if gate is not None:
            gate.wait(30)
        super().send_body(path, blob, start, end)


@dataclass
class Files:
    """What the servers serve: URL path → blob."""

    blobs: dict[str, Blob]

    def lookup(self, path: str) -> Blob | None:
        return self.blobs.get(path)

    def add_model(
        self, model_id: str, sizes: list[int], rng: random.Random, prefix: str = ""
    ) -> tuple[ModelFile, ...]:
        files = []
        for i, size in enumerate(sizes):
            data = rng.randbytes(size)
            path = f"{'sub/' if i % 2 else ''}f{i}.bin"
            self.blobs[f"{prefix}{model_id}/{path}"] = BytesBlob(data)
            files.append(ModelFile(path, size, hashlib.sha256(data).hexdigest()))
        return tuple(files)


def check_cache(root: Path, models: dict[str, Model]) -> None:
    """Every tree under cache/models is exactly its catalog entry: no partial tree, ever."""
    base = root / "cache" / "models"
    for tree in base.iterdir() if base.exists() else []:
        model = models[tree.name]
        found = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
        assert found == sorted(f.path for f in model.files), tree
        for f in model.files:
            data = (tree / f.path).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f.sha256


ServerFactory = Callable[..., ArtifactHttpServer]


@pytest.fixture
def files() -> Files:
    return Files({})


@pytest.fixture
def serve(files: Files) -> Iterator[ServerFactory]:
    """Start an artifact server on a free loopback port: `serve(handler=..., rate=...)`."""
    servers: list[ArtifactHttpServer] = []

    def start(
        handler: type[ArtifactHandler] = ArtifactHandler, rate: float | None = None
    ) -> ArtifactHttpServer:
        server = ArtifactHttpServer(("127.0.0.1", 0), files.lookup, rate=rate, handler=handler)
        server.drops = 0  # type: ignore[attr-defined]
        server.drop_after = 0  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def model_at(model_id: str, files: tuple[ModelFile, ...], *servers: ArtifactHttpServer) -> Model:
    return Model(
        id=model_id,
        format=ModelFormat.HUGGINGFACE,
        files=files,
        sources=tuple(HttpSource(f"{s.url}/{model_id}") for s in servers),
    )


T_START = "2026-01-01T00:00:00+00:00"  # in the past: every staged model is due


class StandInPortal:
    """A STAND-IN for the portal's two cache endpoints (the real API is the portal's and is
    tested there): serves `plan` (the same for every node it knows) to each node's bearer
    token, keeps every report it is sent. `add_node` knows one more node."""

    def __init__(self, node: str, token: str = "node-token") -> None:  # noqa: S107
        self.node = node
        self.token = token
        self.tokens = {node: token}
        self.plan: dict[str, object] = {"node": node, "stage": [], "keep": [], "models": []}
        self.reports: list[dict[str, object]] = []
        self.refused = 0
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _node(self, kind: str) -> str | None:
                m = re.fullmatch(rf"/api/v1/cache/nodes/([^/]+)/{kind}", self.path)
                node = m[1] if m else None
                if node is None or node not in portal.tokens:
                    self.send_error(404)
                    return None
                if self.headers.get("Authorization") != f"Bearer {portal.tokens[node]}":
                    portal.refused += 1
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                return node

            def do_GET(self) -> None:
                node = self._node("plan")
                if node is None:
                    return
                body = json.dumps({**portal.plan, "node": node}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:
                node = self._node("state")
                if node is None:
                    return
                body = self.rfile.read(int(self.headers["Content-Length"]))
                portal.reports.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add_node(self, node: str, token: str) -> None:
        self.tokens[node] = token

    def set_plan(
        self, stage: list[Model], keep: list[Model] | None = None, start: str = T_START
    ) -> None:
        keep = keep or []
        models = {m.id: m for m in [*stage, *keep]}
        self.plan = plan_to_json(
            Plan(
                node=self.node,
                stage=tuple(StageItem(m.id, datetime.fromisoformat(start)) for m in stage),
                keep=tuple(m.id for m in keep),
                models=tuple(models.values()),
            )
        )

    def last(self, node: str | None = None) -> dict[str, dict[str, object]]:
        """The models of the last report of `node` (default: the first node), by id."""
        node = node or self.node
        report = [r for r in self.reports if r["node"] == node][-1]
        return {m["model"]: m for m in report["models"]}  # type: ignore[attr-defined]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def portal() -> Iterator[StandInPortal]:
    p = StandInPortal("gpu-0")
    yield p
    p.close()
