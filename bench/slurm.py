"""Slurm as a booking peer: how fast `scontrol create reservation` books on this machine.

Debian's slurm-wlm 22.05 on one machine (slurmctld + slurmd + munge), as the project's
one-machine peer setup describes: one node named after this host, two whole GPUs and four
MIG slices as GRES, and licenses `gpu_whole:2,gpu_mig1g:4` as counted GPU pools, because
Slurm 22.05 reservations cannot hold GRES. Each reservation is one `scontrol create
reservation ... licenses=gpu_whole:1 flags=license_only` for a one-hour window, windows not
overlapping so every one is accepted; timed as a client would, sequentially and from 8 threads.
The daemons are started in a temporary folder (SLURM_CONF points there; /etc is not touched)
and stopped afterwards; munged too, if this script started it.

Missing packages are installed with apt-get when running as root (`slurmctld slurmd
slurm-client munge`, no recommends); otherwise the script says what to install.

    .venv/bin/python bench/slurm.py [--reservations 400] [--threads 8]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
BINARIES = ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/scontrol", "/usr/sbin/munged"]


class Unavailable(Exception):
    """Slurm cannot run here; the message says why."""


SLURM_CONF = """ClusterName=bench
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
GresTypes=gpu
NodeName={host} NodeAddr=127.0.0.1 CPUs=64 RealMemory=512000 Gres=gpu:whole:2,gpu:mig1g:4 State=UNKNOWN
PartitionName=gpu Nodes={host} Default=YES MaxTime=INFINITE State=UP
Licenses=gpu_whole:2,gpu_mig1g:4
"""

GRES_CONF = """AutoDetect=off
NodeName={host} Name=gpu Type=whole File={dir}/dev/nvidia[0-1]
NodeName={host} Name=gpu Type=mig1g File={dir}/dev/nvidia[2-5]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_installed() -> None:
    """Install the Debian packages if a binary is missing (as root), else say what to do."""
    if all(Path(b).exists() for b in BINARIES):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable(
            "Slurm is not installed; as root: apt-get install -y --no-install-recommends "
            + " ".join(PACKAGES)
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise Unavailable(f"apt-get could not install {' '.join(PACKAGES)}: {done.stderr}")


@contextlib.contextmanager
def _munged() -> Iterator[None]:
    """A running munged (started here, and stopped afterwards, only if none was running)."""
    if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode == 0:
        yield
        return
    run_dir = Path("/run/munge")
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(run_dir, "munge", "munge")
    subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True)
    pid_file = run_dir / "munged.pid"
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text().split()[0]), 15)


@contextlib.contextmanager
def running_slurm() -> Iterator[dict[str, str]]:
    """slurmctld and slurmd up in a temporary folder; yields the environment scontrol needs."""
    ensure_installed()
    host = socket.gethostname().split(".")[0]
    with tempfile.TemporaryDirectory(prefix="berth-slurm-") as tmp, _munged():
        work = Path(tmp)
        for sub in ("state", "spool", "log", "dev"):
            (work / sub).mkdir()
        for n in range(6):
            os.mknod(work / "dev" / f"nvidia{n}", 0o666 | stat.S_IFCHR, os.makedev(195, n))
        values = {"host": host, "dir": tmp, "ctld_port": _free_port(), "d_port": _free_port()}
        (work / "slurm.conf").write_text(SLURM_CONF.format(**values))
        (work / "gres.conf").write_text(GRES_CONF.format(**values))
        env = {**os.environ, "SLURM_CONF": str(work / "slurm.conf")}
        started: list[Path] = []
        try:
            for daemon, pid in (("slurmctld", "slurmctld.pid"), ("slurmd", "slurmd.pid")):
                subprocess.run([f"/usr/sbin/{daemon}"], env=env, check=True, capture_output=True)
                started.append(work / pid)
            deadline = time.time() + 60
            while True:
                ping = subprocess.run(["scontrol", "ping"], env=env, capture_output=True, text=True)
                if "UP" in ping.stdout:
                    break
                if time.time() > deadline:
                    log = (work / "log" / "slurmctld.log").read_text()[-2000:]
                    raise Unavailable(f"slurmctld did not answer `scontrol ping`:\n{log}")
                time.sleep(0.5)
            yield env
        finally:
            subprocess.run(["scontrol", "shutdown"], env=env, capture_output=True, check=False)
            time.sleep(1)
            for pid_file in started:  # whatever did not stop on `scontrol shutdown`
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pid_file.read_text().split()[0]), 15)


def _create(env: dict[str, str], name: str, start: datetime) -> tuple[float, bool]:
    t0 = time.perf_counter()
    done = subprocess.run(
        [
            "scontrol",
            "create",
            "reservation",
            f"reservationname={name}",
            f"starttime={start.strftime('%Y-%m-%dT%H:%M:%S')}",
            "duration=60",
            "users=root",
            "licenses=gpu_whole:1",
            "flags=license_only",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - t0, done.returncode == 0


def _timed(
    env: dict[str, str], label: str, starts: list[datetime], parallel: int
) -> dict[str, float]:
    """Create one reservation per start from `parallel` threads; rate and latency."""
    lock = threading.Lock()
    times: list[float] = []
    accepted = 0

    def one(item: tuple[int, datetime]) -> None:
        nonlocal accepted
        dt, ok = _create(env, f"bench{label}_{item[0]}", item[1])
        with lock:
            times.append(dt)
            accepted += ok

    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as ex:
        list(ex.map(one, enumerate(starts)))
    elapsed = time.perf_counter() - t0
    times.sort()
    return {
        "rps": len(starts) / elapsed,
        "p50_ms": 1000 * times[len(times) // 2],
        "p99_ms": 1000 * times[min(len(times) - 1, int(0.99 * len(times)))],
        "accepted": accepted,
        "requests": len(starts),
    }


def measure(reservations: int = 400, threads: int = 8) -> dict[int, dict[str, float]]:
    """Reservations per second and latency (ms), sequentially and from `threads` threads."""
    base = (datetime.now(UTC) + timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
    out: dict[int, dict[str, float]] = {}
    with running_slurm() as env:
        for n, parallel in enumerate((1, threads)):
            first = n * reservations  # windows never overlap: every one is accepted
            starts = [base + timedelta(hours=first + i) for i in range(reservations)]
            out[parallel] = _timed(env, str(parallel), starts, parallel)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--reservations", type=int, default=400, help="per measurement")
    ap.add_argument("--threads", type=int, default=8)
    args = ap.parse_args()
    try:
        result = measure(args.reservations, args.threads)
    except Unavailable as exc:
        raise SystemExit(f"Slurm cannot run here: {exc}") from exc
    print(f"{'scontrol clients':>16} {'res/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'accepted':>9}")
    for clients, r in result.items():
        print(
            f"{clients:>16} {r['rps']:>7.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
            f"{r['accepted']:>5.0f}/{r['requests']:.0f}"
        )


if __name__ == "__main__":
    main()
