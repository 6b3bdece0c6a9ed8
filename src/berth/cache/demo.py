"""Synthetic demo artifacts: deterministic bytes for the demo catalog's models.

The demo catalog (`berth/pools/catalog.yaml`) lists three small *synthetic* models, one per
format, so that staging can be watched end to end on `make run` without a network: their files
are not weights, only bytes derived from their names (SHAKE-256 of `berth-demo:<model>/<path>`),
so their sizes and sha256 in the catalog are true and checkable. `berth cache demo-source`
serves them over HTTP (with Range, and an optional rate limit so progress is visible).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from berth.cache.artifact_server import ArtifactHttpServer
from berth.domain.catalog import Catalog, HttpSource


def demo_bytes(model: str, path: str, size: int) -> bytes:
    """The content of a demo file: the first `size` bytes of SHAKE-256 of its name."""
    return hashlib.shake_256(f"berth-demo:{model}/{path}".encode()).digest(size)


def demo_files(catalog: Catalog) -> dict[str, DemoBlob]:
    """URL path (`<model>/<file path>`) → the demo file, for every model whose sources are on
    loopback (the synthetic ones)."""
    return {
        f"{m.id}/{f.path}": DemoBlob(m.id, f.path, f.size)
        for m in catalog.models
        if any(isinstance(s, HttpSource) and "127.0.0.1" in s.url for s in m.sources)
        for f in m.files
    }


@dataclass(frozen=True)
class DemoBlob:
    """A demo file, made on first read and kept (the demo's files total ~185 MB)."""

    model: str
    path: str
    size: int

    def read(self, offset: int, length: int) -> bytes:
        return _content(self.model, self.path, self.size)[offset : offset + length]


@functools.cache
def _content(model: str, path: str, size: int) -> bytes:
    return demo_bytes(model, path, size)


def demo_server(
    catalog: Catalog, port: int = 8089, rate: float | None = None, host: str = "127.0.0.1"
) -> ArtifactHttpServer:
    """`berth cache demo-source`: the demo files at `http://127.0.0.1:<port>/<model>/<path>`,
    with Range, optionally at most `rate` bytes/s per response (so progress is visible)."""
    blobs = demo_files(catalog)
    return ArtifactHttpServer((host, port), blobs.get, rate=rate)
