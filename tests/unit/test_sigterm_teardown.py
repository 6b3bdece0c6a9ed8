"""A pytest run stopped with SIGTERM tears its fixtures down (tests/conftest.py's handler), as
Ctrl-C does: `make test` stops its background half that way, and a fixture's PostgreSQL server
or sim must not outlive it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

MODULE = textwrap.dedent(
    """
    import time
    from pathlib import Path

    import pytest

    MARKS = Path(__file__).parent

    @pytest.fixture
    def server():
        yield
        (MARKS / "torn-down").write_text("yes")

    def test_waits(server):
        (MARKS / "started").write_text("yes")
        time.sleep(120)
    """
)


def test_sigterm_tears_the_fixtures_down(tmp_path: Path) -> None:
    (tmp_path / "test_waiting.py").write_text(MODULE)
    output = tmp_path / "output.txt"
    with output.open("wb") as out:
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "tests.conftest",
                "-q",
                "-p",
                "no:cacheprovider",
                str(tmp_path / "test_waiting.py"),
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").is_file():
            if run.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the inner test did not start within 60 s:\n{output.read_text()}")
            time.sleep(0.05)
        run.send_signal(signal.SIGTERM)
        run.wait(60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert (tmp_path / "torn-down").is_file(), output.read_text()
    assert "KeyboardInterrupt" in output.read_text()
