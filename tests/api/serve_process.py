"""`berth serve` as a real process on the test database: the deployment's unit of replication."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from berth.store.db import Database

START_BUDGET = 60.0  # seconds for a server to answer /readyz


@contextmanager
def berth_serve(db: Database, data_dir: Path, workers: int = 1) -> Iterator[str]:
    """Start `berth serve` on a free port with its own data folder (as a pod has); yield its
    URL once /readyz answers; stop it with SIGTERM afterwards."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BERTH_DATABASE_URL": db.url, "BERTH_DATA_DIR": str(data_dir)}
    berth = str(Path(sys.executable).parent / "berth")
    command = [berth, "serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_BUDGET
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{' '.join(command[1:])}: no /readyz in time"
            assert server.poll() is None, f"{' '.join(command[1:])} exited"
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(30)
