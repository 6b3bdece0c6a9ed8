"""The cache agent's staging loop for one node: poll the plan, download, verify, publish, keep
the disk budget, report.

Each cycle (every `poll` seconds, or sooner when a download ends):

1. GET the plan (on failure keep the last one and say so on stderr).
2. Mark every model the plan names as used now (kept on disk, for LRU).
3. Check each published tree the plan names against its catalog entry once (files and
   sizes, and the fingerprint it was published from; every sha256 with `rehash`); a tree that
   does not match is taken out of `cache/` whole and staged again.
4. Above the high watermark, evict least-recently-used trees the plan does not name (in
   `keep` or `stage`) down to the low one.
5. In order of start, start the downloads that are due (`start - now ≤ lead + 3 × size /
   bandwidth`), at most `concurrency` at once, each admitted by the budget first (which may
   evict to make room); the first one that must wait for room stops the others from
   overtaking it. A failed model is tried again after `retry_failed` seconds.
6. Delete staging trees no wanted model will use; PUT the node's state when it changed, and
   at least every `report_every` seconds.

Everything the report says is rebuilt from the disk at start (`berth.cache.store`): a published
tree is ready, a staging tree is a partial download to resume; nothing else is trusted.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from berth.cache.fetch import Fetcher, FetchError, Stopped
from berth.cache.portal import Portal, PortalError
from berth.cache.store import Store, fingerprint
from berth.domain.cache_budget import Budget, Held, Refused
from berth.domain.cache_protocol import ModelReport, NodeReport, Plan
from berth.domain.catalog import ArtifactState, FailureReason, Model

TOUCH_EVERY = 60.0  # seconds between writes of last-used times for models still wanted


@dataclass(frozen=True)
class AgentConfig:
    node: str
    root: Path
    capacity: int
    high: int
    low: int
    concurrency: int = 2
    poll: float = 5.0
    report_every: float = 5.0
    lead: float = 6 * 3600.0  # stage this long before a start, plus the transfer time x 3
    retry_failed: float = 60.0
    rehash: bool = False  # re-hash every published file at start (slow; sizes are checked)


@dataclass
class Entry:
    state: ArtifactState
    size: int
    reason: FailureReason | None = None
    detail: str = ""
    since: float = 0.0


@dataclass
class Agent:
    config: AgentConfig
    portal: Portal
    fetcher: Fetcher
    clock: Callable[[], float] = time.time
    log: Callable[[str], None] = field(
        default=lambda line: print(line, file=sys.stderr, flush=True)
    )

    def __post_init__(self) -> None:
        c = self.config
        self.store = Store(c.root)
        self.budget = Budget(c.capacity, c.high, c.low)
        self.entries: dict[str, Entry] = {}
        self.inflight: dict[str, Future[None]] = {}
        self.inflight_dirs: dict[str, str] = {}  # model → its staging tree's name
        self.verified: dict[str, str] = {}  # model → fingerprint its published tree matched
        self.plan: Plan | None = None
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.lock = threading.RLock()
        self.executor = ThreadPoolExecutor(max_workers=c.concurrency, thread_name_prefix="stage")
        self._dirty = True
        self._last_report = 0.0
        self._last_touch = 0.0
        self._portal_error = ""

    # --- start: the state from the disk --------------------------------------------------

    def start(self) -> None:
        self.store.prepare()
        recorded = self.store.recorded()
        for model_id, size in self.store.published().items():
            last = recorded.get(model_id)
            last_used = last.last_used if last and last.last_used else 0.0
            self.budget.held[model_id] = Held(size, last_used)
            self.entries[model_id] = Entry(ArtifactState.READY, size)
        bandwidth = self.store.bandwidth()
        if bandwidth:
            self.fetcher.meter.add(int(bandwidth), 1.0)

    # --- one cycle -----------------------------------------------------------------------

    def tick(self) -> None:
        now = self.clock()
        try:
            self.plan = self.portal.plan(self.config.node)
            self._portal_error = ""
        except PortalError as exc:
            if str(exc) != self._portal_error:  # once per distinct error, not every poll
                self.log(f"cache-agent {self.config.node}: {exc} (acting on the last plan)")
            self._portal_error = str(exc)
        plan = self.plan
        if plan is not None:
            with self.lock:
                self._touch(plan, now)
                self._verify(plan)
                self._evict(self.budget.trim(plan.wanted()))
                self._start_due(plan, now)
                self._clean_staging(plan)
        if self._dirty or now - self._last_report >= self.config.report_every:
            self.send_report()

    def _touch(self, plan: Plan, now: float) -> None:
        wanted = plan.wanted()
        for m in wanted:
            self.budget.touch(m, now)
        if now - self._last_touch >= TOUCH_EVERY:
            self.store.touch_many(set(wanted), now)
            self._last_touch = now

    def _verify(self, plan: Plan) -> None:
        for model in plan.models:
            if model.id in self.inflight or model.id not in self.budget.held:
                continue
            fp = fingerprint(model)
            if self.verified.get(model.id) == fp:
                continue
            why = self.store.matches(model, rehash=self.config.rehash)
            if why is None:
                self.verified[model.id] = fp
                self._set(model.id, Entry(ArtifactState.READY, model.size))
                continue
            self.log(f"cache-agent {self.config.node}: {model.id}: {why}; staging it again")
            self.store.remove(model.id)
            self.budget.forget(model.id)
            self.verified.pop(model.id, None)
            self._set(model.id, Entry(ArtifactState.ABSENT, model.size, detail=why))

    def _evict(self, models: list[str] | tuple[str, ...]) -> None:
        for m in models:
            self.store.remove(m)
            self.verified.pop(m, None)
            size = self.entries[m].size if m in self.entries else 0
            self._set(m, Entry(ArtifactState.EVICTED, size, detail="least recently used"))
            self.log(f"cache-agent {self.config.node}: evicted {m}")

    def _due(self, start: datetime, model: Model, now: float) -> bool:
        bandwidth = self.fetcher.meter.rate()
        transfer = 3 * model.size / bandwidth if bandwidth else 0.0
        return start.timestamp() - now <= self.config.lead + transfer

    def _start_due(self, plan: Plan, now: float) -> None:
        blocked: str | None = None  # an earlier start waiting for room: none overtakes it
        for item in plan.stage:
            model = plan.model(item.model)
            if model is None or model.id in self.inflight or model.id in self.budget.held:
                continue
            entry = self.entries.get(model.id)
            if (
                entry is not None
                and entry.state == ArtifactState.FAILED
                and entry.reason != FailureReason.INSUFFICIENT_CAPACITY
                and now - entry.since < self.config.retry_failed
            ):
                continue
            if not self._due(item.start, model, now):
                when = item.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
                self._set(model.id, Entry(ArtifactState.QUEUED, model.size, detail=f"for {when}"))
                continue
            if blocked is not None:
                self._set(
                    model.id,
                    Entry(ArtifactState.QUEUED, model.size, detail=f"after {blocked}"),
                )
                continue
            if len(self.inflight) >= self.config.concurrency:
                self._set(
                    model.id,
                    Entry(ArtifactState.QUEUED, model.size, detail="waiting for a download slot"),
                )
                continue
            short = self._disk_short(model)
            result = (
                Refused(short, waits=True)
                if short
                else self.budget.admit(model.id, model.size, plan.wanted())
            )
            if isinstance(result, Refused):
                state = ArtifactState.QUEUED if result.waits else ArtifactState.FAILED
                self._set(
                    model.id,
                    Entry(state, model.size, FailureReason.INSUFFICIENT_CAPACITY, result.detail),
                )
                if result.waits:
                    blocked = model.id
                continue
            self._evict(result.evict)
            self._launch(model)

    def _disk_short(self, model: Model) -> str:
        """Why the filesystem itself cannot take the rest of `model` next to the downloads
        in flight (the budget counts only the agent's own bytes), or ''."""
        st = os.statvfs(self.store.root)
        free = st.f_bavail * st.f_frsize
        inflight = sum(self.budget.reserved.values())  # an upper bound of what they still write
        need = model.size - self.store.staged_bytes(model)
        if need + inflight <= free:
            return ""
        return (
            f"the filesystem has {free} bytes free; {need} more are needed ({inflight} in flight)"
        )

    def _clean_staging(self, plan: Plan) -> None:
        """Delete staging trees no wanted model will use (never one being downloaded), and
        forget what is known of models no longer wanted, held or downloading."""
        wanted = plan.wanted()
        keep = {
            self.store.staging_dir(m).name
            for m in plan.models
            if m.id in wanted and m.id not in self.budget.held
        }
        keep |= set(self.inflight_dirs.values())
        self.store.clean_staging(keep)
        for model_id, entry in list(self.entries.items()):
            gone = model_id not in wanted and model_id not in self.inflight
            if gone and model_id not in self.budget.held and entry.state != ArtifactState.EVICTED:
                del self.entries[model_id]
                self._dirty = True

    # --- downloads -----------------------------------------------------------------------

    def stage(self, model: Model) -> Future[None]:
        """Download `model` unless it is already being downloaded: concurrent requests for
        one model share one download. The caller has admitted it in the budget."""
        with self.lock:
            running = self.inflight.get(model.id)
            if running is not None:
                return running
            return self._launch(model)

    def _launch(self, model: Model) -> Future[None]:
        self._set(model.id, Entry(ArtifactState.DOWNLOADING, model.size))
        self.inflight_dirs[model.id] = self.store.staging_dir(model).name
        future = self.executor.submit(self._download, model)
        self.inflight[model.id] = future
        future.add_done_callback(lambda _f: self._done(model.id))
        return future

    def _done(self, model_id: str) -> None:
        with self.lock:
            self.inflight.pop(model_id, None)
            self.inflight_dirs.pop(model_id, None)
        self.wake.set()

    def _download(self, model: Model) -> None:
        try:
            for f in model.files:
                self.fetcher.fetch(
                    model.sources,
                    f,
                    self.store.partial(model, f.path),
                    self.store.staged(model, f.path),
                    stop=self.stop,
                )
            self.store.publish(model)
        except Stopped:
            with self.lock:
                self.budget.release(model.id)
                self._set(model.id, Entry(ArtifactState.QUEUED, model.size, detail="stopped"))
            return
        except FetchError as exc:
            self._fail(model, exc.reason, exc.detail)
            return
        except OSError as exc:
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            reason = FailureReason.INSUFFICIENT_CAPACITY if full else None
            self._fail(model, reason, f"{type(exc).__name__}: {exc}")
            return
        now = self.clock()
        self.store.record(model.id, last_used=now)
        rate = self.fetcher.meter.rate()
        if rate:
            self.store.record_bandwidth(rate)
        with self.lock:
            self.budget.publish(model.id, model.size, now)
            self.verified[model.id] = fingerprint(model)
            self._set(model.id, Entry(ArtifactState.READY, model.size))
        self.log(f"cache-agent {self.config.node}: {model.id} staged")

    def _fail(self, model: Model, reason: FailureReason | None, detail: str) -> None:
        with self.lock:
            self.budget.release(model.id)
            self._set(model.id, Entry(ArtifactState.FAILED, model.size, reason, detail))
        self.log(f"cache-agent {self.config.node}: {model.id} failed: {detail}")

    def _set(self, model_id: str, entry: Entry) -> None:
        old = self.entries.get(model_id)
        if old is not None and (old.state, old.reason, old.detail) == (
            entry.state,
            entry.reason,
            entry.detail,
        ):
            return
        entry.since = self.clock()
        self.entries[model_id] = entry
        self._dirty = True

    # --- the report ----------------------------------------------------------------------

    def report(self) -> NodeReport:
        now = self.clock()
        recorded = self.store.recorded()
        plan = self.plan
        with self.lock:
            models = []
            for model_id, entry in sorted(self.entries.items()):
                model = plan.model(model_id) if plan else None
                if entry.state == ArtifactState.READY:
                    downloaded = entry.size
                elif model is not None and entry.state in (
                    ArtifactState.DOWNLOADING,
                    ArtifactState.QUEUED,
                    ArtifactState.FAILED,
                ):
                    downloaded = self.store.staged_bytes(model)
                else:
                    downloaded = 0
                last = recorded.get(model_id)
                last_used = (
                    datetime.fromtimestamp(last.last_used, UTC) if last and last.last_used else None
                )
                models.append(
                    ModelReport(
                        model=model_id,
                        state=entry.state,
                        size_bytes=entry.size,
                        downloaded_bytes=min(downloaded, entry.size),
                        last_used=last_used,
                        reason=entry.reason,
                        detail=entry.detail,
                    )
                )
            reserved = sum(self.budget.reserved.values())
        return NodeReport(
            node=self.config.node,
            reported_at=datetime.fromtimestamp(now, UTC),
            capacity_bytes=self.config.capacity,
            used_bytes=self.store.used_bytes(),
            reserved_bytes=reserved,
            high_watermark_bytes=self.config.high,
            low_watermark_bytes=self.config.low,
            bandwidth_bytes_per_second=self.fetcher.meter.rate(),
            models=tuple(models),
        )

    def send_report(self) -> None:
        self._dirty = False
        self._last_report = self.clock()
        try:
            self.portal.report(self.config.node, self.report())
        except PortalError as exc:
            self._dirty = True
            self.log(f"cache-agent {self.config.node}: {exc}")

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Cycles until `request_stop`; then stops the downloads (their partial files stay
        for the next start) and sends a last report."""
        self.start()
        try:
            while not self.stop.is_set():
                try:
                    self.tick()
                except Exception as exc:  # one bad cycle must not end the agent
                    self.log(f"cache-agent {self.config.node}: cycle failed: {exc!r}")
                self.wake.wait(self.config.poll)
                self.wake.clear()
        finally:
            self.close()

    def request_stop(self) -> None:
        self.stop.set()
        self.wake.set()

    def close(self) -> None:
        self.stop.set()
        self.executor.shutdown(wait=True)
        self.send_report()
