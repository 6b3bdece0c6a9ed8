"""Downloading one model file: HTTP(S) with Range resume, streaming sha256 and size checks,
per-source retries with backoff, then the next source; S3-compatible sources signed with AWS
Signature Version 4 when credentials are in the environment.

A file streams into `partial/<path>` of the model's staging tree (`berth.cache.store`). An
interrupted transfer (the connection dropped, the agent killed) resumes with
`Range: bytes=<have>-`; the bytes already on disk are hashed again locally, never fetched again.
A server that ignores Range (answers 200) restarts the file. A complete file whose sha256 or
size is wrong is discarded; if it had been resumed it is fetched once more from zero from the
same source (the corruption may be local), else the next source is tried. When every source
failed the error is `integrity-mismatch` if one of them served wrong bytes, else
`source-unavailable`, with a one-line detail.

The HTTP client honours the platform's proxy settings (`HTTP_PROXY`, `HTTPS_PROXY`,
`NO_PROXY`, and `SSL_CERT_FILE` for a corporate CA): `httpx` with `trust_env`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import quote, urlsplit

import httpx

from berth.domain.catalog import FailureReason, HttpSource, ModelFile, S3Source, Source

CHUNK = 1 << 20
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class FetchError(Exception):
    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class Stopped(Exception):
    """The agent is stopping: the partial file stays for the next start."""


class _Corrupt(Exception):
    def __init__(self, detail: str, *, resumed: bool = False) -> None:
        super().__init__(detail)
        self.resumed = resumed


class _Unavailable(Exception):
    def __init__(self, detail: str, *, retry: bool = True) -> None:
        super().__init__(detail)
        self.retry = retry


# --- where a file is, and how to ask for it ---------------------------------------------


def file_url(source: Source, path: str) -> str:
    quoted = quote(path, safe="/~")
    if isinstance(source, HttpSource):
        return f"{source.url.rstrip('/')}/{quoted}"
    prefix = quote(source.prefix, safe="/~")
    return f"{source.endpoint.rstrip('/')}/{quote(source.bucket)}/{prefix}{quoted}"


def sigv4_headers(
    url: str,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    session_token: str | None = None,
    now: dt.datetime | None = None,
    service: str = "s3",
) -> dict[str, str]:
    """AWS Signature Version 4 headers for a GET of `url` (no query, empty body)."""
    now = now or dt.datetime.now(dt.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    parts = urlsplit(url)
    host = parts.netloc
    headers = {"host": host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": amz_date}
    if session_token:
        headers["x-amz-security-token"] = session_token
    names = sorted(headers)
    canonical = "\n".join(
        [
            "GET",
            parts.path or "/",
            parts.query,
            "".join(f"{n}:{headers[n].strip()}\n" for n in names),
            ";".join(names),
            EMPTY_SHA256,
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    del headers["host"]  # httpx sends it
    return headers


def source_headers(source: Source, url: str, env: Mapping[str, str]) -> dict[str, str]:
    if isinstance(source, S3Source) and env.get("AWS_ACCESS_KEY_ID"):
        return sigv4_headers(
            url,
            access_key=env["AWS_ACCESS_KEY_ID"],
            secret_key=env.get("AWS_SECRET_ACCESS_KEY", ""),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            session_token=env.get("AWS_SESSION_TOKEN"),
        )
    return {}


def source_name(source: Source) -> str:
    if isinstance(source, HttpSource):
        return source.url
    return f"s3 {source.endpoint}/{source.bucket}/{source.prefix}"


# --- bandwidth ----------------------------------------------------------------------------


@dataclass
class Meter:
    """Bytes received and seconds spent receiving them, for the node's measured bandwidth."""

    bytes: int = 0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, n: int, seconds: float) -> None:
        with self.lock:
            self.bytes += n
            self.seconds += seconds

    def rate(self) -> float | None:
        with self.lock:
            return self.bytes / self.seconds if self.seconds > 0 and self.bytes > 0 else None


# --- the downloader -----------------------------------------------------------------------


def _sha256_of(path: Path) -> tuple[hashlib._Hash, int]:
    h = hashlib.sha256()
    n = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h, n


class _Sink:
    """Writes and hashes the body in a thread of its own, so that receiving, writing and
    hashing overlap (hashlib and file writes release the GIL). Small network reads are
    gathered into `CHUNK`-sized pieces first."""

    def __init__(self, out: BinaryIO, h: hashlib._Hash) -> None:
        self.out = out
        self.h = h
        self.buffer = bytearray()
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="sink", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (data := self.queue.get()) is not None:
            if self.error is not None:
                continue
            try:
                self.out.write(data)
                self.h.update(data)
            except BaseException as exc:  # re-raised by close()
                self.error = exc

    def put(self, chunk: bytes) -> None:
        self.buffer += chunk
        if len(self.buffer) >= CHUNK:
            self.queue.put(bytes(self.buffer))
            self.buffer.clear()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        if self.buffer:
            self.queue.put(bytes(self.buffer))
            self.buffer.clear()
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


@dataclass
class Fetcher:
    client: httpx.Client
    attempts: int = 3  # per source
    backoff: float = 0.5  # seconds, doubled after each failed attempt
    sleep: Callable[[float], None] = time.sleep
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    meter: Meter = field(default_factory=Meter)
    timeout: float = 30.0

    def fetch(
        self,
        sources: tuple[Source, ...],
        f: ModelFile,
        partial: Path,
        final: Path,
        *,
        stop: threading.Event,
        progress: Callable[[int], None] = lambda _n: None,
    ) -> None:
        """Make `final` the verified file `f`, from the first source that serves it right."""
        if final.is_file() and final.stat().st_size == f.size:
            return  # complete, hashed and fsynced before it was renamed there
        partial.parent.mkdir(parents=True, exist_ok=True)
        corrupt: list[str] = []
        unavailable: list[str] = []
        for source in sources:
            try:
                self._from_source(source, f, partial, stop, progress)
            except _Corrupt as exc:
                corrupt.append(f"{source_name(source)}: {exc}")
                continue
            except _Unavailable as exc:
                unavailable.append(f"{source_name(source)}: {exc}")
                continue
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, final)
            return
        if corrupt:
            raise FetchError(FailureReason.INTEGRITY_MISMATCH, f"{f.path}: " + "; ".join(corrupt))
        raise FetchError(FailureReason.SOURCE_UNAVAILABLE, f"{f.path}: " + "; ".join(unavailable))

    def _from_source(
        self,
        source: Source,
        f: ModelFile,
        partial: Path,
        stop: threading.Event,
        progress: Callable[[int], None],
    ) -> None:
        url = file_url(source, f.path)
        delay = self.backoff
        restarted = False
        last = "no attempt"
        for attempt in range(self.attempts):
            if attempt:
                if stop.wait(delay):
                    raise Stopped
                delay *= 2
            try:
                self._attempt(source, url, f, partial, stop, progress)
                return
            except _Corrupt as exc:
                if exc.resumed and not restarted:
                    restarted = True  # maybe our own partial bytes were bad: once from zero
                    partial.unlink(missing_ok=True)
                    last = str(exc)
                    continue
                partial.unlink(missing_ok=True)
                raise
            except _Unavailable as exc:
                last = str(exc)
                if not exc.retry:
                    break
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise _Unavailable(f"{last} (after {attempt + 1} attempt(s))")

    def _attempt(
        self,
        source: Source,
        url: str,
        f: ModelFile,
        partial: Path,
        stop: threading.Event,
        progress: Callable[[int], None],
    ) -> None:
        have = partial.stat().st_size if partial.exists() else 0
        if have > f.size:
            partial.unlink()
            have = 0
        headers = source_headers(source, url, self.env)
        if have:
            headers["range"] = f"bytes={have}-"
        resumed = have > 0
        if have == f.size and partial.exists():
            h, _n = _sha256_of(partial)
            self._check(h.hexdigest(), f, resumed=True)
            return
        with self.client.stream("GET", url, headers=headers, timeout=self.timeout) as response:
            status = response.status_code
            if status == 416 or (status == 200 and have):
                have = 0  # the server ignores Range (or refuses ours): the whole file again
                resumed = False
                if status == 416:
                    partial.unlink(missing_ok=True)
                    raise _Unavailable("416 for our Range: restarting the file")
            elif status == 206:
                start = _content_range_start(response.headers.get("content-range", ""))
                if start != have:
                    partial.unlink(missing_ok=True)
                    raise _Unavailable(f"206 from byte {start}, asked {have}: restarting")
            elif status in (404, 403, 401, 410, 400):
                raise _Unavailable(f"HTTP {status}", retry=False)
            elif status != 200:
                raise _Unavailable(f"HTTP {status}")
            mode: Literal["ab", "wb"]
            if have:
                h, _n = _sha256_of(partial)
                mode = "ab"
            else:
                h = hashlib.sha256()
                mode = "wb"
            received = have
            with partial.open(mode) as out:
                sink = _Sink(out, h)
                began = time.monotonic()
                got = 0
                try:
                    for chunk in response.iter_bytes():
                        if stop.is_set():
                            raise Stopped
                        received += len(chunk)
                        if received > f.size:
                            break
                        sink.put(chunk)
                        got += len(chunk)
                        progress(len(chunk))
                finally:
                    # whatever arrived is written before anything else happens (a dropped
                    # connection resumes from it)
                    sink.close()
                    self.meter.add(got, time.monotonic() - began)
                out.flush()
                os.fsync(out.fileno())
        if received < f.size:
            raise _Unavailable(f"the body ended at byte {received} of {f.size}")
        if received > f.size:
            partial.unlink(missing_ok=True)
            raise _Corrupt(f"more than the catalog's {f.size} bytes")
        self._check(h.hexdigest(), f, resumed=resumed)

    @staticmethod
    def _check(digest: str, f: ModelFile, *, resumed: bool) -> None:
        if digest != f.sha256:
            raise _Corrupt(f"sha256 {digest[:12]}… expected {f.sha256[:12]}…", resumed=resumed)


def _content_range_start(value: str) -> int | None:
    # "bytes 100-199/200"
    try:
        unit, rest = value.split(" ", 1)
        return int(rest.split("-", 1)[0]) if unit == "bytes" else None
    except ValueError:
        return None
