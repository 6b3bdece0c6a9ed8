"""A small HTTP server of artifact files with Range support and an optional rate limit.

`berth cache demo-source` serves the demo catalog's synthetic files with it (so `make run`
stages without a network); the tests subclass its handler to misbehave (drop the connection,
corrupt bytes, ignore Range) and the bench serves a 5 GB derived file. Files are `Blob`s:
anything with a size and a way to read a byte range, so nothing large has to sit in memory.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import unquote, urlsplit

CHUNK = 1 << 20
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class Blob(Protocol):
    @property
    def size(self) -> int: ...
    def read(self, offset: int, length: int) -> bytes: ...


@dataclass(frozen=True)
class BytesBlob:
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def read(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length]


@dataclass(frozen=True)
class DerivedBlob:
    """`size` bytes derived from a 1 MiB block: block i is the block with its first 8 bytes
    replaced by i, so every block differs and nothing but the block is kept in memory."""

    block: bytes
    size: int

    def read(self, offset: int, length: int) -> bytes:
        out = bytearray()
        end = min(self.size, offset + length)
        n = len(self.block)
        while offset < end:
            i, within = divmod(offset, n)
            block = i.to_bytes(8, "big") + self.block[8:]
            piece = block[within : min(n, within + end - offset)]
            out += piece
            offset += len(piece)
        return bytes(out)


Lookup = Callable[[str], Blob | None]  # URL path (unquoted, no leading /) → the file


class ArtifactHandler(BaseHTTPRequestHandler):
    """GET and HEAD of `lookup(path)`, whole (200) or one byte range (206)."""

    server: ArtifactHttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, *, body: bool) -> None:
        path = unquote(urlsplit(self.path).path).lstrip("/")
        wanted = self.headers.get("Range")
        self.server.note(path, wanted)
        blob = self.server.lookup(path)
        if blob is None:
            self.send_error(404)
            return
        start, end = 0, blob.size
        status = 200
        if wanted and self.honours_range():
            m = _RANGE.match(wanted.strip())
            if m is None or (int(m[1]) >= blob.size and blob.size > 0):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{blob.size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = int(m[1])
            end = min(blob.size, int(m[2]) + 1) if m[2] else blob.size
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        self.send_header("Accept-Ranges", "bytes" if self.honours_range() else "none")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{blob.size}")
        self.end_headers()
        if body:
            self.send_body(path, blob, start, end)

    # --- what a misbehaving subclass changes ------------------------------------------

    def honours_range(self) -> bool:
        return True

    def send_body(self, path: str, blob: Blob, start: int, end: int) -> None:
        rate = self.server.rate
        began = time.monotonic()
        sent = 0
        offset = start
        while offset < end:
            piece = self.transform(path, offset, blob.read(offset, min(self.chunk(), end - offset)))
            self.wfile.write(piece)
            self.server.count(path, len(piece))
            offset += len(piece)
            sent += len(piece)
            if rate:
                ahead = sent / rate - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)

    def chunk(self) -> int:
        return CHUNK if not self.server.rate else max(1024, min(CHUNK, int(self.server.rate / 20)))

    def transform(self, path: str, offset: int, data: bytes) -> bytes:
        return data


class ArtifactHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        lookup: Lookup,
        *,
        rate: float | None = None,
        handler: type[ArtifactHandler] = ArtifactHandler,
    ) -> None:
        super().__init__(address, handler)
        self.lookup = lookup
        self.rate = rate
        self.sent: dict[str, int] = {}  # body bytes sent per path
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self._lock = threading.Lock()

    def count(self, path: str, n: int) -> None:
        with self._lock:
            self.sent[path] = self.sent.get(path, 0) + n

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away mid-body is normal here (resume, stop, kill)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    def note(self, path: str, wanted: str | None) -> None:
        with self._lock:
            self.requests.append((path, wanted))

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"
