"""Idle-reclaim state (`session_idle`): the owner's first open and "keep" (from the portal), the
reconciler's warnings and releases. The decisions themselves are `domain.idle.decide`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from berth.domain.idle import IdlePolicy, IdleState, Reason
from berth.domain.reservation import Status
from berth.store import audit, pools
from berth.store.db import Tx
from berth.store.errors import Conflict
from berth.store.models import Reservation, SessionIdle, SessionRow
from berth.store.notifications import notify
from berth.store.reservations import end_now, get_locked
from berth.store.users import Principal

ACTOR = "reconciler"


@dataclass(frozen=True)
class Target:
    """An ACTIVE session the idle policy looks at."""

    reservation_id: uuid.UUID
    namespace: str
    owner_id: int
    pool: str
    gpu_kind: str
    state: IdleState


def _kept(row: SessionIdle, now: datetime) -> bool:
    return row.keep_until is not None and row.keep_until > now


def _upsert(tx: Tx, rid: uuid.UUID, now: datetime, **values: object) -> None:
    tx.execute(
        insert(SessionIdle)
        .values(reservation_id=rid, updated_at=now, **values)
        .on_conflict_do_update(
            index_elements=[SessionIdle.reservation_id], set_={"updated_at": now, **values}
        )
    )


def active_sessions(tx: Tx) -> list[Target]:
    """Every ACTIVE reservation whose workspace is ready, with its idle state."""
    q = (
        select(
            Reservation.id,
            SessionRow.namespace,
            Reservation.owner_id,
            Reservation.pool,
            Reservation.gpu_kind,
            SessionRow.ready_at,
            SessionIdle,
        )
        .join(SessionRow, SessionRow.reservation_id == Reservation.id)
        .outerjoin(SessionIdle, SessionIdle.reservation_id == Reservation.id)
        .where(Reservation.status == Status.ACTIVE.value, SessionRow.phase == "ready")
        .order_by(Reservation.id)
    )
    out = []
    for rid, ns, owner, pool, kind, ready_at, idle in tx.execute(q):
        if ready_at is None:
            continue
        state = IdleState(ready_at=ready_at)
        if idle is not None:
            state = IdleState(
                ready_at=ready_at,
                opened_at=idle.opened_at,
                warned_at=idle.warned_at,
                reason=Reason(idle.reason) if idle.reason else None,
                keep_until=idle.keep_until,
            )
        out.append(Target(rid, ns, owner, pool, kind, state))
    return out


def warn(tx: Tx, rid: uuid.UUID, reason: Reason, now: datetime, release_at: datetime) -> bool:
    """Record the warning (once: a standing one is left as it is); True if it is new."""
    row = tx.get(SessionIdle, rid, with_for_update=True)
    if row is not None and (row.warned_at is not None or _kept(row, now)):
        return False  # warned already, or kept since the decision was made
    _upsert(tx, rid, now, warned_at=now, reason=reason.value, release_at=release_at)
    audit.record(
        tx,
        ACTOR,
        "reservation.idle_warning",
        f"reservation:{rid}",
        {"reason": reason.value, "release_at": release_at.isoformat()},
    )
    return True


def clear(tx: Tx, rid: uuid.UUID, now: datetime, why: str) -> None:
    """The warning is answered (by use, a keep, or a policy switched off)."""
    row = tx.get(SessionIdle, rid, with_for_update=True)
    if row is None or row.warned_at is None:
        return
    reason = row.reason
    row.warned_at = row.reason = row.release_at = None
    row.updated_at = now
    audit.record(
        tx, ACTOR, "reservation.idle_cleared", f"reservation:{rid}", {"reason": reason, "by": why}
    )


def reclaim(tx: Tx, rid: uuid.UUID, reason: Reason, now: datetime) -> bool:
    """Release an ACTIVE reservation whose warning went unanswered: COMPLETED with reason
    `idle` or `no-show`; the reconciler's teardown deletes the namespace. False if it is no
    longer ACTIVE (released, canceled or ended meanwhile) or the warning was answered since the
    decision was made (kept, or opened for a no-show): the locked rows decide, not the read."""
    row = tx.get(Reservation, rid, with_for_update=True)
    if row is None or Status(row.status) is not Status.ACTIVE:
        return False
    state = tx.get(SessionIdle, rid, with_for_update=True)
    if state is None or state.warned_at is None or state.reason != reason.value:
        return False
    if _kept(state, now) or (reason is Reason.NO_SHOW and state.opened_at is not None):
        return False
    end_now(tx, row, now, reason.value, ACTOR, "reservation.idle_release", None, {"why": reason})
    return True


WARNED = {
    Reason.IDLE: "Your GPUs have been idle",
    Reason.NO_SHOW: "Your workspace has not been opened",
}


def tell_warned(tx: Tx, t: Target, reason: Reason, release_at: datetime) -> None:
    """The owner's idle warning (bell, and e-mail/webhook as they chose), with the answers
    that fit: keep it, or release it now."""
    what = f"{t.gpu_kind} session in pool {t.pool}"
    notify(
        tx,
        user_id=t.owner_id,
        kind="idle",
        title=WARNED[reason],
        body=f"Your {what} will be released at {release_at:%H:%M} UTC unless you keep it or "
        "use it.",
        reservation_id=t.reservation_id,
        actions=("keep", "release"),
    )


def tell_released(tx: Tx, t: Target, reason: Reason, now: datetime) -> None:
    why = "its GPUs stayed idle" if reason is Reason.IDLE else "its workspace was never opened"
    notify(
        tx,
        user_id=t.owner_id,
        kind="released",
        title="Your workspace was released",
        body=f"Your {t.gpu_kind} session in pool {t.pool} was released at {now:%H:%M} UTC: "
        f"{why} and the warning went unanswered. The rest of its window is free for others.",
        reservation_id=t.reservation_id,
    )


def policy_of(tx: Tx, pool: str, gpu_kind: str) -> IdlePolicy | None:
    return pools.get(tx, pool).idle.get(gpu_kind)


def keep(tx: Tx, who: Principal, rid: uuid.UUID, now: datetime, client: str | None) -> Reservation:
    """The owner's (or an admin's) "keep": no warning and no release until `keep_until`, and
    a standing warning is withdrawn. Only for an ACTIVE reservation whose pool has an idle
    policy for its GPU kind (else 409)."""
    row = get_locked(tx, who, rid)
    if Status(row.status) is not Status.ACTIVE:
        raise Conflict(f"a {row.status} reservation cannot be kept; only an ACTIVE one can")
    policy = policy_of(tx, row.pool, row.gpu_kind)
    if policy is None:
        raise Conflict(
            f"pool {row.pool!r} reclaims no idle {row.gpu_kind}: there is nothing to keep it from"
        )
    until = now + policy.keep
    clear(tx, rid, now, "keep")
    _upsert(tx, rid, now, keep_until=until)
    audit.record(
        tx,
        who.username,
        "reservation.keep",
        f"reservation:{rid}",
        {"keep_until": until.isoformat()},
        client,
    )
    return row


def opened(tx: Tx, who: Principal, row: Reservation, now: datetime) -> None:
    """The owner opened the workspace through the portal: remembered once (no-show rule).
    An admin looking at someone else's workspace is not its owner showing up."""
    if row.owner_id != who.id or Status(row.status) is not Status.ACTIVE:
        return
    tx.execute(
        insert(SessionIdle)
        .values(reservation_id=row.id, opened_at=now, updated_at=now)
        .on_conflict_do_update(
            index_elements=[SessionIdle.reservation_id],
            set_={"opened_at": now, "updated_at": now},
            where=SessionIdle.opened_at.is_(None),
        )
    )


def of(tx: Tx, rid: uuid.UUID) -> SessionIdle | None:
    return tx.get(SessionIdle, rid)
