"""The reconcile cycle and the loop around it: leader election, wake-ups, cadences.

A cycle is level-triggered: it reads what the database wants and what the cluster has, plans,
and acts. It runs every `interval`, at once when the API NOTIFYs a change, and exactly at the
next reservation start or end, so a session opens when its window does. Garbage collection runs
at a slower cadence; database upkeep hourly.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from berth.domain.pool import DEFAULT_CLUSTER
from berth.domain.session import SessionConfig, installation_of
from berth.kube import prepull as images
from berth.kube.cluster import Cluster, NamespaceInfo
from berth.kube.errors import KubeError, Transient
from berth.kube.manifests import installation_selector
from berth.kube.manifests import prepull as prepull_manifests
from berth.reconciler import metrics
from berth.reconciler.activity import ActivityCollector
from berth.reconciler.executor import STARTS, Executor
from berth.reconciler.plan import (
    Action,
    Limits,
    about,
    drift_due,
    found_reservations,
    garbage,
    plan,
    prepull,
)
from berth.store import catalog, heartbeats, maintenance, pools, sessions
from berth.store.crypto import SecretBox
from berth.store.db import UNAVAILABLE, Database
from berth.store.leader import Leadership
from berth.store.locks import reconciler_key

log = logging.getLogger("berth.reconciler")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Cadence:
    interval: timedelta = timedelta(seconds=30)
    gc_interval: timedelta = timedelta(minutes=5)
    # every ACTIVE session's fence is applied again once per drift_interval (0: never), the
    # sessions spread over it
    drift_interval: timedelta = timedelta(minutes=30)
    upkeep_interval: timedelta = timedelta(hours=1)
    standby_poll: timedelta = timedelta(seconds=5)
    ready_poll: timedelta = timedelta(seconds=2)  # while a workspace is starting
    audit_retention: timedelta = timedelta(days=365)


@dataclass
class CycleResult:
    actions: list[Action]
    next_event: datetime | None

    @property
    def busy(self) -> bool:
        """Sessions are coming up: their readiness is worth polling soon."""
        return any(isinstance(a, STARTS) for a in self.actions)


class Reconciler:
    def __init__(
        self,
        db: Database,
        cluster: Cluster,
        cfg: SessionConfig,
        *,
        limits: Limits | None = None,
        cadence: Cadence | None = None,
        clock: Callable[[], datetime] = utcnow,
        source: str = "a cluster",
        box: SecretBox | None = None,
        activity: ActivityCollector | None = None,
        cluster_name: str = DEFAULT_CLUSTER,
    ) -> None:
        """`box` seals workspace passwords; the portal must open them with the same keys
        (`Settings.secret_box()`). None: a key of its own, for tests that never show them.
        `activity` measures the sessions and applies the idle policy (None: neither).
        `cluster_name`: the pool file's name of `cluster`; only its pools' sessions are
        driven, under a leader lock of its own (docs/scale.md)."""
        self.db, self.cluster, self.clock, self.source = db, cluster, clock, source
        self.name = cluster_name
        self.limits = limits or Limits()
        self.cadence = cadence or Cadence()
        self.executor = Executor(
            db,
            cluster,
            cfg,
            self.limits,
            box or SecretBox.ephemeral(),
            cluster_name=cluster_name,
            clock=clock,
            ready_poll=self.cadence.ready_poll.total_seconds(),
        )
        self.cfg = cfg
        self.installation = cfg.installation
        self._prepull_key: str | None = None  # what the pre-pull DaemonSets were last made from
        self._selector = installation_selector(cfg.installation)
        self._last_gc: datetime | None = None
        self._last_drift: datetime | None = None
        self._last_upkeep: datetime | None = None
        self._image_series: list[tuple[str, ...]] = []  # the berth_engine_images series set
        self.activity = activity

    def cycle(self, *, gc: bool | None = None) -> CycleResult:
        """One pass: stop, repair, start; then GC and upkeep when due."""
        started = time.perf_counter()
        now = self.clock()
        with self.db.transaction() as tx:
            work = sessions.pending_work(tx, now, self.name)
            ready = sessions.ready_namespaces(tx, self.name)
        observed = self._namespaces()
        actions = plan(work, observed, ready, now, self.limits)
        # drift repair: the ACTIVE sessions whose turn came since the last cycle (none on the
        # first cycle after a start: turns are fixed instants, not a backlog)
        since = self._last_drift or now
        actions += drift_due(
            ready, observed, about(actions), since, now, self.cadence.drift_interval
        )
        self.executor.run(actions, now)
        self._last_drift = now
        due_gc = gc if gc is not None else self._due(self._last_gc, self.cadence.gc_interval, now)
        actions += self.keep_engine_images(now, verify=due_gc)
        if due_gc:
            # after the cycle's own work, never beside it, and sparing what it just touched
            collected = self.collect_garbage(now, busy=about(actions))
            self.executor.run(collected, now)
            actions += collected
            self._last_gc = now
        if self.activity is not None:  # its own thread: the cycle never waits on Prometheus
            self.activity.start_if_due(now)
        if self._due(self._last_upkeep, self.cadence.upkeep_interval, now):
            maintenance.run(self.db, now, self.cadence.audit_retention)
            self._last_upkeep = now
        took = time.perf_counter() - started
        with self.db.transaction() as tx:
            phases = sessions.phase_counts(tx, self.name)
            for phase, n in phases.items():
                metrics.SESSIONS.labels(self.name, phase).set(n)
            upcoming = sessions.next_event(tx, now, self.name)
            heartbeats.beat(
                tx,
                heartbeats.reconciler_component(self.name),
                now,
                {
                    "cluster": self.source,
                    "cycle_seconds": round(took, 3),
                    "actions": len(actions),
                    "sessions": phases,
                    "next_event": upcoming.isoformat() if upcoming else None,
                    "interval_seconds": self.cadence.interval.total_seconds(),
                },
            )
        metrics.CYCLE.labels(self.name).observe(took)
        metrics.CLUSTER_UP.labels(self.name).set(1)
        metrics.LAST_CYCLE.labels(self.name).set(time.time())
        return CycleResult(actions, upcoming)

    def collect_garbage(self, now: datetime, busy: set[uuid.UUID]) -> list[Action]:
        """Plan the sweep from one consistent view: the cluster is listed first, then the
        database is asked about exactly the reservations found there (see plan.garbage)."""
        observed = self._namespaces()
        scoped = [
            ref
            for ref in self.cluster.cluster_scoped(self._selector)
            if installation_of(ref.labels) == self.installation
        ]
        with self.db.transaction() as tx:
            keep = sessions.kept(tx, found_reservations(observed, scoped)) | busy
        return garbage(observed, scoped, keep, now, self.limits)

    def keep_engine_images(self, now: datetime, *, verify: bool) -> list[Action]:
        """The pre-pull DaemonSets, one per pool (docs/runtime.md). Level-triggered but cheap:
        the desired DaemonSets are compared with the cluster's only when the catalog or the
        pools changed since the last look (their hash, in memory: a restart looks once) or
        when `verify` (the GC cadence) asks; then the pods' image state is read too."""
        with self.db.transaction() as tx:
            pool_list = pools.list_all(tx, cluster=self.name)
            engines = catalog.get(tx).engines
        openshift = bool(engines) and self.cluster.is_openshift()  # cached after the first ask
        wanted = prepull_manifests.desired(pool_list, engines, self.cfg, openshift=openshift)
        desired = {
            name: (m["metadata"]["annotations"][prepull_manifests.HASH_ANNOTATION], m)
            for name, m in wanted.items()
        }
        key = ",".join(f"{name}={digest}" for name, (digest, _) in sorted(desired.items()))
        if key == self._prepull_key and not verify:
            return []
        namespace = self.cfg.platform_namespace
        selector = prepull_manifests.selector(self.cfg)
        try:
            found = self.cluster.list_objects("apps/v1", "DaemonSet", namespace, selector)
        except Transient as exc:  # tried again next cycle; sessions never wait for images
            log.warning("pre-pull DaemonSets not listed in %s: %s", namespace, exc)
            return []
        except KubeError as exc:
            log.error("could not list the pre-pull DaemonSets in %s: %s", namespace, exc)
            self._prepull_key = key  # tried; the next verify tries again
            return []
        observed = {
            d["metadata"]["name"]: (d["metadata"].get("annotations") or {}).get(
                prepull_manifests.HASH_ANNOTATION
            )
            for d in found
        }
        actions = prepull(desired, observed, namespace)
        try:
            self.executor.run(actions, now)
        except Transient as exc:  # e.g. the platform namespace being deleted: next cycle
            log.warning("pre-pull DaemonSets not applied in %s: %s", namespace, exc)
            return actions
        self._prepull_key = key
        if verify:
            self.record_engine_images()
        return actions

    def record_engine_images(self) -> list[images.NodeImage]:
        """Per-node image state from the pre-pull pods, into `berth_engine_images`."""
        try:
            pods = self.cluster.list_objects(
                "v1", "Pod", self.cfg.platform_namespace, prepull_manifests.selector(self.cfg)
            )
        except KubeError as exc:  # the image state waits for the next look; the cycle goes on
            log.error("could not read the pre-pull pods' image state: %s", exc)
            return []
        found = images.node_images(pods)
        for labels in self._image_series:  # this cluster's last look only; others keep theirs
            with contextlib.suppress(KeyError):  # another reconciler of it removed it first
                metrics.ENGINE_IMAGES.remove(*labels)
        self._image_series = [
            (self.name, image.pool, image.node, image.engine, str(image.state)) for image in found
        ]
        for labels in self._image_series:
            metrics.ENGINE_IMAGES.labels(*labels).set(1)
        for image in found:
            if image.state is images.ImageState.FAILED:
                log.warning(
                    "engine %s cannot be pulled on %s: %s", image.engine, image.node, image.detail
                )
        return found

    def _namespaces(self) -> dict[str, NamespaceInfo]:
        """This installation's namespaces: another installation's are never seen, so never
        planned for nor collected (the default one also owns unlabelled, older namespaces)."""
        return {
            ns.name: ns
            for ns in self.cluster.namespaces(self._selector)
            if installation_of(ns.labels) == self.installation
        }

    def report_failure(self, error: str) -> None:
        """A cycle that could not reach the cluster still tells the portal so, with the
        sessions that wait on it (phase counts of this cluster's pools)."""
        metrics.CLUSTER_UP.labels(self.name).set(0)
        metrics.LAST_CYCLE.labels(self.name).set(time.time())
        with self.db.transaction() as tx:
            heartbeats.beat(
                tx,
                heartbeats.reconciler_component(self.name),
                self.clock(),
                {
                    "cluster": self.source,
                    "error": error[:500],
                    "sessions": sessions.phase_counts(tx, self.name),
                    "interval_seconds": self.cadence.interval.total_seconds(),
                },
            )

    @staticmethod
    def _due(last: datetime | None, every: timedelta, now: datetime) -> bool:
        return last is None or now - last >= every

    def _sleep_for(self, result: CycleResult | None) -> float:
        wait = self.cadence.interval.total_seconds()
        if result is not None and result.busy:
            wait = min(wait, self.cadence.ready_poll.total_seconds())
        if result is not None and result.next_event is not None:
            until = (result.next_event - self.clock()).total_seconds()
            wait = min(wait, max(until, 0.0) + 0.05)
        if self.activity is not None and self.activity.prometheus is not None:
            wait = min(wait, self.activity.interval.total_seconds())
        return wait

    def run(self, stop: threading.Event) -> None:
        """Stand by until this process is the leader, then cycle until `stop` is set.

        A database that stops answering (restarted, failed over) is waited out: the cycle that
        meets it fails with a logged error, the leader connection is dropped, and the loop
        stands by until it can take the lock again on a new connection.
        """
        leader = Leadership(self.db.engine, reconciler_key(self.name))
        leading = metrics.LEADER.labels(self.name)
        try:
            while not stop.is_set():
                if not self._try_lead(leader):
                    leading.set(0)
                    stop.wait(self.cadence.standby_poll.total_seconds())
                    continue
                leading.set(1)
                log.info("this reconciler is now the leader of cluster %s", self.name)
                self._lead(leader, stop)
                leading.set(0)
        finally:
            leader.close()

    @staticmethod
    def _try_lead(leader: Leadership) -> bool:
        try:
            return leader.try_acquire()
        except UNAVAILABLE as exc:
            log.error("database unavailable, standing by: %s", _first_line(exc))
            leader.close()
            return False

    def _lead(self, leader: Leadership, stop: threading.Event) -> None:
        while not stop.is_set() and leader.still_leader():
            result: CycleResult | None = None
            try:
                result = self.cycle()
                wait = self._sleep_for(result)
            except Transient as exc:
                log.warning(
                    "cluster %s unavailable, retrying in %.0f s: %s",
                    self.name,
                    exc.retry_after,
                    exc,
                )
                self.report_failure(f"cluster unavailable: {exc}")
                wait = min(exc.retry_after, self.cadence.interval.total_seconds())
            except KubeError as exc:
                log.error("cycle of cluster %s failed: %s", self.name, exc)
                self.report_failure(f"{type(exc).__name__}: {exc}")
                wait = self.cadence.interval.total_seconds()
            except UNAVAILABLE as exc:
                # Nothing to report it to: the heartbeat lives in the same database.
                log.error("cycle failed: database unavailable: %s", _first_line(exc))
                leader.close()  # its connection went with the server, and the lock with it
                return
            try:
                self._wait(leader, stop, wait)
            except Exception:
                log.warning("lost the leader connection; standing by")
                leader.close()
                return

    @staticmethod
    def _wait(leader: Leadership, stop: threading.Event, seconds: float) -> None:
        """Sleep up to `seconds`; a NOTIFY from the API or `stop` ends it early."""
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or leader.wait(min(left, 1.0)):
                return


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
