"""Run a command that dies with the process that started it, even when that one is SIGKILLed.

    python -I -S deathsig.py PARENT_PID COMMAND [ARGS...]

asks the kernel (Linux `prctl(PR_SET_PDEATHSIG, SIGKILL)`) to kill this process when the thread
that spawned it exits, checks that its parent is still PARENT_PID (it may have died before the
request was made), then execs COMMAND, which keeps the request. `processes.spawn` puts it in
front of a component's command line when asked to; it runs as a script, by path, with no site
packages, so it costs a bare interpreter start and nothing of Berth.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    parent, command = int(argv[1]), argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    if os.getppid() != parent:
        os._exit(1)  # the parent died before the request: nothing would ever stop us
    os.execv(command[0], command)  # noqa: S606  # the component's own argv, as spawn() got it


if __name__ == "__main__":
    main(sys.argv)
