"""A real Prometheus for tests: Debian's package (`make prometheus` unpacks it into
~/.cache/berth/prometheus, no system service), scraping the given targets every second."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

BINARY = Path.home() / ".cache" / "berth" / "prometheus" / "usr" / "bin" / "prometheus"
SCRAPE = "1s"


def binary() -> Path:
    found = os.environ.get("BERTH_TEST_PROMETHEUS") or (str(BINARY) if BINARY.exists() else None)
    found = found or shutil.which("prometheus")
    if not found:
        pytest.fail(f"no Prometheus at {BINARY}: run `make prometheus` (Debian's package)")
    return Path(found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(folder: Path, target: str) -> Iterator[str]:
    """Prometheus on a free port scraping `target` (host:port) with honor_labels, as a
    ServiceMonitor of the DCGM exporter does; yields its URL. Stopped (its process only) after."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": SCRAPE, "evaluation_interval": SCRAPE},
                "scrape_configs": [
                    {
                        "job_name": "dcgm-exporter-standin",
                        "honor_labels": True,
                        "static_configs": [{"targets": [target]}],
                    }
                ],
            }
        )
    )
    port = free_port()
    log = (folder / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            str(binary()),
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (folder / "prometheus.log").read_text()[-2000:]
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Prometheus did not become ready in 30 s"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def wait_for_series(url: str, promql: str, timeout: float = 20) -> list[dict[str, object]]:
    """Poll until `promql` returns at least one series (the first scrapes take a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5).json()
        result: list[dict[str, object]] = r["data"]["result"]
        if result:
            return result
        assert time.monotonic() < deadline, f"no series for {promql} after {timeout} s"
        time.sleep(0.25)
