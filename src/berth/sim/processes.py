"""Start the components as daemons and stop exactly those, by pid.

`posix_spawn` with a new session detaches each component from the terminal and from the
command that started it, so `berth sim up` can return. It also leaves no `Popen` object behind
whose finaliser would warn about a child still running (tests run with warnings as errors).
A sim started by a test is the opposite: `die_with_parent` starts each component through
`deathsig.py`, so the kernel kills it when the process that started it dies, however it dies
(a pytest killed with SIGKILL leaves no etcd behind).
A pid is only trusted while its command line still names the component, so a stale state file
never makes `down` signal an unrelated process that reused the number.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

DEATHSIG = Path(__file__).with_name("deathsig.py")


def spawn(
    argv: list[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    *,
    die_with_parent: bool = False,
) -> int:
    """Start argv in its own session with stdout and stderr appended to `log`.

    With `die_with_parent` (Linux), the process is killed when the calling thread's process
    dies, even by SIGKILL. The kernel ties it to the calling *thread*: spawn from a thread that
    lives as long as the caller wants the process to (the main thread, a pytest fixture's).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    if die_with_parent:
        argv = [sys.executable, "-I", "-S", str(DEATHSIG), str(os.getpid()), *argv]
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), flags, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(
        argv[0],
        argv,
        dict(env if env is not None else os.environ),
        file_actions=actions,
        setsid=True,
    )


def _reap(pid: int) -> bool:
    """Collect the exit status if `pid` is our child; True when it has exited."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def alive(pid: int, markers: tuple[str, ...]) -> bool:
    """True while `pid` runs and its command line contains every one of `markers`."""
    if pid <= 0 or _reap(pid):
        return False
    if _zombie(pid):
        return False
    cmdline = _cmdline(pid)
    # Right after the spawn the kernel may show an empty command line for a moment.
    return not cmdline or all(m in cmdline for m in markers)


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


Proc = tuple[int, tuple[str, ...]]


def stop(procs: Iterable[Proc], timeout: float = 15.0) -> list[int]:
    """SIGTERM each live (pid, markers) in order, then SIGKILL what outlives `timeout`.

    Returns the pids that had to be killed.
    """
    live = [(pid, marker) for pid, marker in procs if alive(pid, marker)]
    for pid, _ in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p, m) for p, m in live):
        time.sleep(0.1)
    killed = []
    for pid, marker in live:
        if alive(pid, marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p, m) for p, m in live):
        time.sleep(0.05)
    for pid, _ in live:
        _reap(pid)
    return killed
