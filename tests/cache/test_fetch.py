"""The downloader against real loopback servers: Range resume (bytes counted at the server),
a source that drops the connection, corrupted bytes, a server that ignores Range, a missing
source, S3 signing, the proxy settings."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import threading
from pathlib import Path

import httpx
import pytest

from berth.cache.artifact_server import ArtifactHttpServer
from berth.cache.fetch import Fetcher, FetchError, Stopped, file_url, sigv4_headers
from berth.domain.catalog import FailureReason, HttpSource, ModelFile, S3Source

from .conftest import CorruptHandler, DropsHandler, Files, NoRangeHandler, ServerFactory

SIZE = 3 * (1 << 20) + 12345


@pytest.fixture
def fetcher() -> Fetcher:
    with httpx.Client(trust_env=False) as client:
        yield Fetcher(client, attempts=3, backoff=0.0, env={})


def _file(files: Files, size: int = SIZE, seed: int = 1) -> ModelFile:
    (f,) = files.add_model("m", [size], random.Random(seed))
    return f


def _paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "partial" / "f0.bin", tmp_path / "tree" / "f0.bin"


def _fetch(
    fetcher: Fetcher,
    f: ModelFile,
    tmp_path: Path,
    *servers: ArtifactHttpServer,
    have: bytes | None = None,
) -> Path:
    """Fetch `f` from the servers in order (after leaving `have` as a partial file)."""
    partial, final = _paths(tmp_path)
    if have is not None:
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(have)
    sources = tuple(HttpSource(f"{s.url}/m") for s in servers)
    fetcher.fetch(sources, f, partial, final, stop=threading.Event())
    return final


def _ok(final: Path, f: ModelFile) -> bool:
    return hashlib.sha256(final.read_bytes()).hexdigest() == f.sha256


def test_a_file_is_fetched_verified_and_moved_into_the_tree(
    files: Files, serve: ServerFactory, fetcher: Fetcher, tmp_path: Path
) -> None:
    f = _file(files)
    server = serve()
    partial, final = _paths(tmp_path)
    fetcher.fetch((HttpSource(f"{server.url}/m"),), f, partial, final, stop=threading.Event())
    assert _ok(final, f)
    assert not partial.exists()
    assert server.sent == {"m/f0.bin": SIZE}
    assert fetcher.meter.rate() is not None


def test_a_dropped_connection_resumes_without_fetching_a_byte_twice(
    files: Files, serve: ServerFactory, fetcher: Fetcher, tmp_path: Path
) -> None:
    f = _file(files)
    server = serve(handler=DropsHandler)
    server.drops, server.drop_after = 2, 1_000_000  # type: ignore[attr-defined]
    final = _fetch(fetcher, f, tmp_path, server)
    assert _ok(final, f)
    assert server.sent["m/f0.bin"] == SIZE  # every byte exactly once
    ranges = [r for _p, r in server.requests]
    assert ranges == [None, "bytes=1000000-", "bytes=2000000-"]


def test_a_partial_file_from_an_earlier_run_is_resumed(
    files: Files, serve: ServerFactory, fetcher: Fetcher, tmp_path: Path
) -> None:
    f = _file(files)
    server = serve()
    have = files.blobs["m/f0.bin"].read(0, 777_777)
    final = _fetch(fetcher, f, tmp_path, server, have=have)
    assert _ok(final, f)
    assert server.sent["m/f0.bin"] == SIZE - len(have)


def test_a_server_that_ignores_range_restarts_the_file(
    files: Files, serve: ServerFactory, fetcher: Fetcher, tmp_path: Path
) -> None:
    f = _file(files)
    server = serve(handler=NoRangeHandler)
    final = _fetch(fetcher, f, tmp_path, server, have=files.blobs["m/f0.bin"].read(0, 1000))
    assert _ok(final, f)
    assert server.sent["m/f0.bin"] == SIZE


def test_corruption_is_caught_and_the_next_source_used(
    files: Files, serve: ServerFactory, fetcher: Fetcher, tmp_path: Path
) -> None:
    f = _file(files)
    bad, good = serve(handler=CorruptHandler), serve()
    final = _fetch(fetcher, f, tmp_path, bad, good)
    assert _ok(final, f)
    assert len(bad.requests) == 1  # a fresh download that hashes wrong: no retry there
    assert good.sent["m/f0.bin"] == SIZE


def test_corruption_everywhere_is_an_integrity_mismatch(
    files: Files, serve: ServerFactory, fetcher: Fetcher, tmp_path: Path
) -> None:
    f = _file(files)
    bad1, bad2 = serve(handler=CorruptHandler), serve(handler=CorruptHandler)
    partial, final = _paths(tmp_path)
    sources = (HttpSource(f"{bad1.url}/m"), HttpSource(f"{bad2.url}/m"))
    with pytest.raises(FetchError) as err:
        fetcher.fetch(sources, f, partial, final, stop=threading.Event())
    assert err.value.reason == FailureReason.INTEGRITY_MISMATCH
    assert "f0.bin" in err.value.detail
    assert bad2.url in err.value.detail
    assert "\n" not in err.value.detail
    assert not final.exists()
    assert not partial.exists()


def test_a_bad_partial_of_our_own_is_fetched_again_from_zero(
    files: Files, serve: ServerFactory, fetcher: Fetcher, tmp_path: Path
) -> None:
    f = _file(files)
    server = serve()
    final = _fetch(fetcher, f, tmp_path, server, have=b"\0" * 5000)  # torn bytes, not its
    assert _ok(final, f)
    assert [r for _p, r in server.requests] == ["bytes=5000-", None]


def test_missing_and_unreachable_sources_are_source_unavailable(
    files: Files, serve: ServerFactory, fetcher: Fetcher, tmp_path: Path
) -> None:
    f = _file(files)
    server = serve()
    partial, final = _paths(tmp_path)
    sources = (HttpSource(f"{server.url}/elsewhere"), HttpSource("http://127.0.0.1:9/m"))
    with pytest.raises(FetchError) as err:
        fetcher.fetch(sources, f, partial, final, stop=threading.Event())
    assert err.value.reason == FailureReason.SOURCE_UNAVAILABLE
    assert "HTTP 404" in err.value.detail
    assert "127.0.0.1:9" in err.value.detail
    assert len(server.requests) == 1  # a 404 is not retried


def test_a_truncated_source_is_retried_then_the_next_one_used(
    files: Files, serve: ServerFactory, fetcher: Fetcher, tmp_path: Path
) -> None:
    f = _file(files)
    dropper, good = serve(handler=DropsHandler), serve()
    dropper.drops, dropper.drop_after = 100, 0  # type: ignore[attr-defined]
    final = _fetch(fetcher, f, tmp_path, dropper, good)
    assert _ok(final, f)
    assert len(dropper.requests) == fetcher.attempts


def test_stop_keeps_the_partial_file(
    files: Files, serve: ServerFactory, fetcher: Fetcher, tmp_path: Path
) -> None:
    f = _file(files)
    server = serve(rate=4 * (1 << 20))
    partial, final = _paths(tmp_path)
    stop = threading.Event()

    def progress(_n: int) -> None:
        stop.set()

    with pytest.raises(Stopped):
        fetcher.fetch(
            (HttpSource(f"{server.url}/m"),), f, partial, final, stop=stop, progress=progress
        )
    assert 0 < partial.stat().st_size < SIZE
    assert not final.exists()


def test_the_proxy_settings_are_honoured(
    files: Files, serve: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The source's host does not resolve; the proxy (a loopback server that serves the files
    itself from the absolute URI it is asked for) answers."""
    f = _file(files)
    proxy = serve()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    partial, final = _paths(tmp_path)
    with httpx.Client(trust_env=True) as client:
        Fetcher(client, backoff=0.0, env={}).fetch(
            (HttpSource("http://artifacts.berth.invalid/m"),),
            f,
            partial,
            final,
            stop=threading.Event(),
        )
    assert _ok(final, f)
    assert proxy.sent == {"m/f0.bin": SIZE}


def test_s3_sources_are_path_style_and_signed_with_credentials(
    files: Files, serve: ServerFactory, tmp_path: Path
) -> None:
    f = _file(files)
    files.blobs["models/pre/fix/f0.bin"] = files.blobs["m/f0.bin"]
    server = serve()
    source = S3Source(server.url, "models", "pre/fix/")
    assert file_url(source, "a b/c.bin") == f"{server.url}/models/pre/fix/a%20b/c.bin"
    partial, final = _paths(tmp_path)
    env = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu-west-1"}
    seen: list[str] = []

    def record(request: httpx.Request) -> None:
        seen.append(request.headers.get("authorization", ""))

    with httpx.Client(trust_env=False, event_hooks={"request": [record]}) as client:
        Fetcher(client, backoff=0.0, env=env).fetch(
            (source,), f, partial, final, stop=threading.Event()
        )
    assert _ok(final, f)
    assert seen[0].startswith("AWS4-HMAC-SHA256 Credential=AKID/")
    assert "/eu-west-1/s3/aws4_request" in seen[0]


def test_sigv4_matches_an_independent_implementation() -> None:
    """The expected signature was computed with botocore 1.43.11's S3SigV4Auth on this machine
    (same URL, keys, region, token and time); botocore is not a dependency of Berth."""
    headers = sigv4_headers(
        "http://minio.local:9000/models/qwen/dir/model-00001%20of%202.safetensors",
        access_key="AKIDEXAMPLE",
        secret_key="secret/key",
        region="eu-west-1",
        session_token="tok",
        now=dt.datetime(2026, 12, 1, 14, 0, 0, tzinfo=dt.UTC),
    )
    assert headers["authorization"].endswith(
        "Signature=13294a45a3794f11a9afa3a7562fe30a1be8a1eb15219c7e603c9b002f9dbe3b"
    )
    assert headers["x-amz-security-token"] == "tok"
