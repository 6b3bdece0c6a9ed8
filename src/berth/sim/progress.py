"""How far a sim build is, and how long it has left.

A cold build of the sim takes ten minutes or more on two cores, mostly compiling Kubernetes,
and `go build` says nothing while it works. The estimate is the durations of the same steps on
the last build on this machine (kept beside the binaries in `build-seconds.json`), or measured
defaults on a first build: elapsed time over expected time, per step, never past 99% of a step
until it has really finished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Seconds each step took on a cold cache on the reference 2-core machine (docs/sim.md).
DEFAULT_SECONDS = {
    "kube-apiserver": 600.0,
    "etcd": 90.0,
    "kwok": 60.0,
    "kustomize": 120.0,
    "cyclonus": 90.0,
    "openshift-api": 5.0,
}


@dataclass(frozen=True)
class Snapshot:
    step: str  # the title of the step being built ("" before the first, after the last)
    done_steps: int
    total_steps: int
    fraction: float  # 0..1
    elapsed: float  # seconds since the build began
    remaining: float  # estimated seconds left

    def line(self, width: int = 24) -> str:
        """A text progress bar for logs: `[#####.....]  42%  Kubernetes ... 4m10s, ~5m left`."""
        filled = round(self.fraction * width)
        bar = "#" * filled + "." * (width - filled)
        step = f"{self.step}, " if self.step else ""
        return (
            f"[{bar}] {self.fraction:4.0%}  {step}step {min(self.done_steps + 1, self.total_steps)}"
            f"/{self.total_steps}, {_duration(self.elapsed)} elapsed, "
            f"~{_duration(self.remaining)} left"
        )


def _duration(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


@dataclass
class BuildProgress:
    """Tracks one build: `begin(key, title)` when a step starts, `snapshot()` at any time,
    `finish()` at the end (records the steps' durations for the next estimate)."""

    keys: Sequence[str]
    expected: dict[str, float]
    clock: Callable[[], float] = time.monotonic
    began: float = field(init=False)
    _current: tuple[str, str, float] | None = field(init=False, default=None)
    _took: dict[str, float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.began = self.clock()

    def begin(self, key: str, title: str) -> None:
        now = self.clock()
        self._close(now)
        self._current = (key, title, now)

    def _close(self, now: float) -> None:
        if self._current is not None:
            key, _title, started = self._current
            self._took[key] = now - started
            self._current = None

    def finish(self) -> dict[str, float]:
        self._close(self.clock())
        return dict(self._took)

    def snapshot(self) -> Snapshot:
        now = self.clock()
        expected = {
            k: max(1.0, self.expected.get(k, DEFAULT_SECONDS.get(k, 60.0))) for k in self.keys
        }
        total = sum(expected.values()) or 1.0
        done = sum(expected[k] for k in self._took if k in expected)
        step, left_in_step = "", 0.0
        if self._current is not None:
            key, step, started = self._current
            spent = now - started
            want = expected.get(key, 60.0)
            done += min(spent, 0.99 * want)
            # past its estimate, a step is assumed to need a tenth of it again, then again
            left_in_step = want - spent if spent < want else 0.1 * want
        pending = [
            k
            for k in self.keys
            if k not in self._took and (self._current is None or k != self._current[0])
        ]
        remaining = left_in_step + sum(expected[k] for k in pending)
        return Snapshot(
            step=step,
            done_steps=len(self._took),
            total_steps=len(self.keys),
            fraction=min(1.0, done / total),
            elapsed=now - self.began,
            remaining=remaining,
        )


def load_durations(path: Path) -> dict[str, float]:
    """The durations recorded by the last build, or none (a missing or unreadable file)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float) and v > 0}


def save_durations(path: Path, took: dict[str, float]) -> None:
    """Merge `took` into the recorded durations (a step not rebuilt keeps its old figure)."""
    merged = {**load_durations(path), **{k: round(v, 1) for k, v in took.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(merged, indent=1, sort_keys=True))
    tmp.replace(path)
