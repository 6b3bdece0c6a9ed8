"""The fair waitlist (docs/teams.md, "Fair waitlist"): join, list, withdraw, accept, decline,
and the sweep that settles entries and makes offers.

An offer is a PENDING reservation (hold_kind "offer") made through `reservations.book`, under
the booking path's locks (the user's, then the pool's) and its exact capacity check, so an
offer and a concurrent booking never double-book, and budgets and the per-user limit apply to
offers as to any booking.

The sweep (`sweep`, run by the `berth notify` loop after `holds.expire`) is level-triggered:
every pass it settles the entries whose offer was answered or lapsed and the ones whose window
opened, then, pool by pool, offers freed capacity to the WAITING entries in the order of
`domain.waitlist.order`. One offer per transaction: `offer` takes the pool's sweep lock (a
try-lock: a pool another sweeper holds is skipped, that sweeper offers it), reads the WAITING
entries and their groups' usage, and books for the first entry in order that fits. Each try
is a savepoint: a refusal rolls it back, which also releases the user's and the pool's locks
it took, so the next entry's user lock is never taken while the pool's is held (a concurrent
booking takes them in that order; holding the pool's lock while waiting for a user's could
deadlock). The entry rows are locked (FOR UPDATE) and their state re-read, so no entry is
offered twice whatever number of sweepers runs.

Lock order everywhere: the waitlist entry, then its reservation; the booking's advisory locks
are taken with no reservation row locked.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Select, select, text
from sqlalchemy import exc as sa_exc

from berth.domain import approval, capacity, staging
from berth.domain import waitlist as rules
from berth.domain.catalog import Stage
from berth.domain.policy import BookingPolicy
from berth.domain.pool import CPU, MEMORY
from berth.domain.reservation import Hold, Mode, Request, Status
from berth.domain.waitlist import WaitlistState
from berth.store import audit, pools, reservations, teams
from berth.store.db import Database, Tx
from berth.store.errors import Conflict, Invalid, NotFound, StoreError
from berth.store.locks import WAITLIST_SWEEP
from berth.store.models import Reservation, Team, User, WaitlistEntry
from berth.store.notifications import notify
from berth.store.users import Principal, principal

NOTIFY_CHANNEL = reservations.NOTIFY_CHANNEL
OFFERS_PER_PASS = 200  # per pool and sweep pass; the next pass goes on
_HELD = [Status.APPROVED.value, Status.ACTIVE.value, Status.COMPLETED.value]


@dataclass(frozen=True)
class Timing:
    """The waitlist's settings: how long an offer is held, the usage's half-life."""

    offer_hold: timedelta = timedelta(minutes=15)
    half_life: timedelta = timedelta(hours=168)


# ---- the user's side -------------------------------------------------------------------


def join(
    tx: Tx,
    who: Principal,
    req: Request,
    policy: BookingPolicy,
    now: datetime,
    client: str | None = None,
    stage: Stage = Stage(),
) -> WaitlistEntry:
    """Put `req` on the waitlist for `who`: validated by the rules of a booking
    (`reservations.accept`, the catalog for `stage`, the team), a WAITING entry. 409 when the
    same request of theirs is already waiting or offered."""
    team_id = teams.for_booking(tx, who, req.team)
    pool = pools.get(tx, req.pool)
    accepted = reservations.accept(req, pool, policy, now)
    # an accepted offer is APPROVED at once, so a request the pool's rules send for approval
    # waits as an approval request (which holds capacity), never on the waitlist
    needs = approval.rule_reasons(pool.approval, accepted)
    if needs:
        raise Conflict(
            f"this request needs approval ({'; '.join(needs)}): book it when it fits, as an "
            "approval request; the waitlist takes only requests that need none"
        )
    stage = reservations.checked_stage(tx, stage)
    entry = WaitlistEntry(
        user_id=who.id,
        team_id=team_id,
        pool=pool.name,
        start_at=accepted.start,
        end_at=accepted.end,
        gpu_kind=accepted.gpu_kind,
        gpu_count=accepted.gpu_count,
        mode=accepted.mode.value,
        cpu_millicores=accepted.cpu_millicores,
        memory_bytes=accepted.memory_bytes,
        stage=staging.stage_to_json(stage),
        state=WaitlistState.WAITING.value,
        created_at=now,
        updated_at=now,
    )
    try:
        with tx.begin_nested():
            tx.add(entry)
            tx.flush()
    except sa_exc.IntegrityError as exc:
        if "waitlist_entries_one_open" not in str(exc):
            raise
        raise Conflict("you are already on the waitlist for this request") from None
    audit.record(
        tx,
        who.username,
        "waitlist.join",
        f"waitlist:{entry.id}",
        {
            "pool": entry.pool,
            "start": accepted.start.isoformat(),
            "end": accepted.end.isoformat(),
            "gpu": f"{accepted.gpu_count} x {accepted.gpu_kind}",
            **({"team_id": team_id} if team_id is not None else {}),
        },
        client,
    )
    return entry


def search(
    tx: Tx, who: Principal, *, mine: bool, limit: int = 500
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Visible entries (users: their own; admins: everyone's unless `mine`), newest first:
    the entry, its owner's username, its team's name and its offer's status and hold."""
    q = _listed()
    if mine or not who.is_admin:
        q = q.where(WaitlistEntry.user_id == who.id)
    q = q.order_by(WaitlistEntry.created_at.desc(), WaitlistEntry.id.desc()).limit(limit)
    return tx.execute(q).all()


def _listed() -> Select[WaitlistEntry, str, str, str, datetime | None]:
    """Entries with their owner's username, their team's name, their offer's status and hold."""
    return (
        select(
            WaitlistEntry,
            User.username,
            Team.name.label("team"),
            Reservation.status.label("offer_status"),
            Reservation.hold_until.label("offer_until"),
        )
        .join(User, User.id == WaitlistEntry.user_id)
        .outerjoin(Team, Team.id == WaitlistEntry.team_id)
        .outerjoin(Reservation, Reservation.id == WaitlistEntry.reservation_id)
    )


def get(tx: Tx, who: Principal, entry_id: int) -> Row[*tuple[Any, ...]]:
    for row in _one(tx, who, entry_id):
        return row
    raise NotFound(f"no waitlist entry {entry_id}")


def _one(tx: Tx, who: Principal, entry_id: int) -> Sequence[Row[*tuple[Any, ...]]]:
    q = _listed().where(WaitlistEntry.id == entry_id)
    if not who.is_admin:
        q = q.where(WaitlistEntry.user_id == who.id)
    return tx.execute(q).all()


def _locked(tx: Tx, who: Principal, entry_id: int) -> WaitlistEntry:
    entry = tx.scalar(
        select(WaitlistEntry)
        .where(WaitlistEntry.id == entry_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if entry is None or (entry.user_id != who.id and not who.is_admin):
        raise NotFound(f"no waitlist entry {entry_id}")
    return entry


def _offer_of(tx: Tx, entry: WaitlistEntry) -> Reservation | None:
    if entry.reservation_id is None:
        return None
    return tx.scalar(
        select(Reservation)
        .where(Reservation.id == entry.reservation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _move(
    entry: WaitlistEntry, target: WaitlistState, now: datetime, reason: str | None = None
) -> None:
    try:
        entry.state = rules.transition(WaitlistState(entry.state), target).value
    except rules.StateError as exc:
        raise Conflict(str(exc)) from exc
    entry.updated_at = now
    if reason is not None:
        entry.reason = reason


def _end_offer(tx: Tx, row: Reservation, now: datetime, reason: str, actor: str) -> None:
    """The PENDING offer `row` (locked) becomes CANCELED: its capacity passes on."""
    row.status = Status.CANCELED.value
    row.reason = reason
    row.updated_at = now
    audit.record(tx, actor, "reservation.cancel", f"reservation:{row.id}", {"reason": reason})
    _wake(tx, row.id)


def withdraw(
    tx: Tx, who: Principal, entry_id: int, now: datetime, client: str | None = None
) -> WaitlistEntry:
    """Leave the waitlist: a WAITING or OFFERED entry becomes WITHDRAWN (a pending offer is
    canceled, its capacity passes on). 409 for an entry already settled."""
    entry = _locked(tx, who, entry_id)
    _move(entry, WaitlistState.WITHDRAWN, now, f"withdrawn by {who.username}")
    offer = _offer_of(tx, entry)
    if offer is not None and offer.status == Status.PENDING.value:
        _end_offer(tx, offer, now, "the waitlist entry was withdrawn", who.username)
    audit.record(tx, who.username, "waitlist.withdraw", f"waitlist:{entry.id}", {}, client)
    return entry


def accept(
    tx: Tx, who: Principal, entry_id: int, now: datetime, client: str | None = None
) -> tuple[WaitlistEntry, Reservation]:
    """Take the offer: its PENDING reservation becomes APPROVED (a booking like any other),
    the entry ACCEPTED. 409 when there is no offer, or it lapsed (even if the sweep has not
    said so yet), was declined or canceled."""
    entry = _locked(tx, who, entry_id)
    if entry.state != WaitlistState.OFFERED.value:
        raise Conflict(f"a {entry.state} waitlist entry has no offer to accept")
    offer = _offer_of(tx, entry)
    if offer is None or offer.status != Status.PENDING.value:
        status = offer.status if offer is not None else "missing"
        raise Conflict(f"the offer is no longer open (its reservation is {status})")
    if offer.hold_until is not None and offer.hold_until <= now:
        raise Conflict(f"the offer lapsed at {offer.hold_until:%Y-%m-%d %H:%M} UTC")
    offer.status = Status.APPROVED.value
    offer.updated_at = now
    _move(entry, WaitlistState.ACCEPTED, now)
    audit.record(
        tx, who.username, "reservation.approve", f"reservation:{offer.id}", {"waitlist": entry.id}
    )
    audit.record(
        tx,
        who.username,
        "waitlist.accept",
        f"waitlist:{entry.id}",
        {"reservation": str(offer.id)},
        client,
    )
    _wake(tx, offer.id)
    return entry, offer


def decline(
    tx: Tx, who: Principal, entry_id: int, now: datetime, client: str | None = None
) -> WaitlistEntry:
    """Turn the offer down: its reservation is CANCELED (the capacity passes on at the next
    sweep), the entry DECLINED. 409 when there is no open offer."""
    entry = _locked(tx, who, entry_id)
    if entry.state != WaitlistState.OFFERED.value:
        raise Conflict(f"a {entry.state} waitlist entry has no offer to decline")
    offer = _offer_of(tx, entry)
    if offer is None or offer.status != Status.PENDING.value:
        status = offer.status if offer is not None else "missing"
        raise Conflict(f"the offer is no longer open (its reservation is {status})")
    _end_offer(tx, offer, now, "the waitlist offer was declined", who.username)
    _move(entry, WaitlistState.DECLINED, now, f"declined by {who.username}")
    audit.record(
        tx,
        who.username,
        "waitlist.decline",
        f"waitlist:{entry.id}",
        {"reservation": str(offer.id)},
        client,
    )
    return entry


# ---- the sweep ---------------------------------------------------------------------------

_SETTLED_BY = {
    Status.EXPIRED.value: WaitlistState.LAPSED,
    Status.CANCELED.value: WaitlistState.DECLINED,
    Status.REJECTED.value: WaitlistState.DECLINED,
    Status.FAILED.value: WaitlistState.DECLINED,
    Status.APPROVED.value: WaitlistState.ACCEPTED,
    Status.ACTIVE.value: WaitlistState.ACCEPTED,
    Status.COMPLETED.value: WaitlistState.ACCEPTED,
}


def settle(tx: Tx, now: datetime, limit: int = 500) -> list[WaitlistEntry]:
    """Entries whose state follows from elsewhere: an OFFERED one whose reservation is no
    longer PENDING (EXPIRED: LAPSED; canceled: DECLINED; approved: ACCEPTED), a WAITING one
    whose window has opened (GONE). Rows another transaction holds are left to the next pass."""
    offered = tx.execute(
        select(WaitlistEntry, Reservation.status)
        .join(Reservation, Reservation.id == WaitlistEntry.reservation_id)
        .where(
            WaitlistEntry.state == WaitlistState.OFFERED.value,
            Reservation.status != Status.PENDING.value,
        )
        .order_by(WaitlistEntry.id)
        .limit(limit)
        .with_for_update(of=WaitlistEntry, skip_locked=True)
    ).all()
    moved: list[WaitlistEntry] = []
    for entry, status in offered:
        target = _SETTLED_BY[status]
        reason = "nobody answered the offer in time" if target is WaitlistState.LAPSED else None
        _move(entry, target, now, reason)
        audit.record(
            tx, "berth", f"waitlist.{target.value.lower()}", f"waitlist:{entry.id}", {}, None
        )
        moved.append(entry)
    gone = tx.scalars(
        select(WaitlistEntry)
        .where(WaitlistEntry.state == WaitlistState.WAITING.value, WaitlistEntry.start_at <= now)
        .order_by(WaitlistEntry.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for entry in gone:
        _move(entry, WaitlistState.GONE, now, "the window opened before capacity freed")
        audit.record(tx, "berth", "waitlist.gone", f"waitlist:{entry.id}", {}, None)
        notify(
            tx,
            user_id=entry.user_id,
            kind="offer",
            title="Your waitlist request ended",
            body=f"{entry.gpu_count} x {entry.gpu_kind} in pool {entry.pool} from "
            f"{entry.start_at:%Y-%m-%d %H:%M} UTC: the window opened before capacity freed.",
        )
        moved.append(entry)
    return moved


def usage(
    tx: Tx, groups: set[rules.Group], now: datetime, half_life: timedelta
) -> dict[rules.Group, float]:
    """The decayed recent usage of `groups` (domain.waitlist.decayed_usage) from their
    reservations that held GPUs and ended within HORIZON_HALF_LIVES half-lives."""
    team_ids = [i for kind, i in groups if kind == "team"]
    user_ids = [i for kind, i in groups if kind == "user"]
    if not team_ids and not user_ids:
        return {}
    fractions: dict[tuple[str, str], float] = {}
    for p in pools.list_all(tx):
        for kind, fraction in p.gpu_fractions().items():
            fractions[(p.name, kind)] = fraction
    since = now - half_life * rules.HORIZON_HALF_LIVES
    rows = tx.execute(
        text(
            """
            SELECT owner_id, team_id, pool, gpu_kind, gpu_count, start_at, end_at
            FROM reservations
            WHERE status = ANY(:held) AND end_at > :since
              AND (team_id = ANY(:teams) OR (team_id IS NULL AND owner_id = ANY(:users)))
            """
        ),
        {"held": _HELD, "since": since, "teams": team_ids, "users": user_ids},
    ).all()
    held = [
        rules.Held(
            rules.group_of(owner, team),
            count * fractions.get((pool, kind), 1.0),
            start,
            end,
        )
        for owner, team, pool, kind, count, start, end in rows
    ]
    return rules.decayed_usage(held, now, half_life)


@dataclass(frozen=True)
class Offered:
    entry_id: int
    reservation_id: uuid.UUID


def offer(
    tx: Tx,
    pool_name: str,
    now: datetime,
    policy: BookingPolicy,
    timing: Timing,
    skip: set[int] | None = None,
) -> Offered | None:
    """Make at most one offer in `pool_name`: to the first WAITING entry, in the order of
    `domain.waitlist.order`, that fits now (capacity, the user's limit, budgets: whatever
    `reservations.book` checks). None when no entry fits, or another sweeper holds the pool.
    Entries refused for a reason other than capacity are added to `skip` (not tried again
    this pass); one that can no longer be booked at all (its kind left the pool, its user is
    disabled) becomes GONE."""
    skip = skip if skip is not None else set()
    got = tx.execute(
        text("SELECT pg_try_advisory_xact_lock(:k, hashtext(:pool))"),
        {"k": WAITLIST_SWEEP, "pool": pool_name},
    ).scalar_one()
    if not got:
        return None
    entries = [
        e
        for e in tx.scalars(
            select(WaitlistEntry)
            .where(
                WaitlistEntry.pool == pool_name,
                WaitlistEntry.state == WaitlistState.WAITING.value,
                WaitlistEntry.start_at > now,
            )
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).all()
        if e.id not in skip
    ]
    if not entries:
        return None
    by_id = {e.id: e for e in entries}
    waiting = [
        rules.Waiting(e.id, rules.group_of(e.user_id, e.team_id), e.created_at) for e in entries
    ]
    ordered = rules.order(waiting, usage(tx, {w.group for w in waiting}, now, timing.half_life))
    pool = pools.get(tx, pool_name)
    existing = reservations.live_overlapping(
        tx, pool_name, min(e.start_at for e in entries), max(e.end_at for e in entries)
    )
    total = pool.capacity()
    for w in ordered:
        entry = by_id[w.id]
        demand = {
            entry.gpu_kind: entry.gpu_count,
            CPU: entry.cpu_millicores,
            MEMORY: entry.memory_bytes,
        }
        if entry.gpu_kind not in total:
            _gone(tx, entry, now, f"pool {pool_name} has no {entry.gpu_kind} any more")
            continue
        if capacity.fits(total, existing, capacity.Booking(entry.start_at, entry.end_at, demand)):
            continue  # short by the read above; the booking below would say so too
        made = _try_offer(tx, entry, now, policy, timing, skip)
        if made is not None:
            return made
    return None


def _try_offer(
    tx: Tx,
    entry: WaitlistEntry,
    now: datetime,
    policy: BookingPolicy,
    timing: Timing,
    skip: set[int],
) -> Offered | None:
    user = tx.get(User, entry.user_id)
    if user is None or user.disabled:
        _gone(tx, entry, now, "the account is disabled")
        return None
    team = tx.get(Team, entry.team_id) if entry.team_id is not None else None
    req = Request(
        pool=entry.pool,
        start=entry.start_at,
        end=entry.end_at,
        gpu_kind=entry.gpu_kind,
        gpu_count=entry.gpu_count,
        mode=Mode(entry.mode),
        cpu_millicores=entry.cpu_millicores,
        memory_bytes=entry.memory_bytes,
        team=team.name if team is not None else None,
    )
    until = rules.offer_until(now, timing.offer_hold, entry.start_at)
    try:
        # a savepoint: a refusal rolls back the booking's locks with it
        with tx.begin_nested():
            row = reservations.book(
                tx,
                principal(user),
                req,
                policy,
                now,
                "waitlist",
                staging.stage_from_json(entry.stage),
                hold=Hold("offer", until),
            )
    except reservations.Short:
        return None  # a booking took the capacity since it was read
    except (Invalid, NotFound) as exc:
        _gone(tx, entry, now, f"it cannot be booked any more: {exc.detail}")
        return None
    except StoreError:  # the user's limit, the team's budget: not now, maybe later
        skip.add(entry.id)
        return None
    _move(entry, WaitlistState.OFFERED, now)
    entry.reservation_id = row.id
    entry.reason = None
    audit.record(
        tx,
        "berth",
        "waitlist.offer",
        f"waitlist:{entry.id}",
        {"reservation": str(row.id), "until": until.isoformat()},
        None,
    )
    notify(
        tx,
        user_id=entry.user_id,
        kind="offer",
        title="A waitlist offer is held for you",
        body=f"{entry.gpu_count} x {entry.gpu_kind} in pool {entry.pool} from "
        f"{entry.start_at:%Y-%m-%d %H:%M} to {entry.end_at:%Y-%m-%d %H:%M} UTC is yours if "
        f"you accept it by {until:%Y-%m-%d %H:%M} UTC (My waitlist).",
        reservation_id=row.id,
    )
    return Offered(entry.id, row.id)


def _gone(tx: Tx, entry: WaitlistEntry, now: datetime, reason: str) -> None:
    _move(entry, WaitlistState.GONE, now, reason)
    audit.record(tx, "berth", "waitlist.gone", f"waitlist:{entry.id}", {"reason": reason}, None)


def waiting_pools(tx: Tx, now: datetime) -> list[str]:
    q = (
        select(WaitlistEntry.pool)
        .where(WaitlistEntry.state == WaitlistState.WAITING.value, WaitlistEntry.start_at > now)
        .distinct()
        .order_by(WaitlistEntry.pool)
    )
    return list(tx.scalars(q).all())


@dataclass(frozen=True)
class Swept:
    settled: int
    offers: list[Offered]


def sweep(
    db: Database,
    now: datetime,
    policy: BookingPolicy,
    timing: Timing,
    pool: str | None = None,
) -> Swept:
    """One pass: settle, then offer pool by pool (or in `pool` only), one offer per
    transaction, until no WAITING entry fits. Safe with any number of sweepers at once."""
    with db.transaction() as tx:
        settled = len(settle(tx, now))
    with db.transaction() as tx:
        names = [pool] if pool is not None else waiting_pools(tx, now)
    offers: list[Offered] = []
    for name in names:
        skip: set[int] = set()
        for _ in range(OFFERS_PER_PASS):
            with db.transaction() as tx:
                made = offer(tx, name, now, policy, timing, skip)
            if made is None:
                break
            offers.append(made)
    return Swept(settled, offers)


def _wake(tx: Tx, reservation_id: uuid.UUID) -> None:
    tx.execute(text("SELECT pg_notify(:c, :id)"), {"c": NOTIFY_CHANNEL, "id": str(reservation_id)})
