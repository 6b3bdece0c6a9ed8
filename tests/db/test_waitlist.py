"""The fair waitlist on the real database: offers in order of decayed team usage, lapses,
declines, and the issue's check: on a random stream of bookings, cancellations, waitlist
joins and answers, an oracle of the rules predicts every sweep's offers, in order, and no
offer ever breaks capacity. Several sweepers and bookers at once never double-book and never
offer one entry twice."""

from __future__ import annotations

import contextlib
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from berth.config import load_pool_file
from berth.domain.policy import BookingPolicy
from berth.domain.reservation import HOLDING, Mode, Request
from berth.store import holds, reservations, waitlist
from berth.store.db import Database, Tx
from berth.store.errors import Conflict, Refused
from berth.store.models import Reservation, Team, TeamBudget, TeamMember, User, WaitlistEntry
from berth.store.users import Principal, principal

POOL = "c845a"
POLICY = BookingPolicy()
TIMING = waitlist.Timing(offer_hold=timedelta(minutes=15), half_life=timedelta(hours=168))
CAPACITY = load_pool_file()[0].capacity()
FRACTION = {"mig-1g.24gb": 0.25, "gpu": 1.0}
DEFAULTS = {"mig-1g.24gb": (16_000, 96 * 2**30), "gpu": (32_000, 192 * 2**30)}


def make_user(db: Database, name: str, team: str | None = None) -> Principal:
    with db.transaction() as tx:
        user = User(username=name, role="user", password_hash=None)
        tx.add(user)
        tx.flush()
        if team is not None:
            team_id = tx.scalar(select(Team.id).where(Team.name == team))
            if team_id is None:
                t = Team(name=team)
                tx.add(t)
                tx.flush()
                team_id = t.id
            tx.add(TeamMember(team_id=team_id, user_id=user.id))
        return principal(user)


def req(start: datetime, hours: int, kind: str = "mig-1g.24gb", count: int = 1) -> Request:
    return Request(POOL, start, start + timedelta(hours=hours), kind, count, Mode.INTERACTIVE)


def book(db: Database, who: Principal, r: Request, now: datetime) -> uuid.UUID | None:
    """The booking, or None when it does not fit."""
    try:
        with db.transaction() as tx:
            return reservations.book(tx, who, r, POLICY, now).id
    except Refused:
        return None


def join(db: Database, who: Principal, r: Request, now: datetime) -> int:
    with db.transaction() as tx:
        return waitlist.join(tx, who, r, POLICY, now).id


def past_usage(db: Database, who: Principal, hours: float, ended: datetime) -> None:
    """A COMPLETED reservation of `who` (for their team, if any): `hours` of one GPU."""
    with db.transaction() as tx:
        team = tx.scalar(select(TeamMember.team_id).where(TeamMember.user_id == who.id))
        start = ended - timedelta(hours=hours)
        tx.add(
            Reservation(
                id=uuid.uuid4(),
                pool=POOL,
                owner_id=who.id,
                start_at=start,
                end_at=ended,
                gpu_kind="gpu",
                gpu_count=1,
                mode="interactive",
                cpu_millicores=1000,
                memory_bytes=2**30,
                status="COMPLETED",
                team_id=team,
                stage={},
                created_at=start,
                updated_at=ended,
            )
        )


def state(db: Database, entry_id: int) -> tuple[str, uuid.UUID | None]:
    with db.transaction() as tx:
        e = tx.get(WaitlistEntry, entry_id)
        assert e is not None
        return e.state, e.reservation_id


def status(db: Database, rid: uuid.UUID) -> str:
    with db.transaction() as tx:
        return str(tx.scalar(select(Reservation.status).where(Reservation.id == rid)))


def sweep(db: Database, now: datetime) -> list[int]:
    return [o.entry_id for o in waitlist.sweep(db, now, POLICY, TIMING).offers]


def _u(tx: Tx) -> User:
    """The holder of the GPU (fill_the_gpu)."""
    user = tx.scalar(select(User).where(User.username == "holder"))
    assert user is not None
    return user


def fill_the_gpu(db: Database, now: datetime, start: datetime) -> uuid.UUID:
    holder = make_user(db, "holder")
    rid = book(db, holder, req(start, 4, "gpu"), now)
    assert rid is not None
    return rid


def test_freed_capacity_goes_to_the_team_with_least_recent_usage_not_the_first_to_ask(
    db: Database, now: datetime
) -> None:
    start = now + timedelta(days=1)
    held = fill_the_gpu(db, now, start)
    heavy = make_user(db, "heavy", "vision")
    light = make_user(db, "light", "speech")
    past_usage(db, heavy, 40, now - timedelta(days=2))
    past_usage(db, light, 10, now - timedelta(days=1))
    assert book(db, heavy, req(start, 2, "gpu"), now) is None
    first = join(db, heavy, req(start, 2, "gpu"), now)
    second = join(db, light, req(start, 2, "gpu"), now + timedelta(minutes=1))
    assert sweep(db, now) == []  # nothing freed yet

    with db.transaction() as tx:
        reservations.cancel(tx, principal(_u(tx)), held, now)
    later = now + timedelta(minutes=2)
    assert sweep(db, later) == [second]
    got, offer = state(db, second)
    assert got == "OFFERED"
    assert offer is not None
    with db.transaction() as tx:
        row = tx.get(Reservation, offer)
        assert row is not None
        assert (row.status, row.hold_kind) == ("PENDING", "offer")
        assert row.hold_until == later + TIMING.offer_hold
        kinds = tx.execute(
            text("SELECT kind FROM notifications WHERE user_id = :u"), {"u": light.id}
        ).scalars()
        assert list(kinds) == ["offer"]
    assert state(db, first) == ("WAITING", None)

    # nobody answers: the hold expires, the entry lapses and the next in order is offered
    lapse = later + TIMING.offer_hold
    with db.transaction() as tx:
        assert [r.id for r in holds.expire(tx, lapse)] == [offer]
    assert sweep(db, lapse) == [first]
    assert state(db, second) == ("LAPSED", offer)
    assert state(db, first)[0] == "OFFERED"


def test_accept_makes_the_offer_a_booking_and_decline_passes_it_on(
    db: Database, now: datetime
) -> None:
    start = now + timedelta(days=1)
    held = fill_the_gpu(db, now, start)
    a, b = make_user(db, "anna"), make_user(db, "bert")
    ea = join(db, a, req(start, 2, "gpu"), now)
    eb = join(db, b, req(start, 2, "gpu"), now)
    with db.transaction() as tx:
        reservations.cancel(tx, principal(_u(tx)), held, now)
    assert sweep(db, now) == [ea]  # no usage on either side: by arrival
    with db.transaction() as tx:
        waitlist.decline(tx, a, ea, now)
    offer_a = state(db, ea)[1]
    assert offer_a is not None
    assert status(db, offer_a) == "CANCELED"
    assert sweep(db, now) == [eb]
    with db.transaction() as tx:
        entry, row = waitlist.accept(tx, b, eb, now + timedelta(minutes=1))
    assert (entry.state, row.status) == ("ACCEPTED", "APPROVED")
    with (
        pytest.raises(Conflict, match="ACCEPTED waitlist entry has no offer"),
        db.transaction() as tx,
    ):
        waitlist.accept(tx, b, eb, now)
    with db.transaction() as tx:
        actions = tx.execute(
            text("SELECT action FROM audit_log WHERE target LIKE 'waitlist:%' ORDER BY id")
        ).scalars()
        assert list(actions) == [
            "waitlist.join",
            "waitlist.join",
            "waitlist.offer",
            "waitlist.decline",
            "waitlist.offer",
            "waitlist.accept",
        ]


def test_an_offer_cannot_be_accepted_once_its_hold_ended(db: Database, now: datetime) -> None:
    start = now + timedelta(days=1)
    held = fill_the_gpu(db, now, start)
    a = make_user(db, "anna")
    ea = join(db, a, req(start, 2, "gpu"), now)
    with db.transaction() as tx:
        reservations.cancel(tx, principal(_u(tx)), held, now)
    assert sweep(db, now) == [ea]
    with pytest.raises(Conflict, match="lapsed"), db.transaction() as tx:
        waitlist.accept(tx, a, ea, now + TIMING.offer_hold)


def test_an_offer_is_held_no_later_than_the_window_start_and_an_opened_window_is_gone(
    db: Database, now: datetime
) -> None:
    start = now + timedelta(minutes=30)
    held = fill_the_gpu(db, now, start)
    a, b = make_user(db, "anna"), make_user(db, "bert")
    ea = join(db, a, req(start, 2, "gpu"), now)
    eb = join(db, b, req(start + timedelta(hours=4), 2, "gpu"), now)  # fits: offered at once
    with db.transaction() as tx:
        reservations.cancel(tx, principal(_u(tx)), held, now)
    at = now + timedelta(minutes=20)
    assert sorted(sweep(db, at)) == sorted([ea, eb])
    offer = state(db, ea)[1]
    with db.transaction() as tx:
        row = tx.get(Reservation, offer)
        assert row is not None
        assert row.hold_until == start  # not at + 15 minutes
    c = make_user(db, "carl")
    ec = join(db, c, req(start, 2, "gpu"), at)  # blocked by a's offer
    assert sweep(db, at) == []
    # the window opens before anything frees: the entry is GONE, its user told
    waitlist.sweep(db, start, POLICY, TIMING)
    with db.transaction() as tx:
        told = tx.execute(
            text("SELECT title FROM notifications WHERE user_id = :u"), {"u": c.id}
        ).scalars()
        assert list(told) == ["Your waitlist request ended"]
    assert state(db, ec)[0] == "GONE"


def test_the_same_request_waits_once(db: Database, now: datetime) -> None:
    a = make_user(db, "anna")
    r = req(now + timedelta(days=1), 2, "gpu")
    entry = join(db, a, r, now)
    with pytest.raises(Conflict, match="already on the waitlist"):
        join(db, a, r, now)
    with db.transaction() as tx:
        waitlist.withdraw(tx, a, entry, now)
    join(db, a, r, now)  # withdrawn: it may wait again
    with (
        pytest.raises(Conflict, match="WITHDRAWN waitlist entry cannot become WITHDRAWN"),
        db.transaction() as tx,
    ):
        waitlist.withdraw(tx, a, entry, now)


# ---- the oracle --------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    start: datetime
    end: datetime
    demand: dict[str, int]


def demand_of(kind: str, count: int, cpu: int, memory: int) -> dict[str, int]:
    return {kind: count, "cpu": cpu, "memory": memory}


def fits(blocks: list[Block], new: Block) -> bool:
    """Brute force: at every instant where something starts inside the new window, the sum
    of what holds capacity plus the new block stays within the pool's capacity."""
    points = {new.start} | {b.start for b in blocks if new.start <= b.start < new.end}
    for p in points:
        for resource, cap in CAPACITY.items():
            used = sum(b.demand.get(resource, 0) for b in blocks if b.start <= p < b.end)
            if used + new.demand.get(resource, 0) > cap:
                return False
    return True


def never_over_capacity(db: Database) -> None:
    with db.transaction() as tx:
        rows = tx.execute(
            select(
                Reservation.start_at,
                Reservation.end_at,
                Reservation.gpu_kind,
                Reservation.gpu_count,
                Reservation.cpu_millicores,
                Reservation.memory_bytes,
            ).where(Reservation.status.in_([s.value for s in HOLDING]))
        ).all()
    blocks = [Block(s, e, demand_of(k, n, c, m)) for s, e, k, n, c, m in rows]
    for b in blocks:
        others = [o for o in blocks if o is not b]
        for resource, cap in CAPACITY.items():
            used = sum(o.demand.get(resource, 0) for o in others if o.start <= b.start < o.end)
            assert used + b.demand.get(resource, 0) <= cap, (b, resource)


def expected_offers(db: Database, now: datetime) -> list[int]:
    """What a sweep at `now` must offer, in order, computed from the rows by the rules stated
    in docs/teams.md (not by the code under test): lowest decayed usage of the group first,
    ties by arrival; each entry that fits (capacity, the user's limit) is offered and holds
    its capacity for the next."""
    half_life = TIMING.half_life.total_seconds()
    with db.transaction() as tx:
        res = tx.execute(
            select(
                Reservation.owner_id,
                Reservation.team_id,
                Reservation.start_at,
                Reservation.end_at,
                Reservation.gpu_kind,
                Reservation.gpu_count,
                Reservation.cpu_millicores,
                Reservation.memory_bytes,
                Reservation.status,
            )
        ).all()
        entries = tx.execute(
            select(WaitlistEntry).where(
                WaitlistEntry.state == "WAITING", WaitlistEntry.start_at > now
            )
        ).scalars()
        entries = list(entries)
    usage: dict[tuple[str, int], float] = {}
    holding: list[Block] = []
    per_user: dict[int, list[Block]] = {}
    for owner, team, s, e, kind, n, cpu, mem, st in res:
        if st in ("APPROVED", "ACTIVE", "COMPLETED"):
            group = ("team", team) if team is not None else ("user", owner)
            age = max(0.0, (now - e).total_seconds())
            hours = (e - s).total_seconds() / 3600
            usage[group] = usage.get(group, 0.0) + n * FRACTION[kind] * hours * 0.5 ** (
                age / half_life
            )
        if st in ("PENDING", "APPROVED", "ACTIVE"):
            block = Block(s, e, demand_of(kind, n, cpu, mem))
            holding.append(block)
            per_user.setdefault(owner, []).append(block)

    def key(x: WaitlistEntry) -> tuple[float, datetime, int]:
        group = ("team", x.team_id) if x.team_id is not None else ("user", x.user_id)
        return (usage.get(group, 0.0), x.created_at, x.id)

    offered = []
    for x in sorted(entries, key=key):
        block = Block(
            x.start_at,
            x.end_at,
            demand_of(x.gpu_kind, x.gpu_count, x.cpu_millicores, x.memory_bytes),
        )
        mine = [b for b in per_user.get(x.user_id, []) if b.start < x.end_at and x.start_at < b.end]
        if len(mine) >= POLICY.max_concurrent_per_user or not fits(holding, block):
            continue
        offered.append(x.id)
        holding.append(block)
        per_user.setdefault(x.user_id, []).append(block)
    return offered


@pytest.mark.parametrize("seed", range(6))
def test_a_random_stream_offers_in_the_oracles_order_and_never_breaks_capacity(
    db: Database, now: datetime, seed: int
) -> None:
    rng = random.Random(seed)
    teams = ["vision", "speech", "robots", None]
    people = [make_user(db, f"u{i}", teams[i % len(teams)]) for i in range(12)]
    for i, who in enumerate(people[:8]):  # past usage, distinct per team
        past_usage(db, who, 3 + 7 * i, now - timedelta(hours=5 + 31 * i))
    base = now + timedelta(days=1)
    slots = [base + timedelta(hours=2 * k) for k in range(6)]
    clock = now
    booked: list[tuple[Principal, uuid.UUID]] = []
    offers_made = 0
    for _step in range(120):
        clock += timedelta(minutes=rng.choice([1, 3, 7]))
        op = rng.random()
        who = rng.choice(people)
        if op < 0.4:
            kind = rng.choice(["mig-1g.24gb", "mig-1g.24gb", "gpu"])
            count = rng.randint(1, 3) if kind != "gpu" else 1
            r = req(rng.choice(slots), rng.choice([2, 4, 6]), kind, count)
            rid = book(db, who, r, clock)
            if rid is not None:
                booked.append((who, rid))
            elif rng.random() < 0.9:
                with contextlib.suppress(Conflict):  # the same request already waits
                    join(db, who, r, clock)
        elif op < 0.7 and booked:
            owner, rid = booked.pop(rng.randrange(len(booked)))
            with db.transaction() as tx:
                if tx.scalar(select(Reservation.status).where(Reservation.id == rid)) in (
                    "APPROVED",
                    "PENDING",
                ):
                    reservations.cancel(tx, owner, rid, clock)
        elif op < 0.8:
            # answer some open offers: accept, decline or let them run
            with db.transaction() as tx:
                open_offers = tx.execute(
                    select(WaitlistEntry.id, WaitlistEntry.user_id).where(
                        WaitlistEntry.state == "OFFERED"
                    )
                ).all()
            for entry_id, user_id in open_offers:
                choice = rng.random()
                owner = next(p for p in people if p.id == user_id)
                try:
                    with db.transaction() as tx:
                        if choice < 0.4:
                            _, row = waitlist.accept(tx, owner, entry_id, clock)
                            booked.append((owner, row.id))
                        elif choice < 0.7:
                            waitlist.decline(tx, owner, entry_id, clock)
                except Conflict:
                    pass  # lapsed meanwhile
        else:
            with db.transaction() as tx:
                holds.expire(tx, clock)
                waitlist.settle(tx, clock)
            expected = expected_offers(db, clock)
            got = sweep(db, clock)
            assert got == expected, f"step {_step}"
            offers_made += len(got)
        never_over_capacity(db)
    assert offers_made >= 5  # the stream did exercise offers
    with db.transaction() as tx:
        # every offer reservation belongs to exactly one entry
        offers = tx.scalar(
            select(func.count()).select_from(Reservation).where(Reservation.hold_kind == "offer")
        )
        linked = tx.scalar(
            select(func.count())
            .select_from(WaitlistEntry)
            .where(WaitlistEntry.reservation_id.is_not(None))
        )
        assert offers == linked


def test_several_sweepers_and_bookers_at_once_never_double_book_nor_offer_twice(
    db: Database, now: datetime
) -> None:
    rng = random.Random(7)
    people = [make_user(db, f"p{i}", ["a", "b", "c", None][i % 4]) for i in range(16)]
    base = now + timedelta(days=1)
    slots = [base + timedelta(hours=2 * k) for k in range(3)]
    # fill the pool, put many requests on the waitlist, then free everything at once
    fillers = []
    for k, s in enumerate(slots):
        filler = make_user(db, f"filler{k}")
        for kind, n in (("gpu", 1), ("mig-1g.24gb", 4)):
            rid = book(db, filler, req(s, 2, kind, n), now)
            assert rid is not None
            fillers.append((filler, rid))
    entries = 0
    for who in people:
        for s in rng.sample(slots, 2):
            kind = rng.choice(["gpu", "mig-1g.24gb"])
            try:
                join(db, who, req(s, 2, kind, 1 if kind == "gpu" else rng.randint(1, 2)), now)
                entries += 1
            except Conflict:
                pass
    assert entries >= 24
    for owner, rid in fillers:
        with db.transaction() as tx:
            reservations.cancel(tx, owner, rid, now)

    errors: list[BaseException] = []
    offers: list[int] = []
    lock = threading.Lock()
    go = threading.Barrier(8)

    def sweeper() -> None:
        try:
            go.wait()
            for _ in range(3):
                made = sweep(db, now)
                with lock:
                    offers.extend(made)
        except BaseException as exc:  # reported below
            errors.append(exc)

    def booker(k: int) -> None:
        r = random.Random(k)
        try:
            go.wait()
            for _ in range(6):
                who = r.choice(people)
                kind = r.choice(["gpu", "mig-1g.24gb"])
                book(db, who, req(r.choice(slots), 2, kind, 1), now)
        except Conflict:
            pass  # the per-user limit
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    threads += [threading.Thread(target=booker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert offers, "the sweepers made offers"
    assert len(offers) == len(set(offers)), "an entry was offered twice"
    never_over_capacity(db)
    with db.transaction() as tx:
        offered = tx.scalar(
            select(func.count()).select_from(Reservation).where(Reservation.hold_kind == "offer")
        )
        assert offered == len(offers)
        audited = tx.execute(
            text(
                "SELECT target, count(*) FROM audit_log WHERE action = 'waitlist.offer' "
                "GROUP BY target HAVING count(*) > 1"
            )
        ).all()
        assert audited == []
        # the pool is full again where anything waits: no WAITING entry fits any more
    assert expected_offers(db, now) == []


def test_an_offer_over_its_teams_budget_is_not_made_and_the_next_fair_one_is(
    db: Database, now: datetime
) -> None:
    """Offers go through the booking path, budgets included: freed capacity passes over a
    waiting request its team can no longer afford, to the next in order."""
    start = now + timedelta(days=1)
    held = fill_the_gpu(db, now, start)
    frugal = make_user(db, "frugal", "speech")  # no usage: first in order
    other = make_user(db, "other", "vision")
    past_usage(db, other, 10, now - timedelta(days=1))
    with db.transaction() as tx:
        speech = tx.scalar(select(Team.id).where(Team.name == "speech"))
        tx.add(TeamBudget(team_id=speech, pool=POOL, gpu_kind="gpu", gpu_hours_week=1))
    poor = join(db, frugal, req(start, 2, "gpu"), now)
    rich = join(db, other, req(start, 2, "gpu"), now + timedelta(minutes=1))
    with db.transaction() as tx:
        reservations.cancel(tx, principal(_u(tx)), held, now)
    assert sweep(db, now + timedelta(minutes=2)) == [rich]
    assert state(db, poor) == ("WAITING", None)
    never_over_capacity(db)
