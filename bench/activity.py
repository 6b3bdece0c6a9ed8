"""The activity collector's Prometheus side: the three queries of one sample for N sessions.

A real Prometheus (Debian's, `make prometheus`) scrapes the stand-in DCGM exporter of the tests
(tests/dcgm_standin.py: N session pods of one GPU each, a quarter of them counting tokens)
every second; after a few scrapes the collector's three instant queries (GPU activity, prompt
and generated tokens, every session at once) are timed, as `berth_activity_query_seconds`
measures them in production.

    .venv/bin/python bench/activity.py [--sessions 100 1000 5000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import prometheus_server
from tests.dcgm_standin import GpuPod, StandInDcgmExporter

from berth.reconciler.activity import (
    GENERATED_COUNTERS,
    PROMPT_COUNTERS,
    by_namespace,
    gpu_query,
    tokens_query,
)
from berth.reconciler.prometheus import Prometheus

WINDOW = 60  # seconds: the default sample interval


def one(sessions: int, repeat: int) -> tuple[float, float, int]:
    standin = StandInDcgmExporter()
    for i in range(sessions):
        ns = f"berth-{i:012x}"
        standin.add_pod(GpuPod(ns, "workspace-0", "code-server", f"node-{i // 8}"))
        standin.script(ns, (i % 10) / 10)
        if i % 4 == 0:
            standin.count_tokens(ns, 100, 20)
    standin.start()
    with (
        tempfile.TemporaryDirectory() as tmp,
        prometheus_server.running(Path(tmp), f"127.0.0.1:{standin.port}") as url,
    ):
        time.sleep(5)  # a few scrapes
        client = Prometheus(url, timeout=30)
        times = []
        found = 0
        for _ in range(repeat):
            start = time.perf_counter()
            now = datetime.now(UTC)
            found = len(by_namespace(client.query(gpu_query(WINDOW), now)))
            by_namespace(client.query(tokens_query(PROMPT_COUNTERS, WINDOW), now))
            by_namespace(client.query(tokens_query(GENERATED_COUNTERS, WINDOW), now))
            times.append(time.perf_counter() - start)
    standin.stop()
    return statistics.median(times), max(times), found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sessions", type=int, nargs="+", default=[100, 1000, 5000])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    print("| sessions | three queries, median | max | sessions found |")
    print("|---:|---:|---:|---:|")
    for n in args.sessions:
        median, worst, found = one(n, args.repeat)
        print(f"| {n} | {median * 1000:.1f} ms | {worst * 1000:.1f} ms | {found} |")


if __name__ == "__main__":
    main()
