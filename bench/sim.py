"""Start-up time and memory of `berth sim` for a few node counts.

Berth's scale claims ("100+ GPU nodes", docs/benchmarks.md) are measured on the sim, so its own cost must
be known first: how long until it is really ready and how much memory the control plane holds.
Each run starts a fresh sim in a temporary folder, waits `--settle` seconds after ready (so the
first heartbeats and controller resyncs are in the figure), sums the RSS of every component,
and stops it.

    .venv/bin/python bench/sim.py --nodes 1 100
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from berth.sim import cluster


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--pool-file", type=Path, default=None)
    args = parser.parse_args()
    for n in args.nodes:
        row = measure(n, args.settle, args.pool_file)
        print(
            "  ".join(
                f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
            )
        )


if __name__ == "__main__":
    main()
