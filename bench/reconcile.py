"""The reconciler on `berth sim`: sessions opening at once, start lag, and the idle cycle.

Prints: the time for `--burst` reservations whose windows open at the same instant to all become
ACTIVE; start lag (window start to ACTIVE) p50/p99; then, with `--sessions` ACTIVE sessions,
the idle cycle's duration and its Kubernetes API requests (which must not grow with the number
of sessions beyond list calls), and the control plane's memory. While the burst opens, it also
prints the CPU each part used (API server, controllers, etcd, reconciler, PostgreSQL...) and
the requests the API server served from every client, by verb and resource: where the two
cores went; the API server's mean time to serve a request meanwhile, its calls to etcd and
the waits in its fair queues; and where each session's wait went, stage by stage (its
Deployment made, its pod made, the node chosen for its claims, its volumes made and bound, the
pod bound to a node, Ready, ACTIVE). An idle cycle acts on nothing but the fences due for their drift re-apply (each ACTIVE session once per 30 minutes, spread
over the cycles: ~1/60 of the sessions per 30-second cycle); those are counted and shown.

Everything runs on this 2-core machine: PostgreSQL, the API-less reconciler, etcd, the
apiserver, controller-manager, scheduler and kwok.

    .venv/bin/python bench/reconcile.py [--burst 100] [--sessions 1000]
        [--profile SECONDS] [--control-plane-first]

`--profile` also reads the API server's CPU profile while the burst opens. On this one box the
control plane shares two cores with the reconciler, PostgreSQL and the nodes' stand-ins;
`--control-plane-first` lowers all of those to nice 19, an emulation of a control plane with
cores of its own, to see how much of an opening is Berth's and how much is the box's.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.progress import Progress
from sqlalchemy import text

from berth.config import load_pool_file
from berth.domain.policy import BookingPolicy
from berth.domain.reservation import Mode, Request
from berth.domain.session import SessionConfig
from berth.kube.adapter import KubeCluster
from berth.kube.manifests import MANAGED_SELECTOR
from berth.reconciler.loop import Cadence, Reconciler
from berth.reconciler.plan import Refence
from berth.sim import cluster as sim
from berth.sim.components import PROFILING_ENV
from berth.sim.state import Paths
from berth.store import bootstrap, reservations, users
from berth.store.db import Database
from berth.store.embedded import running
from common import child_pids, process_cpu

NODES = 20
POOL_FILE = "pools:\n  - name: bench\n    nodes:\n" + "".join(
    f"""      - name: bench-{i:02d}
        cpu: 128
        memory: 2Ti
        storage_class: local
        gpus: [{", ".join(f"{{index: {g}, model: A100, memory: 80Gi, mig: {{profile: 1g.10gb, count: 7}}, replicas: 1}}" for g in range(8))}]
"""
    for i in range(NODES)
)
POLICY = BookingPolicy(grid=timedelta(minutes=1), max_concurrent_per_user=10**6)


def book_many(db: Database, who: users.Principal, n: int, start: datetime, now: datetime) -> None:
    end = (start + timedelta(hours=3)).replace(second=0, microsecond=0)
    with db.transaction() as tx:
        for _ in range(n):
            req = Request("bench", start, end, "mig-1g.10gb", 1, Mode.INFERENCE, 1000, 2 * 2**30)
            reservations.book(tx, who, req, POLICY, now)


def count_active(db: Database) -> int:
    with db.transaction() as tx:
        return int(
            tx.execute(text("SELECT count(*) FROM reservations WHERE status = 'ACTIVE'")).scalar()
            or 0
        )


def wait_active(db: Database, target: int, label: str, timeout: float) -> None:
    with Progress() as progress:
        task = progress.add_task(label, total=target)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = count_active(db)
            progress.update(task, completed=n)
            if n >= target:
                return
            time.sleep(0.5)
    raise SystemExit(
        f"only {count_active(db)} of {target} sessions became ACTIVE in {timeout:.0f}s"
    )


# the sim's processes that run on the control plane's machines in a real cluster
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def renice(pid: int, nice: int) -> None:
    """Set the nice value of every thread of `pid` (Linux's nice is per thread)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.setpriority(os.PRIO_PROCESS, int(task.name), nice)


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_by_part(pids: dict[str, int], pgdata: Path) -> dict[str, float]:
    """CPU seconds used so far by each part of the control plane, PostgreSQL (the postmaster,
    its live backends and those that ended) and this process (the reconciler's threads, and
    the bench's own polling)."""
    parts = {name: process_cpu(pid) for name, pid in pids.items()}
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    parts["postgres"] = process_cpu(postmaster, children_done=True) + sum(
        process_cpu(p) for p in child_pids(postmaster)
    )
    own = resource.getrusage(resource.RUSAGE_SELF)
    parts["reconciler"] = own.ru_utime + own.ru_stime
    return parts


def served(kube: KubeCluster) -> Counter[str]:
    """What the API server's metrics say it did, as counts and, under `seconds <key>`, the
    seconds they took (histogram sums):

    - `<verb resource>`: requests served, from every client (the controllers', kwok's and the
      provisioners' too; `apiserver_request_total`); their seconds leave watches out;
    - `queued <priority level>`: requests that waited in its fair queues (API Priority and
      Fairness) before they ran;
    - `etcd <operation>:<resource>`: its calls to etcd.
    """
    counts: Counter[str] = Counter()
    for line in kube.request("GET", "/metrics", parse=False).decode().splitlines():
        if line.startswith("#") or "{" not in line:
            continue
        name, rest = line.split("{", 1)
        labels, value = rest.rsplit(" ", 1)
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        stem, _, part = name.rpartition("_")
        prefix = "seconds " if part == "sum" else ""
        if name == "apiserver_request_total" or (
            name == "apiserver_request_duration_seconds_sum" and found["verb"] != "WATCH"
        ):
            sub = found.get("subresource")
            counts[f"{prefix}{found['verb']} {found['resource']}{'/' + sub if sub else ''}"] += (
                float(value)
            )
        elif part not in ("sum", "count"):
            continue
        elif stem == "apiserver_flowcontrol_request_wait_duration_seconds":
            if found.get("execute") == "true":
                counts[f"{prefix}queued {found['priority_level']}"] += float(value)
        elif stem == "etcd_request_duration_seconds":
            counts[f"{prefix}etcd {found['operation']}:{found.get('resource', '?')}"] += float(
                value
            )
    return counts


def profile_apiserver(state_dir: Path, seconds: int) -> str:
    """The API server's CPU profile over `seconds`, saved as apiserver-cpu.pprof; its top
    functions by their own time and with what they call, as `go tool pprof` shows them."""
    kube = KubeCluster.from_kubeconfig(
        str(Paths(state_dir).kubeconfig), timeout=(10.0, seconds + 30.0)
    )
    try:
        data = kube.request(
            "GET", "/debug/pprof/profile", query={"seconds": str(seconds)}, parse=False
        )
    finally:
        kube.close()
    out = Path("apiserver-cpu.pprof")
    out.write_bytes(data)
    go = shutil.which("go")
    if go is None:
        return f"API server CPU profile saved as {out} (no go on PATH to show it)"
    shown = []
    for how in ("-top", "-top -cum"):
        done = subprocess.run(
            [go, "tool", "pprof", *how.split(), "-nodecount=30", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        shown.append(f"API server CPU profile ({out}), pprof {how}:\n{done.stdout or done.stderr}")
    return "\n".join(shown)


def mean_ms(by_kind: Counter[str], keys: list[str]) -> float:
    """The mean time the API server took to serve the requests `keys`, in milliseconds."""
    n = sum(by_kind[k] for k in keys)
    return 1000 * sum(by_kind[f"seconds {k}"] for k in keys) / n if n else 0.0


OTHER_METRICS = ("seconds", "queued", "etcd")  # the keys of `served` that are not requests


def mean_by(timed: Counter[str], kind: str, most: int | None = None) -> str:
    """`served`'s figures of one kind (`etcd`, `queued`), the most frequent first: each one's
    mean time and count."""
    keys = sorted((k for k in timed if k.split()[0] == kind), key=lambda k: -timed[k])
    return ", ".join(
        f"{k.split()[1]} {mean_ms(timed, [k]):.1f} ms ({timed[k]:.0f})" for k in keys[:most]
    )


def _seconds(stamp: str, since: datetime) -> float:
    return (datetime.fromisoformat(stamp.replace("Z", "+00:00")) - since).total_seconds()


def timeline(kube: KubeCluster, opens: datetime) -> dict[str, list[float]]:
    """For each session's workspace, when (seconds after the window opened, to the second as
    Kubernetes stamps them) each stage of its start was reached: its Deployment made (the
    reconciler's applies done), its pod made, the node chosen for its claims (the scheduler),
    the last of its claims' volumes made (the provisioners) and bound (the controller-manager's
    volume binder), the pod bound to a node (the scheduler, once every claim is bound) and
    Ready."""
    deployments = kube.request(
        "GET", "/apis/apps/v1/deployments", query={"labelSelector": MANAGED_SELECTOR}
    )["items"]
    pods = kube.request(
        "GET", "/api/v1/pods", query={"labelSelector": "app.kubernetes.io/name=workspace"}
    )["items"]
    volumes = kube.request("GET", "/api/v1/persistentvolumes")["items"]
    claims = kube.request(
        "GET", "/api/v1/persistentvolumeclaims", query={"labelSelector": MANAGED_SELECTOR}
    )["items"]
    stages: dict[str, list[float]] = {
        "Deployment made": [],
        "pod made": [],
        "node chosen": [],
        "volumes made": [],
        "claims bound": [],
        "pod bound": [],
        "pod Ready": [],
    }
    for d in deployments:
        stages["Deployment made"].append(_seconds(d["metadata"]["creationTimestamp"], opens))
    last_volume: dict[str, float] = {}
    for v in volumes:
        ref = v["spec"].get("claimRef") or {}
        ns, at = ref.get("namespace", ""), _seconds(v["metadata"]["creationTimestamp"], opens)
        last_volume[ns] = max(at, last_volume.get(ns, at))
    stages["volumes made"] = [
        last_volume[p["metadata"]["namespace"]]
        for p in pods
        if p["metadata"]["namespace"] in last_volume
    ]
    # a claim's managedFields say when each writer last wrote it: the scheduler writes the node
    # it chose (`volume.kubernetes.io/selected-node`), the volume binder binds it (its status)
    chosen: dict[str, float] = {}
    bound: dict[str, float] = {}
    for c in claims:
        ns = c["metadata"]["namespace"]
        for m in c["metadata"].get("managedFields") or []:
            at = _seconds(m["time"], opens)
            if m["manager"] == "kube-scheduler":
                chosen[ns] = max(at, chosen.get(ns, at))
            elif m["manager"] == "kube-controller-manager" and m.get("subresource") == "status":
                bound[ns] = max(at, bound.get(ns, at))
    stages["node chosen"] = list(chosen.values())
    stages["claims bound"] = list(bound.values())
    for p in pods:
        stages["pod made"].append(_seconds(p["metadata"]["creationTimestamp"], opens))
        for c in (p.get("status") or {}).get("conditions") or []:
            if c["type"] == "PodScheduled" and c["status"] == "True":
                stages["pod bound"].append(_seconds(c["lastTransitionTime"], opens))
            if c["type"] == "Ready" and c["status"] == "True":
                stages["pod Ready"].append(_seconds(c["lastTransitionTime"], opens))
    return stages


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--burst", type=int, default=100)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--idle-cycles", type=int, default=20)
    ap.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="SECONDS",
        help="read the API server's CPU profile for SECONDS from the window's opening, save it "
        "as apiserver-cpu.pprof and print its top functions (with `go tool pprof`)",
    )
    ap.add_argument(
        "--control-plane-first",
        action="store_true",
        help="give the control plane (etcd, API server, controller-manager, scheduler) the "
        "cores first: everything that runs off its machines in a real cluster (the reconciler, "
        "PostgreSQL, kwok's kubelets, the provisioners) at nice 19. Emulates a control plane "
        "with cores of its own on this one box; the default run is the one to compare",
    )
    args = ap.parse_args()
    if args.control_plane_first:
        os.nice(19)  # this thread, and so every thread and child made after it (PostgreSQL)
    if args.profile:
        os.environ[PROFILING_ENV] = "1"
    # a SIGTERM unwinds like Ctrl-C, so the sim and PostgreSQL started here are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with tempfile.TemporaryDirectory(prefix="berth-bench-rec-") as tmp:
        pool_path = Path(tmp) / "pools.yaml"
        pool_path.write_text(POOL_FILE)
        state_dir = Path(tmp) / "sim"
        t0 = time.monotonic()
        state = sim.up(pool_path, 1, state_dir=state_dir)
        print(f"sim with {NODES} nodes ready in {time.monotonic() - t0:.1f}s")
        if args.control_plane_first:
            lowered = [n for n, pid in state.pids.items() if n not in CONTROL_PLANE]
            for name in lowered:
                renice(state.pids[name], 19)
            print(f"control plane first: {', '.join(lowered)} and this process at nice 19")
        try:
            with running(Path(tmp) / "pgdata") as url:
                db = Database(url, pool_size=5)
                bootstrap.prepare(db, load_pool_file(pool_path))
                with db.transaction() as tx:
                    who = users.principal(
                        users.create(tx, "bench", "bench-password", "admin", actor="bench")
                    )
                kube = KubeCluster.from_kubeconfig(str(Paths(state_dir).kubeconfig))
                rec = Reconciler(
                    db, kube, SessionConfig(), cadence=Cadence(interval=timedelta(seconds=30))
                )
                stop = threading.Event()
                runner = threading.Thread(target=rec.run, args=(stop,))
                runner.start()
                try:
                    now = datetime.now(UTC)
                    opens = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
                    if (opens - now).total_seconds() < 20:
                        opens += timedelta(minutes=1)
                    book_many(db, who, args.burst, opens, now)
                    print(f"{args.burst} reservations open at {opens:%H:%M:%S}; waiting")
                    pgdata = Path(tmp) / "pgdata"
                    time.sleep(max(0.0, (opens - datetime.now(UTC)).total_seconds()))
                    profiler = ThreadPoolExecutor(1)
                    profile = (
                        profiler.submit(profile_apiserver, state_dir, args.profile)
                        if args.profile
                        else None
                    )
                    served_before = served(kube)
                    requests_before = kube.requests
                    cpu_before = cpu_by_part(state.pids, pgdata)
                    wait_active(db, args.burst, f"{args.burst} opening at once", 600)
                    all_active = datetime.now(UTC)
                    stages = timeline(kube, opens)
                    cpu_after = cpu_by_part(state.pids, pgdata)
                    per_session = (kube.requests - requests_before) / args.burst
                    by_kind = served(kube) - served_before
                    with db.transaction() as tx:
                        lags = [
                            float(x)
                            for x in tx.execute(
                                text(
                                    "SELECT extract(epoch FROM s.ready_at - r.start_at) FROM sessions s JOIN reservations r ON r.id = s.reservation_id"
                                )
                            ).scalars()
                        ]
                    print(
                        f"{args.burst} sessions opening at once: all ACTIVE {(all_active - opens).total_seconds():.1f}s after the window opened"
                    )
                    print(
                        f"start lag: p50 {statistics.median(lags):.1f}s, p99 {pct(lags, 0.99):.1f}s, max {max(lags):.1f}s"
                    )
                    print(
                        "where the wait went, seconds after the window opened (p50 / max): "
                        + ", ".join(
                            f"{stage} {statistics.median(at):.0f} / {max(at):.0f}"
                            for stage, at in stages.items()
                            if at
                        )
                        + f", ACTIVE {statistics.median(lags):.1f} / {max(lags):.1f}"
                    )
                    print(
                        f"Kubernetes API requests per session while they opened: {per_session:.1f} "
                        "(applies, readiness polls and the cycles' list calls, divided by the sessions)"
                    )
                    timed = by_kind  # the counts and the seconds, for mean_ms
                    by_kind = Counter(
                        {k: n for k, n in timed.items() if k.split()[0] not in OTHER_METRICS}
                    )
                    print(
                        "the API server's calls to etcd meanwhile, the most, mean time: "
                        + mean_by(timed, "etcd", 12)
                    )
                    print(
                        "waited in the API server's fair queues before running (API Priority and "
                        "Fairness), mean per request by priority level: " + mean_by(timed, "queued")
                    )
                    total = sum(by_kind.values())
                    print(
                        f"requests the API server served meanwhile, from every client: "
                        f"{total / args.burst:.1f} per session; the most: "
                        + ", ".join(f"{k} {n / args.burst:.1f}" for k, n in by_kind.most_common(12))
                    )
                    volumes = sum(
                        n for k, n in by_kind.items() if "persistentvolume" in k.split()[1]
                    )
                    print(
                        f"  of which claims and volumes (persistentvolumeclaims, "
                        f"persistentvolumes): {volumes / args.burst:.1f} per session"
                    )
                    binder = [
                        "PUT persistentvolumeclaims",
                        "PUT persistentvolumeclaims/status",
                        "PUT persistentvolumes/status",
                    ]
                    print(
                        "the API server's mean time to serve a request meanwhile: "
                        f"{mean_ms(timed, [k for k in by_kind if f'seconds {k}' in timed]):.1f} "
                        "ms over all but watches; "
                        f"{mean_ms(timed, binder):.1f} ms for the claims' and volumes' "
                        "updates, which the volume binder (one worker in the controller-manager) "
                        "makes one after the other"
                    )
                    spent = {n: cpu_after[n] - cpu_before.get(n, 0.0) for n in cpu_after}
                    wall = (all_active - opens).total_seconds()
                    print(
                        f"CPU seconds while they opened ({wall:.1f} s on {os.cpu_count()} cores, "
                        f"{sum(spent.values()):.1f} s used): "
                        + ", ".join(
                            f"{n} {s:.1f}" for n, s in sorted(spent.items(), key=lambda x: -x[1])
                        )
                    )

                    if profile is not None:
                        print(profile.result())
                    profiler.shutdown()
                    rest = args.sessions - args.burst
                    t1 = time.monotonic()
                    book_many(db, who, rest, datetime.now(UTC), datetime.now(UTC))
                    wait_active(db, args.sessions, f"up to {args.sessions} ACTIVE", 3600)
                    took = time.monotonic() - t1
                    print(
                        f"{rest} more sessions provisioned in {took:.0f}s ({rest / took:.1f} sessions/s)"
                    )
                finally:
                    stop.set()
                    runner.join(60)

                durations, requests, refences = [], [], []
                for _ in range(args.idle_cycles):
                    before = kube.requests
                    started = time.perf_counter()
                    result = rec.cycle(gc=False)
                    durations.append(time.perf_counter() - started)
                    requests.append(kube.requests - before)
                    # nothing opens or closes now: the only work is the drift re-apply
                    others = [a for a in result.actions if not isinstance(a, Refence)]
                    assert not others, others
                    refences.append(len(result.actions))
                before = kube.requests
                started = time.perf_counter()
                rec.cycle(gc=True)
                gc_time, gc_requests = time.perf_counter() - started, kube.requests - before
                print(
                    f"idle cycle with {count_active(db)} ACTIVE sessions: p50 {1000 * statistics.median(durations):.0f} ms, "
                    f"max {1000 * max(durations):.0f} ms, Kubernetes API requests per cycle: {statistics.median(requests):.0f} "
                    f"(max {max(requests)}); fences re-applied (drift repair): {sum(refences)} in "
                    f"{len(refences)} cycles"
                )
                print(
                    f"garbage-collection cycle: {1000 * gc_time:.0f} ms, {gc_requests} API requests"
                )
                print(
                    f"control plane RSS with {args.sessions} sessions: {rss_mib(list(state.pids.values())):.0f} MiB"
                )
                print(
                    f"reconciler process peak RSS with {args.sessions} sessions: "
                    f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
                )
                kube.close()
                db.dispose()
        finally:
            sim.down(state_dir)


if __name__ == "__main__":
    main()
