"""Measured activity of the ACTIVE sessions and the idle policy acting on it.

Every `interval` (its own cadence, in a thread of its own, so the reconcile cycle never waits
on Prometheus), the leader's reconciler:

1. asks Prometheus three instant queries covering every session at once: the mean
   DCGM_FI_PROF_GR_ENGINE_ACTIVE per namespace over the interval (whole GPUs and MIG slices
   alike), and the increase of the engines' prompt and generated token counters (vLLM's
   `vllm:prompt_tokens_total`/`vllm:generation_tokens_total`, TGI's
   `tgi_request_input_length`/`tgi_request_generated_tokens` histograms' `_sum`);
2. writes one `session_activity` row per ACTIVE session (NULL where no series answered; no
   rows at all when Prometheus did not answer: missing data is never idle);
3. runs `domain.idle.decide` for the sessions whose pool has a policy for their GPU kind, and
   records warnings, clears them, or releases (COMPLETED `idle`/`no-show`, NOTIFY): the
   reconciler's ordinary teardown then deletes the namespace.

The namespace of a DCGM series is its `exported_namespace` when Prometheus renamed the
exporter's own label (scraped without honor_labels, as OpenShift's monitoring does), else
`namespace`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from berth.domain import idle
from berth.reconciler import metrics
from berth.reconciler.prometheus import Prometheus, PrometheusError, Series
from berth.store import activity, heartbeats
from berth.store import idle as stored_idle
from berth.store.db import Database

log = logging.getLogger("berth.reconciler.activity")
COMPONENT = "activity"

GPU_METRIC = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
PROMPT_COUNTERS = ("vllm:prompt_tokens_total", "tgi_request_input_length_sum")
GENERATED_COUNTERS = ("vllm:generation_tokens_total", "tgi_request_generated_tokens_sum")
BY = "namespace, exported_namespace"


def gpu_query(seconds: int) -> str:
    return f"avg by ({BY}) (avg_over_time({GPU_METRIC}[{seconds}s]))"


def tokens_query(counters: tuple[str, ...], seconds: int) -> str:
    names = "|".join(counters)
    return f'sum by ({BY}) (increase({{__name__=~"{names}"}}[{seconds}s]))'


def by_namespace(series: list[Series]) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in series:
        ns = s.labels.get("exported_namespace") or s.labels.get("namespace")
        if ns:
            out[ns] = out.get(ns, 0.0) + s.value
    return out


@dataclass(frozen=True)
class Outcome:
    sessions: int
    rows: int
    query_seconds: float | None
    error: str | None
    decisions: dict[str, int]


class ActivityCollector:
    def __init__(
        self,
        db: Database,
        prometheus: Prometheus | None,
        interval: timedelta = timedelta(seconds=60),
    ) -> None:
        self.db, self.prometheus, self.interval = db, prometheus, interval
        self._last: datetime | None = None
        self._thread: threading.Thread | None = None
        self.last_outcome: Outcome | None = None

    def due(self, now: datetime) -> bool:
        return self._last is None or now - self._last >= self.interval

    def start_if_due(self, now: datetime) -> bool:
        """Start a tick in the background when one is due and none is running."""
        if not self.due(now):
            return False
        if self.prometheus is None:  # nothing to measure with: /status says so
            self._last = now
            with self.db.transaction() as tx:
                heartbeats.beat(tx, COMPONENT, now, self._details(None, None, None, {}))
            return False
        if self._thread is not None and self._thread.is_alive():
            # a slow Prometheus: this interval's sample is skipped, not queued
            metrics.ACTIVITY_COLLECTIONS.labels(outcome="skipped").inc()
            return False
        self._last = now
        self._thread = threading.Thread(
            target=self._guarded_tick, args=(now,), name="activity", daemon=True
        )
        self._thread.start()
        return True

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _guarded_tick(self, now: datetime) -> None:
        try:
            self.tick(now)
        except Exception:  # the next interval tries again; the reconciler goes on
            metrics.ACTIVITY_COLLECTIONS.labels(outcome="failed").inc()
            log.exception("activity collection failed")

    def tick(self, now: datetime) -> Outcome:
        """Collect one sample of every ACTIVE session and apply the idle policy."""
        with self.db.transaction() as tx:
            targets = stored_idle.active_sessions(tx)
        rows, took, error = self._collect(targets, now)
        with self.db.transaction() as tx:
            written = activity.record(tx, rows)
        decisions = self._decide(targets, now)
        outcome = Outcome(len(targets), written, took, error, decisions)
        self.last_outcome = outcome
        with self.db.transaction() as tx:
            heartbeats.beat(tx, COMPONENT, now, self._details(outcome, took, error, decisions))
        return outcome

    def _details(
        self,
        outcome: Outcome | None,
        took: float | None,
        error: str | None,
        decisions: dict[str, int],
    ) -> dict[str, object]:
        """What /status shows of the collection."""
        return {
            "prometheus": self.prometheus.url if self.prometheus else None,
            "interval_seconds": self.interval.total_seconds(),
            "sessions": outcome.sessions if outcome else 0,
            "rows": outcome.rows if outcome else 0,
            "query_seconds": round(took, 3) if took is not None else None,
            **({"error": error[:500]} if error else {}),
            "decisions": decisions,
        }

    def _collect(
        self, targets: list[stored_idle.Target], now: datetime
    ) -> tuple[list[activity.Measured], float | None, str | None]:
        if self.prometheus is None or not targets:
            return [], None, None
        seconds = max(int(self.interval.total_seconds()), 1)
        started = time.perf_counter()
        try:
            gpu = by_namespace(self.prometheus.query(gpu_query(seconds), now))
            prompt = by_namespace(
                self.prometheus.query(tokens_query(PROMPT_COUNTERS, seconds), now)
            )
            generated = by_namespace(
                self.prometheus.query(tokens_query(GENERATED_COUNTERS, seconds), now)
            )
        except PrometheusError as exc:
            metrics.ACTIVITY_COLLECTIONS.labels(outcome="unavailable").inc()
            log.warning("no activity sample this interval: %s", exc)
            return [], None, str(exc)
        took = time.perf_counter() - started
        metrics.ACTIVITY_QUERY.observe(took)
        metrics.ACTIVITY_COLLECTIONS.labels(outcome="ok").inc()
        rows = []
        for t in targets:
            g = gpu.get(t.namespace)
            p, q = prompt.get(t.namespace), generated.get(t.namespace)
            rows.append(
                activity.Measured(
                    t.reservation_id,
                    now,
                    seconds,
                    min(max(g, 0.0), 1.0) if g is not None else None,
                    max(round(p), 0) if p is not None else None,
                    max(round(q), 0) if q is not None else None,
                )
            )
        metrics.ACTIVITY_UNMEASURED.set(sum(1 for r in rows if r.gpu_active is None))
        return rows, took, None

    def _decide(self, targets: list[stored_idle.Target], now: datetime) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.db.transaction() as tx:
            policies = {
                t.reservation_id: stored_idle.policy_of(tx, t.pool, t.gpu_kind) for t in targets
            }
        watched = [t for t in targets if policies[t.reservation_id] or t.state.warned_at]
        if not watched:
            return counts
        since = now - max(
            (p.lookback() for p in policies.values() if p is not None), default=timedelta()
        )
        with self.db.transaction() as tx:
            series = activity.samples(tx, [t.reservation_id for t in watched], since)
        for t in watched:
            decision = idle.decide(
                policies[t.reservation_id], series[t.reservation_id], t.state, now
            )
            name = self._act(t, decision, now)
            if name:
                counts[name] = counts.get(name, 0) + 1
        return counts

    def _act(self, t: stored_idle.Target, decision: idle.Decision, now: datetime) -> str | None:
        rid = t.reservation_id
        with self.db.transaction() as tx:
            if isinstance(decision, idle.Warn):
                if not stored_idle.warn(tx, rid, decision.reason, now, decision.release_at):
                    return None
                stored_idle.tell_warned(tx, t, decision.reason, decision.release_at)
                log.info("reservation %s warned (%s)", rid, decision.reason.value)
                name = f"warn:{decision.reason.value}"
            elif isinstance(decision, idle.Clear):
                stored_idle.clear(tx, rid, now, "use")
                name = "clear"
            elif isinstance(decision, idle.Release):
                if not stored_idle.reclaim(tx, rid, decision.reason, now):
                    return None
                stored_idle.tell_released(tx, t, decision.reason, now)
                log.info("reservation %s released (%s)", rid, decision.reason.value)
                name = f"release:{decision.reason.value}"
            else:
                return None
        metrics.IDLE_ACTIONS.labels(action=name).inc()
        return name
