"""Measured utilization: booked GPU-hours over available GPU-hours for a period.

The cost model is only as good as its utilization figure, and a guess is the weakest input
in it. Berth knows what was actually booked, so the store feeds this function the
reservations and the capacity of a pool and the model runs on the measured figure instead.

    booked GPU-hours     B = Σ over bookings of gpus · hours of overlap with [start, end)
    available GPU-hours  A = Σ over capacity intervals of gpus · hours of overlap
    utilization          u = B / A

A MIG slice counts as its fraction of a physical GPU (a 1g.24gb slice of four is 0.25), so
whole-GPU and MIG bookings add up in one unit. Booked time is an upper bound on serving
time: a booked GPU may sit idle inside its window.

This is booking arithmetic over a pool, so it lives in the domain rather than in
berth.tokenomics: the store builds its `Booked` rows (store.reservations.booked) and the store
depends on the domain only. The cost model takes the result as a plain float.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from berth.domain.pool import Pool


@dataclass(frozen=True)
class GpuInterval:
    """`gpus` physical GPUs (fractions for MIG slices) held from `start` to `end`."""

    start: datetime
    end: datetime
    gpus: float


@dataclass(frozen=True)
class MeasuredUtilization:
    """The figure and the sums it comes from. `basis` "booked": booked / available;
    "measured": used / available, where used GPU-hours are the activity series' (cost ledger,
    domain.usage) and `measured_gpu_hours` says how much of the booked time had samples."""

    start: datetime
    end: datetime
    booked_gpu_hours: float
    available_gpu_hours: float
    utilization: float
    basis: str = "booked"
    used_gpu_hours: float | None = None
    measured_gpu_hours: float | None = None


@dataclass(frozen=True)
class Activity:
    """What the activity series measured of the bookings in the period (domain.usage)."""

    used_gpu_hours: float
    measured_gpu_hours: float


def _aware(t: datetime, what: str) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")


def gpu_hours(intervals: Iterable[GpuInterval], start: datetime, end: datetime) -> float:
    """GPU-hours of `intervals` that fall inside [start, end)."""
    _aware(start, "start")
    _aware(end, "end")
    total = 0.0
    for iv in intervals:
        _aware(iv.start, "interval start")
        _aware(iv.end, "interval end")
        if iv.gpus < 0:
            raise ValueError("an interval cannot hold a negative number of GPUs")
        lo, hi = max(iv.start, start), min(iv.end, end)
        if hi > lo:
            total += iv.gpus * (hi - lo).total_seconds() / 3600.0
    return total


def measured_utilization(
    booked: Iterable[GpuInterval],
    available: Iterable[GpuInterval],
    start: datetime,
    end: datetime,
) -> MeasuredUtilization:
    """Booked over available GPU-hours in [start, end); refuses an empty or overbooked period."""
    if end <= start:
        raise ValueError("the period must end after it starts")
    b = gpu_hours(booked, start, end)
    a = gpu_hours(available, start, end)
    if a <= 0:
        raise ValueError("no GPU capacity in the period")
    if b > a * (1 + 1e-9):
        raise ValueError(f"booked {b:.2f} GPU-hours exceed the {a:.2f} available")
    return MeasuredUtilization(start, end, b, a, min(1.0, b / a))


def pool_utilization(
    pool: Pool,
    booked: Iterable[Booked],
    start: datetime,
    end: datetime,
    activity: Activity | None = None,
) -> MeasuredUtilization:
    """Measured utilization of a pool: its bookings against its physical GPUs, or with
    `activity` what the bookings really used against them (used / available: unmeasured time
    counts as unused, so it is a lower bound where booked / available is an upper one).

    A unit of a MIG kind is the fraction of a GPU its slice is (1/4 for a 1g.24gb of four),
    so the result is in whole-GPU hours whatever the pool's layout.
    """
    fraction = pool.gpu_fractions()
    gpus = sum(len(node.gpus) for node in pool.nodes)
    intervals = [GpuInterval(b.start, b.end, b.count * fraction.get(b.kind, 0.0)) for b in booked]
    m = measured_utilization(intervals, [GpuInterval(start, end, float(gpus))], start, end)
    if activity is None:
        return m
    used = activity.used_gpu_hours
    if used < 0 or used > m.booked_gpu_hours * (1 + 1e-9):
        raise ValueError(
            f"used {used:.2f} GPU-hours are not within the {m.booked_gpu_hours:.2f} booked"
        )
    return replace(
        m,
        basis="measured",
        utilization=min(1.0, used / m.available_gpu_hours),
        used_gpu_hours=used,
        measured_gpu_hours=activity.measured_gpu_hours,
    )


@dataclass(frozen=True)
class Booked:
    """A reservation as utilization sees it: `count` units of `kind` over [start, end)."""

    start: datetime
    end: datetime
    kind: str
    count: int
