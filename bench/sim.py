"""Start-up time and memory of `berth sim` for a few node counts.

Berth's scale claims ("100+ GPU nodes", docs/benchmarks.md) are measured on the sim, so its own cost must
be known first: how long until it is really ready and how much memory the control plane holds.
Each run starts a fresh sim in a temporary folder, waits `--settle` seconds after ready (so the
first heartbeats and controller resyncs are in the figure), sums the RSS of every component,
and stops it.

    .venv/bin/python bench/sim.py --nodes 1 100
    .venv/bin/python bench/sim.py --writes 1 4 16

`--writes` measures instead how fast an idle 1-node sim takes updates: each of N threads
updates a ConfigMap of its own in a loop for `--seconds`, and the updates/s and latency
(p50/p99, from this Python client) are printed per N. That is the floor under every update a
controller makes (the volume binder's, say) when the control plane has nothing else to do.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from berth.kube.adapter import KubeCluster
from berth.sim import cluster
from berth.sim.state import Paths
from common import percentile

PROBE_NAMESPACE = "bench-writes"


def measure(nodes: int, settle: float, pool_file: Path | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="berth-sim-bench-") as tmp:
        began = time.monotonic()
        state = cluster.up(pool_file, nodes, state_dir=Path(tmp))
        ready = time.monotonic() - began
        try:
            time.sleep(settle)
            status = cluster.status(Path(tmp))
            if status is None or not status.running:
                raise RuntimeError(f"sim in {tmp} stopped while measuring")
            rss = {name: value / 2**20 for name, value in status.rss.items()}
        finally:
            cluster.down(Path(tmp))
    return {"nodes": state.nodes, "ready_s": f"{ready:.1f}", **rss, "total_mib": sum(rss.values())}


def _updates(kube: KubeCluster, name: str, seconds: float) -> list[float]:
    """Milliseconds of each update of ConfigMap `name`, one after the other, for `seconds`."""
    path = f"/api/v1/namespaces/{PROBE_NAMESPACE}/configmaps"
    cm = kube.request("POST", path, {"metadata": {"name": name}, "data": {"n": "0"}})
    took, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        cm["data"]["n"] = str(int(cm["data"]["n"]) + 1)
        began = time.perf_counter()
        cm = kube.request("PUT", f"{path}/{name}", cm)
        took.append(1000 * (time.perf_counter() - began))
    return took


def writes(threads: list[int], seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="berth-sim-bench-") as tmp:
        cluster.up(None, 1, state_dir=Path(tmp))
        kube = KubeCluster.from_kubeconfig(str(Paths(Path(tmp)).kubeconfig))
        try:
            kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": PROBE_NAMESPACE}})
            for round_, n in enumerate(threads):
                results: list[list[float]] = [[] for _ in range(n)]

                def run(i: int, round_: int = round_, results: list[list[float]] = results) -> None:
                    results[i] = _updates(kube, f"probe-{round_}-{i}", seconds)

                workers = [threading.Thread(target=run, args=(i,)) for i in range(n)]
                for w in workers:
                    w.start()
                for w in workers:
                    w.join()
                took = sorted(t for r in results for t in r)
                print(
                    f"{n:>3} thread(s) updating a ConfigMap each: {len(took) / seconds:.0f} "
                    f"updates/s, p50 {percentile(took, 0.5):.1f} ms, "
                    f"p99 {percentile(took, 0.99):.1f} ms"
                )
        finally:
            kube.close()
            cluster.down(Path(tmp))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--pool-file", type=Path, default=None)
    parser.add_argument(
        "--writes",
        type=int,
        nargs="+",
        metavar="THREADS",
        help="measure updates/s of an idle 1-node sim from each number of threads instead",
    )
    parser.add_argument("--seconds", type=float, default=6.0, help="each --writes row")
    args = parser.parse_args()
    if args.writes:
        writes(args.writes, args.seconds)
        return
    for n in args.nodes:
        row = measure(n, args.settle, args.pool_file)
        print(
            "  ".join(
                f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
            )
        )


if __name__ == "__main__":
    main()
