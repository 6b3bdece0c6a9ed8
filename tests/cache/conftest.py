"""Real HTTP artifact servers on loopback for the cache agent's tests, and models of random
bytes they serve. Each server counts the body bytes it sent per path, and the requests (with
their Range header), so tests can say what was fetched twice and what was not."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from berth.cache.artifact_server import ArtifactHandler, ArtifactHttpServer, Blob, BytesBlob
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
