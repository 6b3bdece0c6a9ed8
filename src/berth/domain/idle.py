"""Idle-GPU reclaim: from a session's measured activity to nothing, a warning or a release.

Pure: the reconciler reads the recorded series (`session_activity`, one sample per interval)
and the session's idle state, calls `decide`, and acts on the answer. The rules:

- **Off by default.** A pool file names a policy per GPU kind (`IdlePolicy`); a kind without
  one is never warned nor released.
- **Idle** is measured: a sample is idle when the mean GPU activity over the session's GPUs
  (DCGM_FI_PROF_GR_ENGINE_ACTIVE, 0..1) is at or under `threshold` and no engine counted a
  token. The idle time is the measured idle seconds after the last active sample. **Missing
  data never counts**: a sample without a measurement (`gpu_active` None, nothing scraped) adds
  nothing and resets nothing.
- **Warn** after `idle_minutes` of idle time; **release** (`idle`) when the warning is at least
  `answer_minutes` old and the session stayed measured idle for `answer_minutes` after it.
  Any active sample after the warning resets it (`Clear`).
- **Keep**: the owner's answer. Until `keep_until` nothing happens; afterwards only what was
  measured after `keep_until` counts.
- **No-show** (its own minutes, off unless set): a session never opened and never active in its
  first `no_show_minutes` (counted from when it became ready, or from the end of a keep) is
  warned the same way and released with reason `no-show`; opening it or any activity clears
  the warning. It needs Prometheus to have answered (a sample, even one without a GPU series)
  since the start and again since the warning: with no samples at all nothing is known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

NOISE_FLOOR = 0.01  # DCGM reports a few tenths of a percent on an idle GPU


class Reason(StrEnum):
    IDLE = "idle"
    NO_SHOW = "no-show"


@dataclass(frozen=True)
class IdlePolicy:
    """One GPU kind's policy in one pool. `idle_minutes` None: idle reclaim off for the kind;
    `no_show_minutes` None: no-show off. Minutes may be fractional."""

    threshold: float = NOISE_FLOOR
    idle_minutes: float | None = None
    answer_minutes: float = 30
    keep_minutes: float = 120
    no_show_minutes: float | None = None

    @property
    def active(self) -> bool:
        return self.idle_minutes is not None or self.no_show_minutes is not None

    @property
    def answer(self) -> timedelta:
        return timedelta(minutes=self.answer_minutes)

    @property
    def keep(self) -> timedelta:
        return timedelta(minutes=self.keep_minutes)

    def lookback(self) -> timedelta:
        """How much history a decision can need: the idle time, then the answer window."""
        longest = max(self.idle_minutes or 0, self.no_show_minutes or 0)
        return timedelta(minutes=longest + self.answer_minutes) * 2


@dataclass(frozen=True)
class Sample:
    """One sample interval ending at `at`: mean GPU activity (None: nothing measured) and the
    tokens the session's engines counted (None: no engine series)."""

    at: datetime
    seconds: float
    gpu_active: float | None
    tokens: int | None = None

    def measured(self) -> bool:
        return self.gpu_active is not None or self.tokens is not None

    def active(self, threshold: float) -> bool:
        busy_gpu = self.gpu_active is not None and self.gpu_active > threshold
        return busy_gpu or (self.tokens or 0) > 0


@dataclass(frozen=True)
class IdleState:
    """What the reconciler remembers of a session: when it became ready, when its workspace
    was first opened, the standing warning (if any) and the last keep."""

    ready_at: datetime
    opened_at: datetime | None = None
    warned_at: datetime | None = None
    reason: Reason | None = None
    keep_until: datetime | None = None


@dataclass(frozen=True)
class Nothing:
    pass


@dataclass(frozen=True)
class Warn:
    reason: Reason
    release_at: datetime  # the earliest instant it can be released without an answer
    idle_seconds: float


@dataclass(frozen=True)
class Clear:
    """The warning is answered by use (activity, or the workspace opened)."""


@dataclass(frozen=True)
class Release:
    reason: Reason


Decision = Nothing | Warn | Clear | Release


def idle_seconds(samples: Iterable[Sample], threshold: float, since: datetime) -> float:
    """Measured idle seconds after the last active sample, counting only the part of each
    sample after `since` (so never more than the time since `since`)."""
    total = 0.0
    for s in sorted(samples, key=lambda s: s.at):
        if s.at <= since or not s.measured():
            continue
        after = min(s.seconds, (s.at - since).total_seconds())
        total = 0.0 if s.active(threshold) else total + after
    return total


def _observed_after(samples: Iterable[Sample], since: datetime) -> bool:
    """Prometheus answered for the session after `since`: a sample exists, even one with
    nothing measured (no GPU series: nothing of the session's runs on a GPU). No sample at
    all means Prometheus did not answer, and then nothing is known."""
    return any(s.at > since for s in samples)


def _active_after(samples: Iterable[Sample], threshold: float, since: datetime) -> bool:
    return any(s.at > since and s.active(threshold) for s in samples)


def decide(
    policy: IdlePolicy | None, samples: Iterable[Sample], state: IdleState, now: datetime
) -> Decision:
    """The one thing to do about a session now (see the module's rules)."""
    if policy is None or not policy.active:
        return Clear() if state.warned_at is not None else Nothing()
    series = [s for s in samples if s.at <= now]  # a sample is known only once it ended
    if state.keep_until is not None and now < state.keep_until:
        return Nothing()
    start = max(state.ready_at, state.keep_until or state.ready_at)
    used = state.opened_at is not None or _active_after(series, policy.threshold, state.ready_at)
    if state.warned_at is not None:
        return _answered(policy, series, state, state.warned_at, used, now)
    if policy.no_show_minutes is not None and not used and _observed_after(series, start):
        waited = (now - start).total_seconds()
        if waited >= policy.no_show_minutes * 60:
            return Warn(Reason.NO_SHOW, now + policy.answer, waited)
    if policy.idle_minutes is not None:
        idle = idle_seconds(series, policy.threshold, start)
        if idle >= policy.idle_minutes * 60:
            return Warn(Reason.IDLE, now + policy.answer, idle)
    return Nothing()


def _answered(
    policy: IdlePolicy,
    series: list[Sample],
    state: IdleState,
    warned_at: datetime,
    used: bool,
    now: datetime,
) -> Decision:
    """A standing warning: cleared by use, released once its answer window passed unused."""
    switched_off = policy.no_show_minutes if state.reason is Reason.NO_SHOW else policy.idle_minutes
    if switched_off is None:  # the pool file no longer asks for it
        return Clear()
    if state.reason is Reason.NO_SHOW:
        if used:
            return Clear()
        due = now - warned_at >= policy.answer and _observed_after(series, warned_at)
        return Release(Reason.NO_SHOW) if due else Nothing()
    if _active_after(series, policy.threshold, warned_at):
        return Clear()
    if now - warned_at < policy.answer:
        return Nothing()
    # the answer window must itself have been measured idle: missing data never counts
    idle_since = idle_seconds(series, policy.threshold, warned_at)
    return Release(Reason.IDLE) if idle_since >= policy.answer.total_seconds() else Nothing()
