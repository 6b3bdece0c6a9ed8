"""What the API benchmarks share: an embedded PostgreSQL seeded with reservations, users with
API tokens, `berth serve` in a subprocess, wrk runs, memory of the server's processes.

Everything runs on the same machine (server, database, load generator), so figures are for
that machine as a whole; print the load average next to them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from berth.config import load_pool_file
from berth.store import bootstrap, tokens, users
from berth.store.db import Database
from berth.store.embedded import running

SPAN_DAYS = 90  # bookings and seeded reservations fall anywhere in this many days
MAX_HOURS = 4  # a benchmark booking is 1..MAX_HOURS long
USERS = 32  # plain users, so every booking runs the per-user limit query; load picks one
NODES = 50  # per bench pool
WRK_LUA = Path(__file__).parent / "wrk" / "berth.lua"
WRK_MISSING = (
    "wrk is not installed: it is the Debian package `wrk` "
    "(`apt-get install -y wrk`; the bench never downloads it)"
)


def _gpus(spec: str) -> str:
    return "[" + ", ".join(spec.format(i=i) for i in range(8)) + "]"


_WHOLE = "{{index: {i}, model: H100, memory: 80Gi}}"
_HALF_MIG = "{{index: {i}, model: H100, memory: 80Gi, mig: {{profile: 1g.10gb, count: 7}}}}"


def _nodes(prefix: str, count: int, gpus: str) -> str:
    return "".join(
        f"""      - name: {prefix}-{i:03d}
        cpu: 256
        memory: 2Ti
        storage_class: local
        gpus: {gpus}
"""
        for i in range(count)
    )


# Two big pools (one of whole GPUs, one of half whole GPUs and half MIG slices: 50 x 8 H100
# each) that bookings spread over, and a small pool full for its first days: the refusals.
POOL_FILE = f"""
pools:
  - name: bench-a
    nodes:
{_nodes("a", NODES, _gpus(_WHOLE))}
  - name: bench-b
    nodes:
{_nodes("b", NODES, "[" + ", ".join([_WHOLE.format(i=i) for i in range(4)] + [_HALF_MIG.format(i=i) for i in range(4, 8)]) + "]")}
  - name: tight
    nodes:
{_nodes("t", 1, "[" + _WHOLE.format(i=0) + ", " + _WHOLE.format(i=1) + "]")}
"""
BOOKABLE = {"bench-a": ["gpu"], "bench-b": ["gpu", "mig-1g.10gb"]}
TIGHT_FULL_DAYS = 3  # the pool `tight` is fully booked for the first days of the span


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_time() -> datetime:
    """Midnight UTC tomorrow: the first instant bookings and seeded reservations start at."""
    return (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def seed(db: Database, target: int, user_ids: list[int]) -> None:
    """Top the reservations up to `target`: random 1-8 h windows on the 15-minute grid
    over the span, in both big pools and all their kinds, owned by random bench users;
    and the pool `tight` booked full for its first days."""
    with db.transaction() as tx:
        have = int(tx.execute(text("SELECT count(*) FROM reservations")).scalar() or 0)
        if have == 0:
            tx.execute(
                text(
                    """
                    INSERT INTO reservations (id, pool, owner_id, start_at, end_at,
                        gpu_kind, gpu_count, mode, cpu_millicores, memory_bytes, status)
                    SELECT gen_random_uuid(), 'tight', :owner,
                           :base + d * interval '1 day', :base + (d + 1) * interval '1 day',
                           'gpu', 2, 'inference', 1000, 1073741824, 'APPROVED'
                    FROM generate_series(0, :days - 1) d
                    """
                ),
                {"owner": user_ids[0], "base": base_time(), "days": TIGHT_FULL_DAYS},
            )
            have = TIGHT_FULL_DAYS
        if have >= target:
            return
        tx.execute(
            text(
                """
                INSERT INTO reservations (id, pool, owner_id, start_at, end_at, gpu_kind,
                    gpu_count, mode, cpu_millicores, memory_bytes, status)
                SELECT gen_random_uuid(), p, (:owners)[1 + floor(random() * :n_owners)::int],
                       s, s + (1 + floor(random() * 8)) * interval '1 hour',
                       CASE WHEN p = 'bench-b' AND random() < 0.5 THEN 'mig-1g.10gb'
                            ELSE 'gpu' END,
                       1, 'inference', 1000, 1073741824, 'APPROVED'
                FROM (SELECT :base + floor(random() * :slots) * interval '15 minutes' AS s,
                             CASE WHEN random() < 0.5 THEN 'bench-a' ELSE 'bench-b' END AS p
                      FROM generate_series(1, :n)) q
                """
            ),
            {
                "owners": user_ids,
                "n_owners": len(user_ids),
                "base": base_time(),
                "slots": SPAN_DAYS * 96,
                "n": target - have,
            },
        )
        tx.execute(text("ANALYZE reservations"))


@dataclass
class Harness:
    """A seeded database and a running `berth serve`, for the duration of `harness()`."""

    db: Database
    port: int
    tokens: list[str]
    user_ids: list[int]
    server: subprocess.Popen[bytes]
    workdir: Path
    workers: int | None
    env: dict[str, str] = field(default_factory=dict)  # what `berth serve` was started with
    notes: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seed(self, target: int) -> None:
        seed(self.db, target, self.user_ids)

    def count(self) -> int:
        with self.db.transaction() as tx:
            return int(tx.execute(text("SELECT count(*) FROM reservations")).scalar() or 0)

    def pids(self) -> list[int]:
        """The server's processes: `berth serve` and its workers."""
        pids = [self.server.pid]
        children = Path(f"/proc/{self.server.pid}/task/{self.server.pid}/children")
        with contextlib.suppress(OSError):
            pids += [int(p) for p in children.read_text().split()]
        return pids

    def workers_running(self) -> int:
        """Worker processes (children that serve; not multiprocessing's resource tracker)."""
        serving = 0
        for pid in self.pids()[1:]:
            with contextlib.suppress(OSError):
                if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    serving += 1
        return serving or 1

    def memory_mib(self) -> dict[str, float]:
        """Resident memory of the server's processes: now and peak, summed, and the largest."""
        now, peak, largest = 0.0, 0.0, 0.0
        for pid in self.pids():
            status = _status(pid)
            now += status.get("VmRSS", 0.0)
            peak += status.get("VmHWM", 0.0)
            largest = max(largest, status.get("VmHWM", 0.0))
        return {"rss": now, "peak": peak, "largest_peak": largest, "processes": len(self.pids())}

    def wrk(
        self,
        connections: int,
        seconds: float,
        pools: dict[str, list[str]],
        *,
        mode: str = "book",
        rate: float = 0,
        first_slot: int = 0,
        slots: int = SPAN_DAYS * 96,
        seed: int = 1,
        url: str | None = None,
        gzip: bool = False,
    ) -> dict[str, Any]:
        """Run wrk with bench/wrk/berth.lua: random valid bookings of `pools`' kinds (mode
        book) or the read mix (mode read), as fast as it goes or at `rate` requests/s, at
        this harness's server or at `url` (another replica); `gzip`: asking for compressed
        answers, as browsers do."""
        exe = shutil.which("wrk")
        if exe is None:
            raise SystemExit(WRK_MISSING)
        threads = min(connections, 2)
        api0, db0 = self.cpu_seconds()
        config = self.workdir / f"wrk-{mode}-{connections}-{seed}-{self.port}.conf"
        base = int(base_time().timestamp()) + 900 * first_slot
        config.write_text(
            f"mode={mode}\ntokens={','.join(self.tokens)}\n"
            f"pools={','.join(':'.join([p, *kinds]) for p, kinds in pools.items())}\n"
            f"base={base}\nslots={slots}\nhours={MAX_HOURS}\nrate={rate:g}\n"
            f"threads={threads}\nseed={seed}\ngzip={int(gzip)}\n"
        )
        out = subprocess.run(
            [
                exe,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds:g}s",
                "--timeout",
                "10s",
                "-s",
                str(WRK_LUA),
                url or self.url,
                "--",
                str(config),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        line = next(x for x in out.splitlines() if x.startswith("WRK "))
        result: dict[str, Any] = json.loads(line[4:])
        result["rps"] = result["requests"] / result["seconds"]
        api, db = self.cpu_seconds()
        n = max(result["requests"], 1)
        result["api_cpu_ms"] = 1000 * (api - api0) / n
        result["db_cpu_ms"] = 1000 * (db - db0) / n
        return result

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds used so far by the API's processes and by PostgreSQL's (the postmaster,
        its live backends and those that ended). Per request, this is what a request costs
        whatever else the machine is doing, unlike rates and latencies."""
        api = sum(process_cpu(pid) for pid in self.pids())
        postmaster = int((self.workdir / "pgdata" / "postmaster.pid").read_text().split()[0])
        db = process_cpu(postmaster, children_done=True) + sum(
            process_cpu(p) for p in child_pids(postmaster)
        )
        return api, db


def child_pids(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def process_cpu(pid: int, *, children_done: bool = False) -> float:
    """User + system CPU seconds of a process (and of its children it has waited for)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children_done:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process in MiB (empty if it is gone)."""
    out: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


def wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"berth serve exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("berth serve did not become ready")


@contextlib.contextmanager
def harness(
    workers: int | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[Harness]:
    """An embedded PostgreSQL with the bench pools and users, and `berth serve` on it.

    `workers`: passed as `--workers` (None: serve's default; 0: no flag at all, for a
    Berth from before the option existed)."""
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        work = Path(tmp)
        pool_path = work / "pools.yaml"
        pool_path.write_text(POOL_FILE)
        with running(work / "pgdata") as url:
            db = Database(url)
            bootstrap.prepare(db, load_pool_file(pool_path))
            secrets, ids = bench_users(db)
            port = free_port()
            env = {
                **os.environ,
                "BERTH_DATABASE_URL": url,
                "BERTH_POOL_FILE": str(pool_path),
                "BERTH_HORIZON_DAYS": str(SPAN_DAYS + 30),
                "BERTH_MAX_CONCURRENT_PER_USER": str(10**9),
                "BERTH_DATA_DIR": tmp,
                **(extra_env or {}),
            }
            command = [str(Path(sys.executable).parent / "berth"), "serve", "--port", str(port)]
            if workers:
                command += ["--workers", str(workers)]
            server = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                wait_ready(port, server)
                yield Harness(db, port, secrets, ids, server, work, workers, env)
            finally:
                server.terminate()
                server.wait(60)
                db.dispose()


def bench_users(db: Database, count: int = USERS) -> tuple[list[str], list[int]]:
    """Plain users bench0.. with an API token each: (tokens, user ids)."""
    secrets, ids = [], []
    with db.transaction() as tx:
        for i in range(count):
            row = users.create(tx, f"bench{i}", f"bench-password-{i}", "user", actor="bench")
            secret, _ = tokens.issue(
                tx,
                users.principal(row),
                kind="api",
                name="bench",
                lifetime=timedelta(days=1),
                now=datetime.now(UTC),
            )
            secrets.append(secret)
            ids.append(row.id)
    return secrets, ids


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def random_booking(rng: random.Random) -> bytes:
    """One random valid booking request body (as the wrk script makes them)."""
    pool = rng.choice(sorted(BOOKABLE))
    start = base_time() + timedelta(minutes=15 * rng.randrange(SPAN_DAYS * 96))
    body = {
        "pool": pool,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=rng.randrange(1, MAX_HOURS + 1))).isoformat(),
        "gpu": {"kind": rng.choice(BOOKABLE[pool]), "count": rng.randrange(1, 3)},
        "cpu": 1,
        "memory": "1Gi",
        "mode": "inference",
    }
    return json.dumps(body).encode()
