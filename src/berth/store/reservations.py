"""Booking, extending and canceling reservations; the calendar and availability.

A booking is one transaction: lock the user (limits hold across pools), lock the pool, read the
pool's usage over the window, check the request against it, insert if it fits, commit.
The pool lock is a transaction-scoped advisory lock, so two bookings of one pool are serialized
while bookings of different pools run side by side; it is released by commit or rollback, so a
crashed request cannot leave it held.

The booking path is three round trips after the token's: the locks and every read (the
booker's teams too) in one call of the SQL function `berth_booking_view` (migration 0010,
which says why it is a function and not one statement; 0019; 0021: it returns the pool's
usage changes summed per instant in the window, not every overlapping reservation), the
exact check in Python (`domain.capacity.fits_usage` on the steps of that usage), then the
insert, its audit entry and the NOTIFY in one statement, then the commit. A booking that
stages engines or models also reads the catalog.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from berth.domain import approval, capacity, staging, utilization
from berth.domain.catalog import Stage, check_stage
from berth.domain.policy import BookingPolicy, PolicyError, check_concurrency
from berth.domain.pool import CPU, MEMORY, Pool
from berth.domain.quantity import format_bytes, format_millicores
from berth.domain.reservation import (
    HOLDING,
    LIVE,
    Accepted,
    Hold,
    Request,
    RequestError,
    Status,
    TransitionError,
    transition,
    validate_request,
    validate_window,
)
from berth.domain.teams import Held
from berth.store import approvals, audit, pools, teams
from berth.store import catalog as stored_catalog
from berth.store.db import Tx, fetch
from berth.store.errors import Conflict, Invalid, NotFound, Refused
from berth.store.locks import POOL_BOOKING, USER_BOOKING
from berth.store.models import Reservation, SessionRow, User
from berth.store.notifications import notify
from berth.store.users import Principal

NOTIFY_CHANNEL = "berth_reservations"
SUGGESTION_SEARCH = timedelta(days=14)  # how far past the asked start a suggestion may lie
_HOLDING = [s.value for s in HOLDING]  # what holds capacity


def _lock_user_then_pool(tx: Tx, user_id: int, pool: str) -> None:
    """Both locks in one round trip, always in this order, so two bookings cannot deadlock."""
    tx.execute(
        text("SELECT pg_advisory_xact_lock(:ku, :u), pg_advisory_xact_lock(:kp, hashtext(:pool))"),
        {"ku": USER_BOOKING, "u": user_id, "kp": POOL_BOOKING, "pool": pool},
    )


def _notify(tx: Tx, reservation_id: uuid.UUID) -> None:
    """Wake the reconciler; delivered only if the transaction commits."""
    tx.execute(text("SELECT pg_notify(:c, :id)"), {"c": NOTIFY_CHANNEL, "id": str(reservation_id)})


def _overlap(start: datetime, end: datetime):  # type: ignore[no-untyped-def]
    return func.tstzrange(Reservation.start_at, Reservation.end_at, "[)").op("&&")(
        func.tstzrange(start, end, "[)")
    )


def live_overlapping(
    tx: Tx, pool: str, start: datetime, end: datetime, exclude: uuid.UUID | None = None
) -> list[capacity.Booking]:
    """Live reservations of `pool` overlapping [start, end), as capacity bookings."""
    q = select(
        Reservation.start_at,
        Reservation.end_at,
        Reservation.gpu_kind,
        Reservation.gpu_count,
        Reservation.cpu_millicores,
        Reservation.memory_bytes,
    ).where(Reservation.pool == pool, Reservation.status.in_(_HOLDING), _overlap(start, end))
    if exclude is not None:
        q = q.where(Reservation.id != exclude)
    return [
        capacity.Booking(s, e, {kind: n, CPU: cpu, MEMORY: mem})
        for s, e, kind, n, cpu, mem in tx.execute(q).all()
    ]


def _describe(resource: str, amount: int) -> str:
    if resource == CPU:
        return f"{format_millicores(amount)} CPU"
    if resource == MEMORY:
        return f"{format_bytes(amount)} memory"
    return f"{amount} x {resource}"


class Short(Refused):
    """A booking that does not fit, refused before its suggestion is looked for: the search
    reads up to two weeks of the pool, which must not happen while the booking holds the
    pool's lock. The caller ends the transaction (releasing the locks), then `suggest` makes
    the full refusal in a transaction of its own."""

    def __init__(
        self,
        pool: Pool,
        policy: BookingPolicy,
        booking: capacity.Booking,
        shortage: capacity.Shortage,
        now: datetime,
    ) -> None:
        self.pool, self.policy, self.booking, self.now = pool, policy, booking, now
        detail = (
            f"not enough {shortage.resource} in pool {pool.name!r} from "
            f"{shortage.start.isoformat()} to {shortage.end.isoformat()}: "
            f"{_describe(shortage.resource, shortage.free)} free, "
            f"{_describe(shortage.resource, shortage.asked)} asked"
        )
        duration = (booking.end - booking.start).total_seconds()
        super().__init__(detail, shortage, None, duration)


def suggest(tx: Tx, short: Short) -> Refused:
    """The refusal of `short` with the earliest start, at or after the asked one and within
    SUGGESTION_SEARCH and the horizon, where the same request fits now."""
    booking, policy, now = short.booking, short.policy, short.now
    duration = booking.end - booking.start
    latest = min(booking.start + SUGGESTION_SEARCH, now + policy.horizon)
    later = live_overlapping(tx, short.pool.name, booking.start, latest + duration)
    not_before = capacity.align_up(booking.start, policy.grid) if booking.start > now else now
    suggestion = capacity.next_fit(
        short.pool.capacity(), later, booking.demand, duration, not_before, latest, policy.grid
    )
    return Refused(short.detail, short.shortage, suggestion, short.duration_s, waitlist=True)


def book(
    tx: Tx,
    who: Principal,
    req: Request,
    policy: BookingPolicy,
    now: datetime,
    client: str | None = None,
    stage: Stage = Stage(),
    hold: Hold | None = None,
    ask: bool = False,
) -> Reservation:
    """Book `req` for `who` in one transaction (see the module's docstring for the order).

    `stage` names the engines and models to have on the pool's nodes before the window opens;
    each must be in the stored catalog (422 naming the unknown ones). A booking that does not
    fit raises `Short`, a Refused without a suggestion; `suggest` finds the nearest slot that
    fits once the transaction has ended. The booking is for `req.team` (or the user's only
    team: `teams.choose`, on what the booking function read). With `hold`, it is made
    PENDING: it holds its capacity like an approved one until the hold ends (approvals,
    waitlist offers; docs/teams.md).

    Approvals (docs/teams.md#approvals): a booking the pool's rules want approved (too long,
    too many units), or one over its team's budget whose booker asks anyway (`ask`), is made
    PENDING with hold kind "approval" and the reason stored; over budget without `ask` is the
    budget's 409. The leads of its team (or, with none, the admins) are told."""
    stamp, pool = pools.known(tx, req.pool)
    try:
        accepted = accept(req, pool, policy, now)
    except Invalid:  # refuse only by the pool as it is now, not as this process last read it
        stamp, pool = pools.reread(tx, req.pool)
        accepted = accept(req, pool, policy, now)
    stage = checked_stage(tx, stage)
    view = _booking_view(tx, who, pool.name, accepted.start, accepted.end, req.team)
    if view.pool_updated != stamp:  # the pool was synced since it was read: read it again
        stamp, pool = pools.reread(tx, req.pool)
        accepted = accept(req, pool, policy, now)
        if (view.start, view.end) != (accepted.start, accepted.end):
            view = _booking_view(tx, who, pool.name, accepted.start, accepted.end, req.team)
    team_id = teams.choose(who, req.team, view.teams, view.named_team)
    if view.owner_live is not None:
        _check_limit(policy, view.owner_live)
    booking = accepted.booking()
    shortage = capacity.fits_usage(pool.capacity(), view.usage, booking)
    if shortage is not None:
        raise Short(pool, policy, booking, shortage, now)
    asked = Held(accepted.start, accepted.end, accepted.gpu_count)
    over = teams.check_budget(tx, team_id, pool, accepted.gpu_kind, asked)  # docs/teams.md
    why = approval.reason(pool.approval, accepted, over, ask)
    if over is not None and why is None:
        raise over  # over budget and not asking for approval: the budget's 409
    if why is None or hold is not None:  # a hold the caller made (a waitlist offer) stands
        return _create(tx, who, pool, accepted, now, client, stage, team_id, hold)
    until = approval.hold_until(
        now, accepted.start, accepted.end, policy.approval_hold, policy.approval_min_hold
    )
    hold = Hold(approval.HOLD_KIND, until)
    row = _create(tx, who, pool, accepted, now, client, stage, team_id, hold, why)
    approvals.requested(tx, who, row)
    return row


def accept(req: Request, pool: Pool, policy: BookingPolicy, now: datetime) -> Accepted:
    """`req` validated against the pool and the policy; a 422 naming the field if not."""
    try:
        return validate_request(req, pool, policy, now)
    except RequestError as exc:
        raise _invalid(exc) from exc


def checked_stage(tx: Tx, stage: Stage) -> Stage:
    stage = staging.normalized(stage)
    if not stage:  # nothing to look up: most bookings stage nothing, and skip the read
        return stage
    problems = check_stage(stored_catalog.get(tx), stage)
    if problems:
        field = "stage.engines" if problems[0].startswith("unknown engine") else "stage.models"
        raise Invalid(field, f"stage: {'; '.join(problems)} (not in the catalog)")
    return stage


@dataclass(frozen=True)
class _View:
    """What `berth_booking_view` read under the booking's locks."""

    start: datetime
    end: datetime
    pool_updated: datetime | None
    owner_live: int | None  # None: the limit does not apply (an admin books)
    usage: list[capacity.Step]  # the pool's usage over [start, end), what holds capacity
    teams: list[teams.Membership]  # the booker's teams, by name
    named_team: int | None  # the id of the team the booking names, if one has that name


_BOOKING_VIEW = (
    "SELECT * FROM berth_booking_view(%(ku)s, %(u)s, %(count_owner)s, %(kp)s, %(pool)s,"
    " %(start)s, %(end)s, %(team)s)"
)


def _booking_view(
    tx: Tx, who: Principal, pool: str, start: datetime, end: datetime, team: str | None
) -> _View:
    """Take the owner's lock, then the pool's, and read what the checks need (and the
    booker's teams, and the id of the team named `team`): one round trip."""
    [row] = fetch(
        tx,
        _BOOKING_VIEW,
        {
            "ku": USER_BOOKING,
            "u": who.id,
            "count_owner": not who.is_admin,
            "kp": POOL_BOOKING,
            "pool": pool,
            "start": start,
            "end": end,
            "team": team,
        },
    )
    (updated, owner_live, at, kinds, units, cpus, mems, ids, names, leads, named) = row
    changes = _changes(zip(at, kinds, units, cpus, mems, strict=True))
    usage = capacity.usage_steps_of_changes(changes, start, end)
    mine = [teams.Membership(*m) for m in zip(ids, names, leads, strict=True)]
    return _View(start, end, updated, owner_live, usage, mine, named)


def _changes(
    rows: Iterable[Sequence[Any]],
) -> dict[datetime, dict[str, int]]:
    """Changes of usage per instant from the database's sums per instant and GPU kind (the
    booking function's, availability's): units of the kind, cpu and memory of every kind."""
    changes: dict[datetime, dict[str, int]] = {}
    for at, kind, units, cpu, memory in rows:
        change = changes.setdefault(at, {})
        change[kind] = units
        change[CPU] = change.get(CPU, 0) + cpu
        change[MEMORY] = change.get(MEMORY, 0) + memory
    return changes


_CREATE = """
    WITH created AS (
        INSERT INTO reservations (id, pool, owner_id, start_at, end_at, gpu_kind, gpu_count,
            mode, cpu_millicores, memory_bytes, status, stage, created_at, updated_at,
            team_id, hold_until, hold_kind, reason)
        VALUES (%(id)s, %(pool)s, %(owner)s, %(start)s, %(end)s, %(kind)s, %(count)s,
            %(mode)s, %(cpu)s, %(memory)s, %(status)s, CAST(%(stage)s AS jsonb), %(now)s,
            %(now)s, %(team)s, %(hold_until)s, %(hold_kind)s, %(reason)s)
        RETURNING id
    ), audited AS (
        INSERT INTO audit_log (actor, action, target, details, client)
        SELECT %(actor)s, 'reservation.create', %(target)s, CAST(%(details)s AS jsonb),
            %(client)s
        FROM created
    )
    SELECT pg_notify(%(channel)s, %(id_text)s) FROM created
"""


def _create(
    tx: Tx,
    who: Principal,
    pool: Pool,
    accepted: Accepted,
    now: datetime,
    client: str | None,
    stage: Stage,
    team_id: int | None = None,
    hold: Hold | None = None,
    reason: str | None = None,
) -> Reservation:
    """Insert the reservation, its audit entry and the NOTIFY (delivered on commit) in one
    statement; return the row as the ORM would have (not attached to the session). With
    `hold` it is PENDING until `hold.until`, else APPROVED; `reason` says why it waits."""
    row = Reservation(
        id=uuid.uuid4(),
        pool=pool.name,
        owner_id=who.id,
        start_at=accepted.start,
        end_at=accepted.end,
        gpu_kind=accepted.gpu_kind,
        gpu_count=accepted.gpu_count,
        mode=accepted.mode.value,
        cpu_millicores=accepted.cpu_millicores,
        memory_bytes=accepted.memory_bytes,
        status=(Status.PENDING if hold else Status.APPROVED).value,
        reason=reason,
        stage=staging.stage_to_json(stage),
        created_at=now,
        updated_at=now,
        team_id=team_id,
        hold_until=hold.until if hold else None,
        hold_kind=hold.kind if hold else None,
    )
    fetch(
        tx,
        _CREATE,
        {
            "id": row.id,
            "pool": row.pool,
            "owner": row.owner_id,
            "start": row.start_at,
            "end": row.end_at,
            "kind": row.gpu_kind,
            "count": row.gpu_count,
            "mode": row.mode,
            "cpu": row.cpu_millicores,
            "memory": row.memory_bytes,
            "status": row.status,
            "stage": json.dumps(row.stage),
            "now": now,
            "actor": who.username,
            "target": f"reservation:{row.id}",
            "details": json.dumps(
                _created_details(accepted, pool.name, row.stage, team_id, hold, reason)
            ),
            "client": client,
            "channel": NOTIFY_CHANNEL,
            "id_text": str(row.id),
            "team": row.team_id,
            "hold_until": row.hold_until,
            "hold_kind": row.hold_kind,
            "reason": row.reason,
        },
    )
    return row


def _created_details(
    accepted: Accepted,
    pool: str,
    stage: dict[str, Any],
    team_id: int | None,
    hold: Hold | None,
    reason: str | None = None,
) -> dict[str, Any]:
    return {
        "pool": pool,
        "start": accepted.start.isoformat(),
        "end": accepted.end.isoformat(),
        "gpu": f"{accepted.gpu_count} x {accepted.gpu_kind}",
        "mode": accepted.mode.value,
        **({"stage": stage} if stage else {}),
        **({"team_id": team_id} if team_id is not None else {}),
        **({"hold": hold.kind, "hold_until": hold.until.isoformat()} if hold else {}),
        **({"approval_reason": reason} if reason else {}),
    }


def _invalid(exc: RequestError) -> Invalid:
    return Invalid(exc.field, f"{exc.field}: {exc.message}")


def _check_user_limit(
    tx: Tx,
    owner_id: int,
    policy: BookingPolicy,
    start: datetime,
    end: datetime,
    *,
    exempt: bool,
    exclude: uuid.UUID | None = None,
) -> None:
    """Refuse (409) a window that would give its owner more live reservations overlapping it
    than the limit. Called under the owner's lock; an admin acting is exempt."""
    if exempt:  # admins are exempt from the limit: skip the count
        return
    q = (
        select(func.count())
        .select_from(Reservation)
        .where(
            Reservation.owner_id == owner_id,
            Reservation.status.in_(_HOLDING),
            _overlap(start, end),
        )
    )
    if exclude is not None:
        q = q.where(Reservation.id != exclude)
    _check_limit(policy, int(tx.scalar(q) or 0))


def _check_limit(policy: BookingPolicy, mine: int) -> None:
    """Refuse (409) when the owner already holds the limit of overlapping live reservations."""
    try:
        check_concurrency(policy, mine, is_admin=False)
    except PolicyError as exc:
        raise Conflict(str(exc)) from exc


def _owned(tx: Tx, who: Principal, reservation_id: uuid.UUID, *, lock: bool) -> Reservation:
    q = select(Reservation).where(Reservation.id == reservation_id)
    if lock:
        # populate_existing: a row this transaction read before (extend's unlocked probe) is
        # in the session already, and without it the locked read would keep the stale values
        # (an extend waiting on a release or cancel would then extend a COMPLETED or CANCELED
        # row, seeing it still ACTIVE)
        q = q.with_for_update().execution_options(populate_existing=True)
    row = tx.scalar(q)
    if row is None or (row.owner_id != who.id and not who.is_admin):
        raise NotFound(f"no reservation {reservation_id}")
    return row


def get(tx: Tx, who: Principal, reservation_id: uuid.UUID) -> Reservation:
    return _owned(tx, who, reservation_id, lock=False)


def get_locked(tx: Tx, who: Principal, reservation_id: uuid.UUID) -> Reservation:
    """Like get, with the row locked (FOR UPDATE) for a change."""
    return _owned(tx, who, reservation_id, lock=True)


def cancel(
    tx: Tx,
    who: Principal,
    reservation_id: uuid.UUID,
    now: datetime,
    reason: str | None = None,
    client: str | None = None,
) -> Reservation:
    row = _owned(tx, who, reservation_id, lock=True)
    try:
        row.status = transition(Status(row.status), Status.CANCELED).value
    except TransitionError as exc:
        raise Conflict(str(exc)) from exc
    row.reason = reason or f"canceled by {who.username}"
    row.updated_at = now
    audit.record(
        tx,
        who.username,
        "reservation.cancel",
        f"reservation:{row.id}",
        {"reason": row.reason},
        client,
    )
    _notify(tx, row.id)
    return row


RELEASED = "released"  # the reason of a COMPLETED reservation its holder ended early


def release(
    tx: Tx,
    who: Principal,
    reservation_id: uuid.UUID,
    now: datetime,
    client: str | None = None,
) -> Reservation:
    """End an ACTIVE session now ("I'm done"): COMPLETED with reason `released`, its end moved
    to now so the rest of the window is free at once, an audit entry and a NOTIFY so the
    reconciler tears the namespace down. Not a cancel: the time up to now was used.

    The row is locked (FOR UPDATE) like cancel and extend, and extend takes the same row lock
    after its advisory locks, so a release racing either is applied before or after it, never
    half: an extension after a release finds a COMPLETED row (409), a release after a cancel
    finds a CANCELED one (409)."""
    row = _owned(tx, who, reservation_id, lock=True)
    status = Status(row.status)
    if status is Status.APPROVED:
        raise Conflict("an APPROVED reservation has not started: cancel it instead of releasing")
    if status is not Status.ACTIVE:
        raise Conflict(f"a {row.status} reservation cannot be released; only an ACTIVE one can")
    end_now(tx, row, now, RELEASED, who.username, "reservation.release", client)
    notify(
        tx,
        user_id=row.owner_id,
        kind="released",
        title="Your workspace was released",
        body=f"You ended your {row.gpu_count} x {row.gpu_kind} session in pool {row.pool} "
        f"at {row.end_at:%H:%M} UTC; the rest of its window is free for others.",
        reservation_id=row.id,
    )
    return row


def end_now(
    tx: Tx,
    row: Reservation,
    now: datetime,
    reason: str,
    actor: str,
    action: str,
    client: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """End a locked ACTIVE reservation now: COMPLETED with `reason`, its end moved to now (the
    rest of the window is free at once), audited as `action`, NOTIFY so the reconciler tears
    the namespace down. Early release and idle reclaim share it."""
    row.status = transition(Status(row.status), Status.COMPLETED).value
    old_end = row.end_at
    # the window must stay non-empty (end > start) even if the session opened this instant
    row.end_at = min(old_end, max(now, row.start_at + timedelta(microseconds=1)))
    row.reason = reason
    row.updated_at = now
    audit.record(
        tx,
        actor,
        action,
        f"reservation:{row.id}",
        {"booked_end": old_end.isoformat(), "end": row.end_at.isoformat(), **(details or {})},
        client,
    )
    _notify(tx, row.id)


def extend(
    tx: Tx,
    who: Principal,
    reservation_id: uuid.UUID,
    new_end: datetime,
    policy: BookingPolicy,
    now: datetime,
    client: str | None = None,
) -> Reservation:
    """Move a live reservation's end later, under every rule a booking obeys.

    The same locks in the same order as `book` (the owner's, then the pool's), so an extension
    and a booking of the same user or pool are serialized; then the window policy, the
    owner's limit of overlapping reservations (as if [start, new end) were booked anew,
    itself not counted), and the capacity of the added time.
    """
    probe = _owned(tx, who, reservation_id, lock=False)
    _lock_user_then_pool(tx, probe.owner_id, probe.pool)
    row = _owned(tx, who, reservation_id, lock=True)
    if Status(row.status) not in LIVE:
        raise Conflict(f"a {row.status} reservation cannot be extended")
    if new_end <= row.end_at:
        raise Invalid("end", "the new end must be later than the current end")
    try:
        validate_window(row.start_at, new_end, policy, now, new=False)
    except RequestError as exc:
        raise _invalid(exc) from exc
    _check_user_limit(
        tx, row.owner_id, policy, row.start_at, new_end, exempt=who.is_admin, exclude=row.id
    )
    pool = pools.get(tx, row.pool)
    existing = live_overlapping(tx, pool.name, row.end_at, new_end, exclude=row.id)
    demand = {row.gpu_kind: row.gpu_count, CPU: row.cpu_millicores, MEMORY: row.memory_bytes}
    extra = capacity.Booking(row.end_at, new_end, demand)
    shortage = capacity.fits(pool.capacity(), existing, extra)
    if shortage is not None:
        detail = (
            f"cannot extend to {new_end.isoformat()}: not enough {shortage.resource} from "
            f"{shortage.start.isoformat()}: {_describe(shortage.resource, shortage.free)} free, "
            f"{_describe(shortage.resource, shortage.asked)} asked"
        )
        raise Refused(detail, shortage, None, (new_end - row.start_at).total_seconds())
    longer = Held(row.start_at, new_end, row.gpu_count)
    over = teams.check_budget(tx, row.team_id, pool, row.gpu_kind, longer, exclude=row.id)
    if over is not None:
        raise over
    old_end = row.end_at
    row.end_at = new_end
    row.updated_at = now
    audit.record(
        tx,
        who.username,
        "reservation.extend",
        f"reservation:{row.id}",
        {"from": old_end.isoformat(), "to": new_end.isoformat()},
        client,
    )
    _notify(tx, row.id)
    return row


# An instant as the API writes it (pydantic's form): UTC, `Z`, microseconds only when there
# are some: 2030-01-07T09:00:00Z, 2030-01-07T09:00:00.250000Z.
JSON_TIME = (
    "to_char(COLUMN AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
    "date_part('microseconds', COLUMN)::bigint % 1000000 = 0 THEN '' "
    "ELSE to_char(COLUMN AT TIME ZONE 'UTC', '.US') END || 'Z'"
)
_START_JSON = JSON_TIME.replace("COLUMN", "x.start_at")
_END_JSON = JSON_TIME.replace("COLUMN", "x.end_at")
# One calendar entry of the row `x`, its id, `mine` and owner given (str.format) by the caller:
# the uncached query shapes them per reader, the read cache keeps both forms (read_cache.py).
CALENDAR_ENTRY_JSON = (
    "json_build_object('id', {id}, 'mine', {mine}, 'owner', {owner}, 'status', x.status, "
    f"'pool', x.pool, 'start', {_START_JSON}, 'end', {_END_JSON}, "
    "'gpu', json_build_object('kind', x.gpu_kind, 'count', x.gpu_count))"
)
# The blocks the calendar shows: live, or held and completed
CALENDAR_STATUSES = "('PENDING', 'APPROVED', 'ACTIVE', 'COMPLETED')"
_CALENDAR_ENTRY = CALENDAR_ENTRY_JSON.format(
    id="CASE WHEN x.visible THEN x.id END",
    mine="x.owner_id = :me",
    owner="CASE WHEN x.visible THEN u.username END",
)
_CALENDAR_JSON = f"""
    SELECT coalesce(json_agg({_CALENDAR_ENTRY} ORDER BY x.start_at, x.id), '[]')::text
    FROM (
        SELECT r.*, (r.owner_id = :me OR :everyone) AS visible FROM reservations r
        WHERE r.status IN {CALENDAR_STATUSES}
          AND tstzrange(r.start_at, r.end_at, '[)') && tstzrange(:since, :until, '[)')
          POOL_FILTER
        ORDER BY r.start_at, r.id
        LIMIT :limit
    ) x
    JOIN users u ON u.id = x.owner_id
    """  # noqa: S608 (constants, no input)
_CALENDAR_OF_POOL = text(_CALENDAR_JSON.replace("POOL_FILTER", "AND r.pool = :pool"))
_CALENDAR_OF_ALL = text(_CALENDAR_JSON.replace("POOL_FILTER", ""))
CUSTOM_PLAN = text("SET LOCAL plan_cache_mode = force_custom_plan")


def calendar_json(
    tx: Tx,
    who: Principal,
    since: datetime,
    until: datetime,
    pool: str | None = None,
    limit: int = 5000,
) -> str:
    """Everything booked in a window (live or past-but-held), by start, as the JSON array of
    the API's calendar entries: the caller's own blocks (an admin's: every block) with id and
    owner, others' only as busy. PostgreSQL builds the JSON: a busy week is thousands of
    entries, and shaping them in Python was nearly all of the request's time."""
    params = {
        "me": who.id,
        "everyone": who.is_admin,
        "since": since,
        "until": until,
        "limit": limit,
        "pool": pool,
    }
    # A generic plan (what a prepared statement gets after a few runs) cannot see how narrow
    # the window is and walks the pool's starts from the first; plan each call for its window.
    tx.execute(CUSTOM_PLAN)
    query = _CALENDAR_OF_POOL if pool else _CALENDAR_OF_ALL
    return str(tx.execute(query, params).scalar_one())


_USAGE_CHANGES = text(
    """
    SELECT c.at, r.gpu_kind, sum(c.sign * r.gpu_count)::bigint,
           sum(c.sign * r.cpu_millicores)::bigint, sum(c.sign * r.memory_bytes)::bigint
    FROM reservations r
    CROSS JOIN LATERAL (VALUES (greatest(r.start_at, :start), 1),
                               (least(r.end_at, :end), -1)) AS c (at, sign)
    WHERE r.pool = :pool AND r.status IN ('PENDING', 'APPROVED', 'ACTIVE')
      AND tstzrange(r.start_at, r.end_at, '[)') && tstzrange(:start, :end, '[)')
    GROUP BY c.at, r.gpu_kind
    """
)


def availability(
    tx: Tx, pool_name: str, start: datetime, end: datetime
) -> tuple[Pool, list[capacity.Step]]:
    """Free capacity of a pool over [start, end) (`usage`, subtracted from its capacity)."""
    pool = pools.get(tx, pool_name)
    return pool, capacity.free_steps(pool.capacity(), usage(tx, pool.name, start, end))


def usage(tx: Tx, pool: str, start: datetime, end: datetime) -> list[capacity.Step]:
    """What a pool's live reservations use over [start, end), as steps. The database sums their
    changes of usage per instant (`capacity.changes_of`, clipped to the window), so a busy
    fortnight is a row per instant instead of a row per reservation; the domain makes the
    steps (`capacity.usage_steps_of_changes`, the same steps as the sweep of the rows)."""
    params = {"pool": pool, "start": start, "end": end}
    changes = _changes(tx.execute(_USAGE_CHANGES, params).all())
    return capacity.usage_steps_of_changes(changes, start, end)


def set_status(
    tx: Tx, reservation_id: uuid.UUID, target: Status, now: datetime, reason: str | None = None
) -> Reservation:
    """For the reconciler: move a reservation along the state machine of domain/reservation.py."""
    row = tx.scalar(select(Reservation).where(Reservation.id == reservation_id).with_for_update())
    if row is None:
        raise NotFound(f"no reservation {reservation_id}")
    try:
        row.status = transition(Status(row.status), target).value
    except TransitionError as exc:
        raise Conflict(str(exc)) from exc
    if reason is not None:
        row.reason = reason
    row.updated_at = now
    audit.record(
        tx, "reconciler", f"reservation.{target.value.lower()}", f"reservation:{row.id}", {}
    )
    return row


def owner_name(tx: Tx, row: Reservation) -> str:
    return str(tx.scalar(select(User.username).where(User.id == row.owner_id)))


def session_of(tx: Tx, row: Reservation) -> SessionRow | None:
    return tx.get(SessionRow, row.id)


def booked(tx: Tx, pool: str, since: datetime, until: datetime) -> list[utilization.Booked]:
    """Reservations that held capacity in a window (live or completed), for utilization."""
    held = [Status.APPROVED.value, Status.ACTIVE.value, Status.COMPLETED.value]
    q = select(
        Reservation.start_at, Reservation.end_at, Reservation.gpu_kind, Reservation.gpu_count
    ).where(Reservation.pool == pool, Reservation.status.in_(held), _overlap(since, until))
    return [utilization.Booked(s, e, k, n) for s, e, k, n in tx.execute(q)]
