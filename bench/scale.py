"""Several clusters on `berth sim`: sessions opened per second and the idle cycle's cost as the
clusters, their nodes and their sessions grow.

For each number of clusters in `--clusters` (fresh sims and a fresh embedded PostgreSQL each
time): start that many sims with `--nodes` GPU nodes each (8 GPUs of 7 MIG slices a node),
one reconciler thread per cluster in this process (what `berth reconcile` runs: its own leader
lock, client and pools), book `--sessions` reservations per cluster whose windows open at the
same instant, and time them all to ACTIVE (sessions opened per second, start lag). Then, with
every session ACTIVE, the idle cycle of each cluster: its duration and its Kubernetes API
requests; then a garbage-collection cycle; the control planes' and this process's memory.

Everything runs on this machine (2 cores): PostgreSQL, the reconcilers and every sim's etcd,
API server, controller-manager, scheduler and kwok. Print the load average beside the figures.

    .venv/bin/python bench/scale.py [--clusters 1,2,3] [--nodes 50] [--sessions 50]
"""

from __future__ import annotations

import argparse
import resource
import signal
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from berth.config import check_pool_layout
from berth.domain.reservation import Mode, Request
from berth.domain.session import SessionConfig
from berth.kube.adapter import KubeCluster
from berth.reconciler.loop import Cadence, Reconciler
from berth.sim import cluster as sim
from berth.sim.state import Paths, SimState
from berth.store import bootstrap, reservations, users
from berth.store.db import Database
from berth.store.embedded import running
from common import load_average
from reconcile import POLICY, count_active, pct, rss_mib, wait_active

GPU = "{index: %d, model: A100, memory: 80Gi, mig: {profile: 1g.10gb, count: 7}}"


def pool_text(cluster: str, nodes: int, *, named: bool) -> str:
    gpus = "[" + ", ".join(GPU % g for g in range(8)) + "]"
    where = f"    cluster: {cluster}\n" if named else ""
    return f"  - name: pool-{cluster}\n{where}    nodes:\n" + "".join(
        f"      - {{name: {cluster}-{i:03d}, cpu: 128, memory: 2Ti, storage_class: local, "
        f"gpus: {gpus}}}\n"
        for i in range(nodes)
    )


def book(db: Database, who: users.Principal, pool: str, n: int, start: datetime) -> None:
    end = (start + timedelta(hours=3)).replace(second=0, microsecond=0)
    now = datetime.now(UTC)
    with db.transaction() as tx:
        for _ in range(n):
            req = Request(pool, start, end, "mig-1g.10gb", 1, Mode.INFERENCE, 1000, 2 * 2**30)
            reservations.book(tx, who, req, POLICY, now)


def start_lags(db: Database) -> list[float]:
    with db.transaction() as tx:
        return [
            float(x)
            for x in tx.execute(
                text(
                    "SELECT extract(epoch FROM s.ready_at - r.start_at) "
                    "FROM sessions s JOIN reservations r ON r.id = s.reservation_id"
                )
            ).scalars()
        ]


def run(clusters: int, nodes: int, sessions: int, idle_cycles: int, tmp: Path) -> None:
    names = [f"c{i}" for i in range(1, clusters + 1)]
    states: dict[str, tuple[Path, SimState]] = {}
    try:
        for name in names:
            folder = tmp / name
            folder.mkdir()
            own = folder / "pool.yaml"
            own.write_text("pools:\n" + pool_text(name, nodes, named=False))
            t0 = time.monotonic()
            states[name] = (folder / "sim", sim.up(own, 1, state_dir=folder / "sim", name=name))
            print(f"  sim {name} with {nodes} nodes ready in {time.monotonic() - t0:.1f}s")
        pool_file = tmp / "pools.yaml"
        pool_file.write_text(
            "clusters:\n"
            + "".join(
                f"  - {{name: {n}, kubeconfig: {Paths(d).kubeconfig}}}\n"
                for n, (d, _) in states.items()
            )
            + "pools:\n"
            + "".join(pool_text(n, nodes, named=True) for n in names)
        )
        layout = check_pool_layout(pool_file)
        with running(tmp / "pgdata") as url:
            db = Database(url, pool_size=5 + 3 * clusters)
            bootstrap.prepare(db, layout.pools)
            with db.transaction() as tx:
                who = users.principal(
                    users.create(tx, "bench", "bench-password", "admin", actor="bench")
                )
            kubes = {n: KubeCluster.from_kubeconfig(layout.clusters[n].kubeconfig) for n in names}
            recs = {
                n: Reconciler(
                    db,
                    kubes[n],
                    SessionConfig(),
                    cadence=Cadence(interval=timedelta(seconds=30)),
                    cluster_name=n,
                )
                for n in names
            }
            measure(db, who, recs, kubes, sessions, idle_cycles, states)
            for k in kubes.values():
                k.close()
            db.dispose()
    finally:
        for folder, _ in states.values():
            sim.down(folder)


def measure(
    db: Database,
    who: users.Principal,
    recs: dict[str, Reconciler],
    kubes: dict[str, KubeCluster],
    sessions: int,
    idle_cycles: int,
    states: dict[str, tuple[Path, SimState]],
) -> None:
    total = sessions * len(recs)
    stop = threading.Event()
    threads = [
        threading.Thread(target=r.run, args=(stop,), name=f"reconcile-{n}") for n, r in recs.items()
    ]
    for t in threads:
        t.start()
    try:
        now = datetime.now(UTC)
        opens = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
        if (opens - now).total_seconds() < 20:
            opens += timedelta(minutes=1)
        for name in recs:
            book(db, who, f"pool-{name}", sessions, opens)
        print(f"  {total} reservations ({sessions} a cluster) open at {opens:%H:%M:%S}")
        before = sum(k.requests for k in kubes.values())
        wait_active(db, total, f"{total} opening at once", 1800)
        took = (datetime.now(UTC) - opens).total_seconds()
        lags = start_lags(db)
        per_session = (sum(k.requests for k in kubes.values()) - before) / total
        print(
            f"  all {total} ACTIVE {took:.1f}s after the window opened: "
            f"{total / took:.2f} sessions/s; start lag p50 {statistics.median(lags):.1f}s, "
            f"p99 {pct(lags, 0.99):.1f}s; {per_session:.1f} API requests a session"
        )
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    for name, rec in recs.items():
        kube = kubes[name]
        durations, requests = [], []
        for _ in range(idle_cycles):
            before = kube.requests
            started = time.perf_counter()
            result = rec.cycle(gc=False)
            durations.append(time.perf_counter() - started)
            requests.append(kube.requests - before)
            assert not result.actions, result.actions
        before = kube.requests
        started = time.perf_counter()
        rec.cycle(gc=True)
        gc_ms, gc_requests = 1000 * (time.perf_counter() - started), kube.requests - before
        print(
            f"  idle cycle of {name} ({count_active(db)} ACTIVE in all): p50 "
            f"{1000 * statistics.median(durations):.0f} ms, max {1000 * max(durations):.0f} ms, "
            f"{statistics.median(requests):.0f} API requests; GC cycle {gc_ms:.0f} ms, "
            f"{gc_requests} requests"
        )
    planes = [pid for _, state in states.values() for pid in state.pids.values()]
    print(
        f"  control planes' RSS {rss_mib(planes):.0f} MiB; this process's peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--clusters", default="1,2,3", help="comma-separated cluster counts")
    ap.add_argument("--nodes", type=int, default=50, help="GPU nodes per cluster")
    ap.add_argument("--sessions", type=int, default=50, help="sessions per cluster")
    ap.add_argument("--idle-cycles", type=int, default=10)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop sims and PostgreSQL
    for clusters in [int(c) for c in args.clusters.split(",")]:
        print(
            f"{clusters} cluster(s) x {args.nodes} nodes x {args.sessions} sessions "
            f"({load_average()})"
        )
        with tempfile.TemporaryDirectory(prefix="berth-bench-scale-") as tmp:
            run(clusters, args.nodes, args.sessions, args.idle_cycles, Path(tmp))


if __name__ == "__main__":
    main()
