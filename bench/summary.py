"""`make bench`: the booking and read-path figures of issue 13 in one run and one table.

One `berth serve` (its default workers, or `--workers`) on an embedded PostgreSQL with 100k
reservations; wrk (Debian package `wrk`) for the load, as bench/booking.py and bench/read.py
drive it; Slurm's `scontrol create reservation` in the same run (bench/slurm.py; skipped
with a reason if it cannot run here). For the Python client's latency distribution, more
sizes or each endpoint alone, run bench/booking.py and bench/read.py.

    .venv/bin/python bench/summary.py [--seconds 10] [--workers N] [--no-slurm]
"""

from __future__ import annotations

import argparse

import booking
import read
import slurm
from common import BOOKABLE, MAX_HOURS, TIGHT_FULL_DAYS, harness, load_average


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--existing", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=10, help="each wrk run")
    ap.add_argument(
        "--workers", type=int, default=None, help="berth serve --workers (0: pass no flag)"
    )
    ap.add_argument("--no-slurm", action="store_true")
    args = ap.parse_args()
    rows: list[tuple[str, str]] = []
    before = load_average()
    with harness(args.workers) as h:
        h.seed(args.existing)
        rows.append(("berth serve worker processes", str(h.workers_running())))
        rows.append(("existing reservations", str(h.count())))
        berth_rates = {}
        for conns in (8, 32):
            h.wrk(conns, 2, BOOKABLE, seed=99 + conns)  # warm up
            r = booking.wrk_counts(h.wrk(conns, args.seconds, BOOKABLE, seed=conns))
            berth_rates[conns] = r["rps"]
            rows.append(
                (
                    f"bookings/s, wrk {conns} connections (p50 / p99 ms)",
                    f"{r['rps']:.0f} ({r['p50_ms']:.1f} / {r['p99_ms']:.1f}); "
                    f"{r['201']:.0f} booked, {r['409']:.0f} refused, {r['other']:.0f} other",
                )
            )
            rows.append(
                (
                    f"  CPU per booking, {conns} connections: API / PostgreSQL",
                    f"{r['api_cpu_ms']:.2f} ms / {r['db_cpu_ms']:.2f} ms",
                )
            )
        slots = TIGHT_FULL_DAYS * 96 - 4 * MAX_HOURS
        r = booking.wrk_counts(h.wrk(8, args.seconds, {"tight": ["gpu"]}, slots=slots, seed=3))
        rows.append(
            (
                "refusals/s, wrk 8 connections (p50 / p99 ms)",
                f"{r['rps']:.0f} ({r['p50_ms']:.1f} / {r['p99_ms']:.1f}); "
                f"{r['409s']:.0f} of {r['409']:.0f} 409s name a slot that fits",
            )
        )
        rows.append(
            (
                "  CPU per refusal: API / PostgreSQL",
                f"{r['api_cpu_ms']:.2f} ms / {r['db_cpu_ms']:.2f} ms",
            )
        )
        _, figures = read.measure(h, seconds=args.seconds)
        rows.append(
            (
                "read mix, 32 connections, 200 requests/s asked: p99",
                f"{figures['p99_at_200']:.0f} ms ({figures['rps_at_200']:.0f}/s answered; "
                f"right after the warm-up {figures['p99_at_200_first']:.0f} ms)",
            )
        )
        best = figures["best_rate"]
        rows.append(
            (
                "read mix: highest rate with p99 <= 100 ms",
                f"{best:.0f} requests/s" if best else f"none (not even {read.RATES[0]}/s)",
            )
        )
        memory = h.memory_mib()
        rows.append(
            (
                "API resident memory at the end",
                f"{memory['rss']:.0f} MiB in {memory['processes']:.0f} processes "
                f"(largest peak {memory['largest_peak']:.0f} MiB)",
            )
        )
    if args.no_slurm:
        rows.append(("Slurm scontrol create reservation", "skipped (--no-slurm)"))
    else:
        try:
            s = slurm.measure(400, 8)
        except slurm.Unavailable as exc:
            rows.append(("Slurm scontrol create reservation", f"cannot run here: {exc}"))
        else:
            for clients, r in s.items():
                rows.append(
                    (
                        f"Slurm reservations/s, {clients} client(s) (p50 / p99 ms)",
                        f"{r['rps']:.0f} ({r['p50_ms']:.1f} / {r['p99_ms']:.1f})",
                    )
                )
            for conns, rate in berth_rates.items():
                rows.append(
                    (
                        f"Berth wrk {conns} connections / Slurm 8 clients",
                        f"{rate / s[8]['rps']:.1f}x",
                    )
                )
    rows.append(("load average before / after", f"{before} / {load_average()}"))
    width = max(len(k) for k, _ in rows)
    print(f"{'figure':<{width}}  value")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
