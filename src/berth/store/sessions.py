"""What the reconciler reads and writes: reservations needing action and their session rows.

Each cycle reads only the reservations that need something (window opened, window closed,
canceled, still provisioning, still tearing down), so its cost grows with changes, not with the
number of sessions. Every write is one short transaction, so a crash between two steps leaves a
state the next cycle continues from.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, true

from berth.domain.reservation import LIVE, Mode, Reserved, Status, transition
from berth.domain.session import SessionState, Work
from berth.store import audit, pools
from berth.store.crypto import SealError, SecretBox
from berth.store.db import Tx
from berth.store.models import PoolRow, Reservation, SessionRow, User
from berth.store.notifications import notify

# the owner's columns a session is built from: Berth's name and how the cluster knows them
_OWNER = (User.username, User.provider, User.cluster_name)


def _input(r: Reservation, owner: str, provider: str, cluster_name: str | None) -> Reserved:
    return Reserved(
        reservation_id=r.id,
        owner=owner,
        owner_provider=provider,
        owner_cluster_name=cluster_name,
        pool=r.pool,
        start=r.start_at,
        end=r.end_at,
        gpu_kind=r.gpu_kind,
        gpu_count=r.gpu_count,
        mode=Mode(r.mode),
        cpu_millicores=r.cpu_millicores,
        memory_bytes=r.memory_bytes,
    )


def _state(s: SessionRow | None) -> SessionState | None:
    if s is None:
        return None
    return SessionState(
        namespace=s.namespace,
        phase=s.phase,
        step=s.step,
        attempts=s.attempts,
        next_attempt_at=s.next_attempt_at,
        updated_at=s.updated_at,
        started_at=s.started_at,
        last_error=s.last_error,
        failing_since=s.failing_since,
    )


def _on(cluster: str | None) -> ColumnElement[bool]:
    """Reservations of the pools on `cluster` (None: every cluster), in SQL: a cluster's
    reconciler never fetches another's work."""
    return true() if cluster is None else Reservation.pool.in_(pools.on_cluster(cluster))


def pending_work(tx: Tx, now: datetime, cluster: str | None = None) -> list[Work]:
    q = (
        select(Reservation, *_OWNER, SessionRow)
        .join(User, User.id == Reservation.owner_id)
        .outerjoin(SessionRow, SessionRow.reservation_id == Reservation.id)
        .where(
            or_(
                and_(Reservation.status == Status.APPROVED.value, Reservation.start_at <= now),
                and_(
                    Reservation.status == Status.ACTIVE.value,
                    or_(Reservation.end_at <= now, SessionRow.phase != "ready"),
                ),
                and_(
                    Reservation.status.notin_([s.value for s in LIVE]),
                    SessionRow.phase.is_not(None),
                    SessionRow.phase != "gone",
                ),
            ),
            _on(cluster),
        )
        .order_by(Reservation.start_at)
    )
    return [
        Work(_input(r, u, p, c), Status(r.status), _state(s)) for r, u, p, c, s in tx.execute(q)
    ]


def kept(tx: Tx, candidates: set[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `candidates` garbage collection must keep: the reservation is live, or its
    session is not gone (whatever its phase). Whatever cluster its pool is on now: a pool
    moved to another cluster (or a slip in the pool file) never deletes a live workspace; the
    old cluster's copy is collected once its reservation is over."""
    if not candidates:
        return set()
    live = select(Reservation.id).where(
        Reservation.id.in_(candidates), Reservation.status.in_([s.value for s in LIVE])
    )
    open_sessions = select(SessionRow.reservation_id).where(
        SessionRow.reservation_id.in_(candidates), SessionRow.phase != "gone"
    )
    return set(tx.scalars(live.union(open_sessions)))


def ready_namespaces(tx: Tx, cluster: str | None = None) -> dict[str, uuid.UUID]:
    """Namespaces of ACTIVE sessions, to notice one deleted behind Berth's back."""
    q = (
        select(SessionRow.namespace, SessionRow.reservation_id)
        .join(Reservation, Reservation.id == SessionRow.reservation_id)
        .where(SessionRow.phase == "ready", _on(cluster))
    )
    return {ns: rid for ns, rid in tx.execute(q)}


def ready_session(tx: Tx, rid: uuid.UUID, box: SecretBox) -> tuple[Reserved, str] | None:
    """An ACTIVE session's reservation and workspace password (None unless it is ready and its
    password opens with `box`): what its fence objects are built from when re-applied."""
    q = (
        select(Reservation, *_OWNER, SessionRow.password_sealed)
        .join(User, User.id == Reservation.owner_id)
        .join(SessionRow, SessionRow.reservation_id == Reservation.id)
        .where(Reservation.id == rid, SessionRow.phase == "ready")
    )
    found = tx.execute(q).first()
    if found is None:
        return None
    r, username, provider, cluster_name, sealed = found
    if sealed is None:
        return None
    try:
        return _input(r, username, provider, cluster_name), box.open(sealed)
    except SealError:
        return None  # a key this process lacks: left as it is rather than given a new password


def record_drift(tx: Tx, rid: uuid.UUID, changed: list[str]) -> None:
    """Objects of a session found changed behind Berth's back and put back."""
    audit.record(tx, "reconciler", "session.drift", f"reservation:{rid}", {"objects": changed})


def next_event(tx: Tx, now: datetime, cluster: str | None = None) -> datetime | None:
    """The next instant something is due: a start, an end, or a retry."""
    candidates = [
        tx.scalar(
            select(func.min(Reservation.start_at)).where(
                Reservation.status == Status.APPROVED.value,
                Reservation.start_at > now,
                _on(cluster),
            )
        ),
        tx.scalar(
            select(func.min(Reservation.end_at)).where(
                Reservation.status.in_([s.value for s in LIVE]),
                Reservation.end_at > now,
                _on(cluster),
            )
        ),
        tx.scalar(
            select(func.min(SessionRow.next_attempt_at))
            .join(Reservation, Reservation.id == SessionRow.reservation_id)
            .where(
                SessionRow.phase == "provisioning",
                SessionRow.next_attempt_at > now,
                _on(cluster),
            )
        ),
    ]
    found = [c for c in candidates if c is not None]
    return min(found) if found else None


def _row(tx: Tx, rid: uuid.UUID) -> SessionRow | None:
    return tx.get(SessionRow, rid, with_for_update=True)


ENDED = frozenset({"tearing_down", "gone", "failed"})  # phases that need no password


def start(tx: Tx, rid: uuid.UUID, namespace: str, now: datetime, box: SecretBox) -> str:
    """Create the session row (once) before anything exists in the cluster; return its password.

    The password is kept sealed with `box`; only the reconciler (for the workspace Secret) and
    the owner (on request) ever see it in the clear.
    """
    row = _row(tx, rid)
    if row is None:
        row = SessionRow(
            reservation_id=rid,
            namespace=namespace,
            phase="provisioning",
            attempts=0,
            started_at=now,
            updated_at=now,
        )
        tx.add(row)
    if row.password_sealed is not None:
        try:
            return box.open(row.password_sealed)
        except SealError:
            # sealed with a key this reconciler does not have (a lost or rotated key): a new
            # password, applied to the workspace Secret with the rest, beats a session stuck
            # for good; the owner reads the new one in the portal
            audit.record(tx, "reconciler", "session.password_reset", f"reservation:{rid}", {})
    password = secrets.token_urlsafe(18)
    row.password_sealed = box.seal(password)
    tx.flush()
    return password


def password(session: SessionRow, box: SecretBox) -> str | None:
    """The workspace password in the clear, if the session still has one."""
    return box.open(session.password_sealed) if session.password_sealed is not None else None


def recreate(tx: Tx, rid: uuid.UUID, now: datetime) -> None:
    """An ACTIVE session lost its namespace: provision it again on the next cycle."""
    row = _row(tx, rid)
    if row is not None and row.phase == "ready":
        row.phase, row.step, row.updated_at = "provisioning", None, now
        audit.record(tx, "reconciler", "session.recreate", f"reservation:{rid}", {})


def record_step(
    tx: Tx, rid: uuid.UUID, step: str | None, now: datetime, *, deadline: datetime | None = None
) -> None:
    """The last step applied (None: start over). A `deadline` ends the wait that follows."""
    row = _row(tx, rid)
    if row is not None:
        row.step = step
        row.updated_at = now
        row.failing_since = None  # a step went through
        if deadline is not None:
            row.next_attempt_at = deadline


def record_server_error(
    tx: Tx, rid: uuid.UUID, error: str, *, retry_in: timedelta, now: datetime
) -> None:
    """The healthy cluster answered 5xx to this session: no attempt counts, but the time does
    (from the first such answer in a row, until a step goes through)."""
    row = _row(tx, rid)
    if row is not None:
        if row.failing_since is None:
            row.failing_since = now
        row.last_error = error[:2000]
        row.next_attempt_at = now + retry_in
        row.updated_at = now


def note(tx: Tx, rid: uuid.UUID, message: str) -> None:
    """Why the workspace is not ready yet, while its wait goes on (counts as no attempt)."""
    row = _row(tx, rid)
    if row is not None:
        row.last_error = message[:2000]


def record_error(
    tx: Tx,
    rid: uuid.UUID,
    error: str,
    *,
    counts: bool,
    retry_in: Callable[[int], timedelta],
    now: datetime,
) -> int:
    """Remember a failed attempt and when to retry (from the attempts so far); return them."""
    row = _row(tx, rid)
    if row is None:
        return 0
    if counts:
        row.attempts += 1
    row.last_error = error[:2000]
    row.next_attempt_at = now + retry_in(row.attempts)
    row.updated_at = now
    return row.attempts


def mark_ready(tx: Tx, rid: uuid.UUID, url: str, now: datetime) -> float | None:
    """Workspace ready: session `ready`, reservation ACTIVE. Return the start lag in seconds."""
    row = _row(tx, rid)
    res = tx.get(Reservation, rid, with_for_update=True)
    if row is None or res is None:
        return None
    row.phase, row.url, row.next_attempt_at, row.last_error = "ready", url, None, None
    row.failing_since = None
    row.step, row.updated_at = "ready", now
    if row.ready_at is None:
        row.ready_at = now
    if Status(res.status) is Status.APPROVED:
        res.status = transition(Status.APPROVED, Status.ACTIVE).value
        res.updated_at = now
        audit.record(tx, "reconciler", "reservation.active", f"reservation:{rid}", {"url": url})
        notify(
            tx,
            user_id=res.owner_id,
            kind="ready",
            title="Your workspace is ready",
            body=(
                f"{res.gpu_count} x {res.gpu_kind} in pool {res.pool}, until "
                f"{res.end_at:%Y-%m-%d %H:%M} UTC: {url}"
            ),
            reservation_id=rid,
            actions=("open",),
        )
        return (now - res.start_at).total_seconds()
    return None


def finish(tx: Tx, rid: uuid.UUID, final: Status | None, reason: str | None, now: datetime) -> None:
    """Move the reservation to its final status (if it is not there yet)."""
    res = tx.get(Reservation, rid, with_for_update=True)
    if res is None or final is None or Status(res.status) is final:
        return
    if Status(res.status) in LIVE:
        res.status = transition(Status(res.status), final).value
        res.reason = reason or res.reason
        res.updated_at = now
        action = f"reservation.{final.value.lower()}"
        audit.record(tx, "reconciler", action, f"reservation:{rid}", {"reason": reason})
        if final is Status.FAILED:
            notify(
                tx,
                user_id=res.owner_id,
                kind="failed",
                title="Your workspace could not be provisioned",
                body=f"Reservation of {res.gpu_count} x {res.gpu_kind} in pool {res.pool} "
                f"failed: {reason or 'no reason recorded'}",
                reservation_id=rid,
            )


def set_phase(tx: Tx, rid: uuid.UUID, phase: str, now: datetime) -> None:
    """Move the session to `phase`; an ended session's password is wiped."""
    row = _row(tx, rid)
    if row is None:
        return
    if row.phase != phase:
        row.phase = phase
        row.updated_at = now
    if phase in ENDED:
        row.password_sealed = None


def workspace(tx: Tx, rid: uuid.UUID) -> SessionRow | None:
    return tx.get(SessionRow, rid)


def waiting_by_cluster(tx: Tx, now: datetime) -> dict[str, int]:
    """Per cluster, the reservations whose window is open but whose workspace is not ready
    yet (APPROVED, started): the sessions that wait for their cluster."""
    q = (
        select(PoolRow.cluster, func.count())
        .join(Reservation, Reservation.pool == PoolRow.name)
        .where(Reservation.status == Status.APPROVED.value, Reservation.start_at <= now)
        .group_by(PoolRow.cluster)
    )
    return {cluster: int(n) for cluster, n in tx.execute(q)}


def phase_counts(tx: Tx, cluster: str | None = None) -> dict[str, int]:
    q = (
        select(SessionRow.phase, func.count())
        .join(Reservation, Reservation.id == SessionRow.reservation_id)
        .where(_on(cluster))
        .group_by(SessionRow.phase)
    )
    return {phase: int(n) for phase, n in tx.execute(q)}
