"""Apply the plan's actions: the cluster first, then the database, one short transaction each.

Order matters for crash safety. A session row exists before anything is created in the
cluster, so a namespace is never unowned (and garbage collection, which reads the database
after listing the cluster, never mistakes a session being provisioned for a leftover); a
namespace is deleted before its reservation is marked, so a crash in between repeats the
(idempotent) delete rather than leaving it behind.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta

from berth.domain.pool import DEFAULT_CLUSTER
from berth.domain.reservation import Status
from berth.domain.session import SessionConfig, Work, build, known_gpu_resources, workspace_url
from berth.kube.cluster import Cluster, ObjectRef
from berth.kube.errors import KubeError, ServerError, Transient
from berth.kube.manifests import fence_objects, session_phases, session_selector, session_steps
from berth.reconciler import metrics
from berth.reconciler.plan import (
    WAITING,
    Action,
    ApplyPrepull,
    CheckReady,
    DeleteLeftover,
    DeleteOrphan,
    DeletePrepull,
    Diagnose,
    Fail,
    Finish,
    Limits,
    Provision,
    Recreate,
    Refence,
    Teardown,
    Unstick,
)
from berth.store import catalog, pools, sessions
from berth.store.crypto import SecretBox
from berth.store.db import Database

log = logging.getLogger("berth.reconciler")


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... at most 5 minutes."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 300))


WORKERS = 8  # sessions worked on side by side, per cluster
STARTS = (Provision, CheckReady, Diagnose)  # sessions coming up: their readiness is polled
PARALLEL = (*STARTS, Refence)  # per session, independent: worked on side by side


class Executor:
    def __init__(
        self,
        db: Database,
        cluster: Cluster,
        cfg: SessionConfig,
        limits: Limits,
        box: SecretBox,
        workers: int = WORKERS,
        cluster_name: str = DEFAULT_CLUSTER,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ready_poll: float = 2.0,
    ) -> None:
        """`clock` stamps the moment a workspace is found ready (the start lag); `ready_poll`:
        seconds between two checks of a session whose objects are applied while the cycle is
        still provisioning others."""
        self.db, self.cluster, self.cfg, self.limits = db, cluster, cfg, limits
        self.box, self.workers, self.cluster_name = box, workers, cluster_name
        self.clock, self.ready_poll = clock, ready_poll

    def run(self, actions: list[Action], now: datetime) -> None:
        """Stops and repairs one by one, in order; then starts (and drift repairs) side by side.

        Sessions are independent of each other, and provisioning one is a chain of round trips,
        so a hundred windows opening at once are worked on by `workers` threads.
        """
        starts = [a for a in actions if isinstance(a, PARALLEL)]
        for action in actions:
            if not isinstance(action, PARALLEL):
                self._guarded(action, now)
        if len(starts) <= 1 or self.workers <= 1:
            for action in starts:
                self._guarded(action, now)
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="provision") as pool:
            futures = [pool.submit(self._guarded, a, now) for a in starts]
            self._check_while_provisioning(futures)
        errors = [e for f in futures if (e := f.exception()) is not None]
        if errors:
            raise errors[0]  # every failure is already recorded; one is enough to back off

    def _check_while_provisioning(self, futures: list[Future[Work | None]]) -> None:
        """While the workers still provision sessions, check every `ready_poll` seconds the
        sessions they have applied and mark those whose workspace is up ready at once.

        Without this a session applied early in a cycle that opens a hundred waited for the
        cycle's last session (many seconds on a busy control plane) and the next cycle's check.
        The checks run here, in the thread that waits for the workers, one GET each, so they
        never queue behind provisioning; once the last provision is done the cycle ends and the
        next cycles' CheckReady take over. A session is checked at most once per `ready_poll`.
        """
        pending: set[Future[Work | None]] = set(futures)
        due: dict[uuid.UUID, tuple[float, Work]] = {}  # applied, not ready: next check at
        while pending:
            done, pending = wait(pending, timeout=self.ready_poll, return_when=FIRST_COMPLETED)
            for f in done:
                if f.exception() is None and (w := f.result()) is not None:
                    due[w.reservation.reservation_id] = (time.monotonic() + self.ready_poll, w)
            for rid, (at, w) in list(due.items()):
                if not pending or at > time.monotonic():
                    continue
                try:
                    state = self.cluster.workspace_state(w.namespace)
                except Transient:
                    return  # the workers meet it too; the cycle fails and backs off
                except KubeError as exc:
                    log.warning("checking %s while others are provisioned: %s", w.namespace, exc)
                    state = None
                if state is not None and state.ready:
                    del due[rid]
                    self._ready(rid, workspace_url(w.namespace, self.cfg))
                else:
                    due[rid] = (time.monotonic() + self.ready_poll, w)

    def _guarded(self, action: Action, now: datetime) -> Work | None:
        """Run one action; for a session start, return its work while it waits for readiness."""
        metrics.ACTIONS.labels(self.cluster_name, type(action).__name__).inc()
        try:
            return self._one(action, now)
        except Transient as exc:
            metrics.ERRORS.labels(self.cluster_name, "transient").inc()
            log.warning("cluster unavailable during %s: %s", type(action).__name__, exc)
            raise  # the rest of this cycle would fail the same way; retry next cycle
        except KubeError as exc:
            metrics.ERRORS.labels(self.cluster_name, type(exc).__name__.lower()).inc()
            log.error("%s failed: %s", action, exc)
        return None

    def _one(self, action: Action, now: datetime) -> Work | None:
        if isinstance(action, Teardown):
            # cluster-scoped objects first: a crash after the namespace's deletion leaves a plan
            # that only Finishes, so nothing after it would come back for them (sessions make
            # none now; this removes the artifact volumes of older versions)
            self._delete_cluster_scoped(action.reservation_id)
            self.cluster.delete_namespace(action.namespace)
            with self.db.transaction() as tx:
                sessions.finish(tx, action.reservation_id, action.final, action.reason, now)
                sessions.set_phase(tx, action.reservation_id, "tearing_down", now)
        elif isinstance(action, Finish):
            with self.db.transaction() as tx:
                sessions.finish(tx, action.reservation_id, action.final, action.reason, now)
                phase = "gone" if action.gone else "tearing_down"
                sessions.set_phase(tx, action.reservation_id, phase, now)
        elif isinstance(action, Fail):
            with self.db.transaction() as tx:
                sessions.finish(tx, action.reservation_id, Status.FAILED, action.reason, now)
                sessions.set_phase(tx, action.reservation_id, "failed", now)
        elif isinstance(action, Recreate):
            # cluster-scoped objects of an older version (its artifact volume) still point at
            # the deleted namespace's claims; the cache agent makes the volume anew
            self._delete_cluster_scoped(action.reservation_id)
            with self.db.transaction() as tx:
                sessions.recreate(tx, action.reservation_id, now)
        elif isinstance(action, Provision):
            return self._provision(action.work, now)
        elif isinstance(action, CheckReady):
            return self._check_ready(action.work)
        elif isinstance(action, Diagnose):
            self._diagnose(action.work, now)
        elif isinstance(action, Refence):
            self._refence(action)
        elif isinstance(action, DeleteOrphan):
            log.info("deleting orphaned namespace %s", action.namespace)
            self.cluster.delete_namespace(action.namespace)
        elif isinstance(action, DeleteLeftover):
            log.info("deleting leftover %s %s", action.ref.kind, action.ref.name)
            self.cluster.delete(action.ref)
        elif isinstance(action, ApplyPrepull):
            log.info("applying the pre-pull DaemonSet %s", action.name)
            self.cluster.apply([action.manifest])
        elif isinstance(action, DeletePrepull):
            log.info("deleting the pre-pull DaemonSet %s (its pool is gone)", action.name)
            self.cluster.delete(ObjectRef("apps/v1", "DaemonSet", action.name, action.namespace))
        elif isinstance(action, Unstick):
            log.warning("namespace %s stuck terminating; clearing its finalizers", action.namespace)
            self.cluster.clear_namespace_finalizers(action.namespace)
        return None

    def _delete_cluster_scoped(self, rid: uuid.UUID) -> None:
        for ref in self.cluster.cluster_scoped(session_selector(str(rid))):
            self.cluster.delete(ref)

    def _provision(self, w: Work, now: datetime) -> Work | None:
        """Apply every step; the work back if the workspace is not ready yet."""
        rid, ns = w.reservation.reservation_id, w.namespace
        with self.db.transaction() as tx:
            password = sessions.start(tx, rid, ns, now, self.box)
            pool = pools.get(tx, w.reservation.pool)
            gpu_resources = known_gpu_resources(pools.list_all(tx))
            engines_and_models = catalog.get(tx)
        spec = build(w.reservation, pool, self.cfg, gpu_resources, engines_and_models)
        try:
            steps = session_steps(spec, openshift=self.cluster.is_openshift(), password=password)
            for phase in session_phases(steps):
                self.cluster.apply_together([o for _, objects in phase for o in objects])
                with self.db.transaction() as tx:
                    sessions.record_step(tx, rid, phase[-1][0], now)
            with self.db.transaction() as tx:
                deadline = now + self.limits.ready_timeout
                sessions.record_step(tx, rid, WAITING, now, deadline=deadline)
            if self.cluster.workspace_state(ns).ready:
                self._ready(rid, spec.url)
                return None
            return w
        except ServerError as exc:
            if self.cluster.healthy():  # the cluster is up: this session's requests fail
                with self.db.transaction() as tx:
                    message = f"the cluster answered: {exc}"
                    wait = timedelta(seconds=max(exc.retry_after, 5.0))
                    sessions.record_server_error(tx, rid, message, retry_in=wait, now=now)
                raise KubeError(message) from exc  # logged; other sessions go on
            self._unavailable(rid, exc, now)
            raise
        except Transient as exc:
            self._unavailable(rid, exc, now)
            raise
        except KubeError as exc:
            with self.db.transaction() as tx:
                message = f"{type(exc).__name__}: {exc}"
                sessions.record_error(tx, rid, message, counts=True, retry_in=backoff, now=now)
            raise

    def _unavailable(self, rid: uuid.UUID, exc: Transient, now: datetime) -> None:
        """The cluster is down or overloaded: retry after its hint, counting no attempt."""
        wait = timedelta(seconds=exc.retry_after)
        with self.db.transaction() as tx:
            message = f"cluster unavailable: {exc}"
            sessions.record_error(tx, rid, message, counts=False, retry_in=lambda _: wait, now=now)

    def _refence(self, action: Refence) -> None:
        """Apply an ACTIVE session's fence objects again; count and record what had changed."""
        rid = action.reservation_id
        with self.db.transaction() as tx:
            found = sessions.ready_session(tx, rid, self.box)
            if found is None:
                return  # no longer ready: the next cycle's plan deals with it
            reserved, password = found
            pool = pools.get(tx, reserved.pool)
            gpu_resources = known_gpu_resources(pools.list_all(tx))
            engines_and_models = catalog.get(tx)
        spec = build(reserved, pool, self.cfg, gpu_resources, engines_and_models)
        steps = session_steps(spec, openshift=self.cluster.is_openshift(), password=password)
        changed = self.cluster.reapply(fence_objects(steps))
        if not changed:
            return
        names = [f"{ref.kind}/{ref.name}" for ref in changed]
        for ref in changed:
            metrics.DRIFT_REPAIRS.labels(self.cluster_name, ref.kind).inc()
        log.warning("namespace %s had drifted; applied again: %s", action.namespace, names)
        with self.db.transaction() as tx:
            sessions.record_drift(tx, rid, names)

    def _check_ready(self, w: Work) -> Work | None:
        rid = w.reservation.reservation_id
        state = self.cluster.workspace_state(w.namespace)
        if state.ready:
            self._ready(rid, workspace_url(w.namespace, self.cfg))
            return None
        if state.reason is not None and (w.session is None or w.session.last_error != state.reason):
            with self.db.transaction() as tx:  # shown to the owner while the wait goes on
                sessions.note(tx, rid, state.reason)
        return w

    def _diagnose(self, w: Work, now: datetime) -> None:
        """The wait's budget is spent: say why, count the attempt, re-apply after a backoff."""
        rid = w.reservation.reservation_id
        if self.cluster.workspace_state(w.namespace).ready:
            self._ready(rid, workspace_url(w.namespace, self.cfg))
            return
        try:
            why = self.cluster.diagnose_workspace(w.namespace)
        except Transient:
            raise
        except KubeError as exc:
            why = f"could not be diagnosed ({exc})"
        minutes = self.limits.ready_timeout.total_seconds() / 60
        message = f"workspace not ready {minutes:g} min after its objects were applied: {why}"
        log.warning("reservation %s: %s", rid, message)
        with self.db.transaction() as tx:
            sessions.record_error(tx, rid, message, counts=True, retry_in=backoff, now=now)
            sessions.record_step(tx, rid, None, now)

    def _ready(self, rid: uuid.UUID, url: str) -> None:
        """Ready now: stamped with the clock, not the cycle's start (the start lag is real)."""
        with self.db.transaction() as tx:
            lag = sessions.mark_ready(tx, rid, url, self.clock())
        if lag is not None:
            metrics.START_LAG.labels(self.cluster_name).observe(max(lag, 0.0))
            log.info("reservation %s is ACTIVE (start lag %.1f s)", rid, lag)
