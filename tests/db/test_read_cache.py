"""The read cache answers exactly what a fresh read answers, whatever was written and when.

Each check compares the cache's calendar (and availability, and the readers' reservation
lists) with the uncached query run at the same moment, for random windows (whole days, hours,
across midnights, up to weeks), random readers (owners, others, an admin) and one pool or
all, after random writes: inserts, moves in time and between pools, status changes, deletes,
renames, a pool's new capacity, sessions and their idle state coming, changing and going.
Writes made concurrently with the cache's reads, committed before, during and after them,
must all be seen by the first read after their commit.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, text

from berth.api import views
from berth.config import load_pool_file
from berth.domain.capacity import Step
from berth.domain.pool import Pool
from berth.domain.reservation import Status
from berth.store import listing, maintenance, pools, read_cache, reservations, users
from berth.store.db import Database, Tx
from berth.store.users import Principal

BASE = datetime(2030, 3, 2, 0, 0, tzinfo=UTC)
POOLS = ["c845a", "c845b"]
STATUSES = ["PENDING", "APPROVED", "ACTIVE", "COMPLETED", "CANCELED", "EXPIRED"]

_INSERT = text(
    """
    INSERT INTO reservations (id, pool, owner_id, start_at, end_at, gpu_kind, gpu_count, mode,
                              cpu_millicores, memory_bytes, status, hold_until, hold_kind)
    VALUES (:id, :pool, :owner, :start, :end, 'gpu', :count, 'interactive', 1000, 1024,
            CAST(:status AS varchar), CASE WHEN :status = 'PENDING' THEN CAST(:end AS timestamptz) END,
            CASE WHEN :status = 'PENDING' THEN 'approval' END)
    """
)


@pytest.fixture
def readers(db: Database) -> list[Principal]:
    with db.transaction() as tx:
        base = load_pool_file()[0]
        pools.sync(tx, [base, replace(base, name="c845b")])
        made = [
            users.create(tx, name, f"pw-{name}-long-enough", role, actor="t")
            for name, role in [("alice", "user"), ("bob", "user"), ("carol", "user")]
        ]
        made.append(users.create(tx, "root", "pw-root-long-enough", "admin", actor="t"))
        return [users.principal(u) for u in made]


def _random_row(rng: random.Random, owners: list[Principal]) -> dict[str, object]:
    start = BASE + timedelta(minutes=15 * rng.randrange(4 * 24 * 20))
    status = rng.choice(STATUSES)
    return {
        "id": uuid.uuid4(),
        "pool": rng.choice(POOLS),
        "owner": rng.choice(owners).id,
        "start": start,
        "end": start + timedelta(minutes=15 * rng.randrange(1, 4 * 24 * 3)),
        "count": rng.randrange(1, 3),
        "status": status,
    }


def _seed(db: Database, rng: random.Random, owners: list[Principal], n: int) -> None:
    """Only `n` random reservations in the database."""
    with db.transaction() as tx:
        tx.execute(text("DELETE FROM reservations"))
        for _ in range(n):
            tx.execute(_INSERT, _random_row(rng, owners))


def _take_an_id(db: Database) -> None:
    """A transaction that takes an id and commits (ending before any still open)."""
    with db.transaction() as tx:
        tx.execute(text("SELECT pg_current_xact_id()"))


def _assert_fresh(
    db: Database,
    cache: read_cache.ReadCache,
    who: Principal,
    since: datetime,
    until: datetime,
    pool: str | None = None,
) -> None:
    """The cache's calendar and availability are what the uncached queries answer now."""
    with db.transaction() as tx:
        cached = cache.calendar(tx, who, since, until, pool)
        fresh = reservations.calendar_json(tx, who, since, until, pool)
    assert json.loads(cached) == json.loads(fresh), (who.username, since, until, pool)
    for p in [pool] if pool else POOLS:
        with db.transaction() as tx:
            kept = cache.availability(tx, p, since, until, _as_json)
            assert kept == _availability(tx, p, since, until), (p, since, until)
    _same_list(db, cache, who, mine=True)


def _same_list(db: Database, cache: read_cache.ReadCache, who: Principal, **how: object) -> None:
    """The cache's reservation list is what the uncached query answers now."""
    with db.transaction() as tx:
        kept = cache.listing(tx, who, **how)  # type: ignore[arg-type]
        fresh = listing.search(tx, who, **how)  # type: ignore[arg-type]
    assert kept == fresh, (who.username, how)


def _write(tx: Tx, rng: random.Random, owners: list[Principal]) -> None:
    """One random write of any kind a reservation, a user or a pool can see."""
    ids = [r for (r,) in tx.execute(text("SELECT id FROM reservations")).all()]
    kind = rng.choice(
        ["insert"] * 4 + ["move", "status", "delete", "pool", "many", "session", "idle"] * 2
    )
    if kind == "insert" or not ids:
        tx.execute(_INSERT, _random_row(rng, owners))
    elif kind == "session":
        _write_session(tx, rng, rng.choice(ids))
    elif kind == "idle":
        _write_idle(tx, rng, rng.choice(ids))
    elif kind == "move":
        shift = timedelta(minutes=15 * rng.randrange(-4 * 24 * 3, 4 * 24 * 3))
        tx.execute(
            text(
                "UPDATE reservations SET start_at = start_at + :d, end_at = end_at + :d, "
                "pool = :pool WHERE id = :id"
            ),
            {"d": shift, "pool": rng.choice(POOLS), "id": rng.choice(ids)},
        )
    elif kind == "status":
        status = rng.choice(STATUSES)
        tx.execute(
            text(
                "UPDATE reservations SET status = CAST(:s AS varchar), hold_until = CASE WHEN :s = 'PENDING' "
                "THEN end_at END, hold_kind = CASE WHEN :s = 'PENDING' THEN 'approval' END "
                "WHERE id = :id"
            ),
            {"s": status, "id": rng.choice(ids)},
        )
    elif kind == "delete":
        tx.execute(text("DELETE FROM reservations WHERE id = :id"), {"id": rng.choice(ids)})
    elif kind == "many":  # one statement over many rows, in both pools
        tx.execute(
            text("UPDATE reservations SET gpu_count = gpu_count % 3 + 1 WHERE id = ANY(:ids)"),
            {"ids": rng.sample(ids, min(len(ids), 10))},
        )
    else:
        who = rng.choice(owners)
        if rng.random() < 0.5:
            tx.execute(
                text("UPDATE users SET username = :n WHERE id = :id"),
                {"n": f"u{rng.randrange(10**6)}", "id": who.id},
            )
        else:
            base = load_pool_file()[0]
            cpu = 1000 * rng.randrange(64, 128)
            nodes = tuple(replace(n, cpu_millicores=cpu) for n in base.nodes)
            pools.sync(tx, [replace(base, name=rng.choice(POOLS), nodes=nodes)])


def _write_session(tx: Tx, rng: random.Random, reservation: uuid.UUID) -> None:
    """A reservation's session comes, changes (what the list shows, or only what it does not)
    or goes."""
    phase = rng.choice(["provisioning", "ready", "tearing_down", "gone", "failed"])
    url = rng.choice([None, f"https://ws-{rng.randrange(100)}.example"])
    how = rng.choice(["upsert", "upsert", "step", "delete"])
    if how == "delete":
        tx.execute(text("DELETE FROM sessions WHERE reservation_id = :id"), {"id": reservation})
    elif how == "step":  # not shown by the list
        tx.execute(
            text(
                "UPDATE sessions SET step = :s, attempts = attempts + 1 WHERE reservation_id = :id"
            ),
            {"s": f"step-{rng.randrange(9)}", "id": reservation},
        )
    else:
        tx.execute(
            text(
                "INSERT INTO sessions (reservation_id, namespace, phase, url, started_at, updated_at) "
                "VALUES (:id, :ns, :phase, :url, now(), now()) ON CONFLICT (reservation_id) "
                "DO UPDATE SET phase = excluded.phase, url = excluded.url"
            ),
            {"id": reservation, "ns": f"berth-{reservation}", "phase": phase, "url": url},
        )


def _write_idle(tx: Tx, rng: random.Random, reservation: uuid.UUID) -> None:
    """A reservation's idle state: a warning, a keep, its opening (not shown), or none."""
    t = BASE + timedelta(minutes=15 * rng.randrange(4 * 24 * 20))
    how = rng.choice(["warn", "keep", "open", "clear", "delete"])
    if how == "delete":
        tx.execute(text("DELETE FROM session_idle WHERE reservation_id = :id"), {"id": reservation})
        return
    columns = {
        "warn": "warned_at = :t, reason = 'idle', release_at = :t + interval '1 hour'",
        "keep": "keep_until = :t",
        "open": "opened_at = :t",  # not shown by the list
        "clear": "warned_at = NULL, reason = NULL, release_at = NULL, keep_until = NULL",
    }[how]
    tx.execute(
        text(
            "INSERT INTO session_idle (reservation_id, updated_at) VALUES (:id, now()) "
            "ON CONFLICT (reservation_id) DO NOTHING"
        ),
        {"id": reservation},
    )
    tx.execute(
        text(f"UPDATE session_idle SET {columns} WHERE reservation_id = :id"),  # noqa: S608
        {"id": reservation, "t": t},
    )


def _window(rng: random.Random) -> tuple[datetime, datetime]:
    start = BASE + timedelta(minutes=15 * rng.randrange(-4 * 24, 4 * 24 * 22))
    length = rng.choice([timedelta(days=7), timedelta(days=1), timedelta(days=14)])
    if rng.random() < 0.4:
        length = timedelta(minutes=15 * rng.randrange(1, 4 * 24 * 9))
    return start, start + length


def _as_json(p: Pool, steps: list[Step]) -> bytes:
    return views.json_bytes(
        {
            "capacity": views.amounts(p.capacity()),
            "steps": [
                {"start": s.start, "end": s.end, "free": views.amounts(s.amounts)} for s in steps
            ],
        }
    )


def _availability(tx: Tx, pool: str, start: datetime, end: datetime) -> bytes:
    return _as_json(*reservations.availability(tx, pool, start, end))


def _same(db: Database, cache: read_cache.ReadCache, rng: random.Random, who: Principal) -> None:
    since, until = _window(rng)
    pool = rng.choice([*POOLS, None])
    with db.transaction() as tx:
        limit = rng.choice([5000, 7])
        cached = cache.calendar(tx, who, since, until, pool, limit=limit)
        fresh = reservations.calendar_json(tx, who, since, until, pool, limit=limit)
    assert json.loads(cached) == json.loads(fresh), (who.username, since, until, pool)
    p = rng.choice(POOLS)
    with db.transaction() as tx:
        kept = cache.availability(tx, p, since, until, _as_json)
        assert kept == _availability(tx, p, since, until)
    # the list: one owner's (kept), or an admin's of everyone (read afresh), some filtered
    filters = rng.choice(
        [
            {},
            {"limit": 5},
            {"pool": rng.choice(POOLS)},
            {"since": since, "until": until},
            {"statuses": [Status.ACTIVE, Status.APPROVED]},
        ]
    )
    _same_list(db, cache, who, mine=rng.random() < 0.7, **filters)


def test_the_cache_answers_what_a_fresh_read_answers_through_random_writes(
    db: Database, readers: list[Principal]
) -> None:
    rng = random.Random(20301)
    cache = read_cache.ReadCache(64 * 2**20)
    _seed(db, rng, readers, 300)
    for _ in range(150):
        with db.transaction() as tx:
            for _ in range(rng.randrange(0, 3)):
                _write(tx, rng, readers)
        for _ in range(4):
            _same(db, cache, rng, rng.choice(readers))
    assert cache.stats.hits > 0  # both paths were taken
    assert cache.stats.refills > 0


def test_a_tiny_budget_drops_chunks_and_still_answers_right(
    db: Database, readers: list[Principal]
) -> None:
    rng = random.Random(7)
    cache = read_cache.ReadCache(40_000)  # a few days' chunks at most
    _seed(db, rng, readers, 400)
    for _ in range(60):
        _same(db, cache, rng, rng.choice(readers))
    kept = cache.footprint()
    assert (
        kept["calendar_bytes"] + kept["usage_bytes"] + kept["answer_bytes"] + kept["list_bytes"]
        <= 40_000
    )


class _CommitsDuring:
    """A session (`tx`) that commits `writer` during the read: never (`when` 0), right after
    the cache's snapshot (1), after its `after`-th statement (2), or before the first one
    made through the session (3: after the check, made on psycopg directly; a list's
    snapshot is the check's own)."""

    def __init__(self, writer: Connection, when: int, after: int) -> None:
        self.writer, self.when, self.after = writer, when, after
        self.tx: Tx | None = None
        self.calls = 0
        self.committed = False

    def __getattr__(self, name: str) -> object:  # the rest as the session
        return getattr(self.tx, name)

    def execute(self, stmt: object, *a: object, **k: object) -> object:
        if self.when == 3 and not self.committed:
            self.writer.commit()
            self.committed = True
        result = self.tx.execute(stmt, *a, **k)  # type: ignore[union-attr, call-overload]
        self.calls += 1
        chosen = stmt is read_cache._SNAPSHOT if self.when == 1 else self.calls == self.after
        if self.when in (1, 2) and chosen and not self.committed:
            self.writer.commit()
            self.committed = True
        return result


def test_a_write_in_flight_while_the_cache_reads_is_seen_once_committed(
    db: Database, readers: list[Principal]
) -> None:
    """The writer's transaction is open while the cache reads (its snapshot does not see it),
    or commits between the cache's snapshot and its read, or after any one statement of the
    read; whichever, the next read sees it. Calendar, availability and the list."""
    rng = random.Random(3)
    alice = readers[0]
    for round_ in range(72):
        cache = read_cache.ReadCache(64 * 2**20)
        _seed(db, rng, readers, 20)
        since, until = BASE, BASE + timedelta(days=21)
        with db.engine.connect() as writer:
            writer.begin()
            row = {**_random_row(rng, readers), "status": "APPROVED"}
            if rng.random() < 0.7:  # alice's, so that her list changes too
                row["owner"] = alice.id
            writer.execute(_INSERT, row)
            if round_ // 4 % 2:
                # a later transaction ends first: the writer's id is then below the snapshot's
                # xmax, yet not visible in it (ids do not commit in order)
                _take_an_id(db)
            # 0: after the read; 1: after its snapshot; 2: after one of its statements;
            # 3: before its first statement through the session
            between = _CommitsDuring(writer, round_ % 4, rng.randrange(1, 5))
            with db.transaction() as tx:
                between.tx = tx
                _read(cache, between, alice, since, until, round_ // 8)  # type: ignore[arg-type]
            if not between.committed:
                writer.commit()
        _assert_fresh(db, cache, alice, since, until, None)


def _read(
    cache: read_cache.ReadCache,
    tx: Tx,
    who: Principal,
    since: datetime,
    until: datetime,
    n: int,
) -> None:
    """The calendar, each pool's availability or the reader's list, by `n` modulo 3."""
    if n % 3 == 1:
        for p in POOLS:
            cache.availability(tx, p, since, until, _as_json)
    elif n % 3 == 2:
        json.loads(cache.listing(tx, who, mine=True).body)
    else:
        json.loads(cache.calendar(tx, who, since, until, None))


def test_concurrent_writers_and_readers_converge(db: Database, readers: list[Principal]) -> None:
    """Four writers and four readers at once on one cache, many rounds: once the writers
    stop, every window the readers asked for reads as it does afresh."""
    cache = read_cache.ReadCache(64 * 2**20)
    _seed(db, random.Random(11), readers, 200)
    stop = threading.Event()
    errors: list[BaseException] = []
    windows: list[tuple[datetime, datetime]] = []

    def write(n: int) -> None:
        rng = random.Random(n)
        try:
            for _ in range(60):
                with db.transaction() as tx:
                    _write(tx, rng, readers[:3])
        except BaseException as exc:
            errors.append(exc)

    def read(n: int) -> None:
        rng = random.Random(100 + n)
        try:
            while not stop.is_set():
                since, until = _window(rng)
                windows.append((since, until))
                with db.transaction() as tx:
                    _read(cache, tx, rng.choice(readers), since, until, rng.randrange(4))
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    reading = [threading.Thread(target=read, args=(n,)) for n in range(4)]
    for t in writers + reading:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in reading:
        t.join()
    assert not errors, errors
    assert len(windows) > 8
    for since, until in windows[:: max(1, len(windows) // 60)]:
        for who in readers:
            _assert_fresh(db, cache, who, since, until, None)


def test_pruning_the_log_makes_older_snapshots_stale_and_only_those(
    db: Database, readers: list[Principal]
) -> None:
    rng = random.Random(5)
    _seed(db, rng, readers, 50)
    now = datetime.now(UTC)
    maintenance.run(db, now, timedelta(days=365))  # sets the cut at what runs now
    cache = read_cache.ReadCache(64 * 2**20)
    alice = readers[0]
    since, until = BASE, BASE + timedelta(days=7)
    with db.transaction() as tx:
        cache.calendar(tx, alice, since, until, "c845a")
    filled = cache.stats.refills
    _take_an_id(db)  # some transaction, after the cache's snapshot
    done = maintenance.run(db, now, timedelta(days=365))
    assert done.changes_pruned > 0  # the seeding's rows, below the first cut
    with db.transaction() as tx:
        assert tx.execute(text("SELECT count(*) FROM reservation_changes")).scalar_one() == 0
        cache.calendar(tx, alice, since, until, "c845a")
    assert cache.stats.refills == filled  # its snapshot is newer than the cut: still good
    # that check renewed the chunks' snapshot; once two upkeeps pass it (the first sets the
    # cut, the second prunes to it), they are stale
    _take_an_id(db)
    maintenance.run(db, now, timedelta(days=365))
    _take_an_id(db)
    maintenance.run(db, now, timedelta(days=365))
    with db.transaction() as tx:
        cache.calendar(tx, alice, since, until, "c845a")
    assert cache.stats.refills == filled + 7
    _assert_fresh(db, cache, alice, since, until, "c845a")


def test_every_kind_of_write_leaves_a_change_and_a_read_leaves_none(
    db: Database, readers: list[Principal]
) -> None:
    rng = random.Random(9)
    row = _random_row(rng, readers)

    def changes() -> list[tuple[str, object]]:
        with db.transaction() as tx:
            return [
                (p, s) for p, s in tx.execute(text("SELECT pool, span FROM reservation_changes"))
            ]

    with db.transaction() as tx:
        tx.execute(text("DELETE FROM reservation_changes"))
        tx.execute(_INSERT, row)
        tx.execute(  # a second statement in the same transaction widens the same row
            text("UPDATE reservations SET end_at = end_at + interval '1 day' WHERE id = :id"),
            {"id": row["id"]},
        )
    ((pool, span),) = changes()
    assert pool == row["pool"]
    assert span.lower == row["start"]
    assert span.upper == row["end"] + timedelta(days=1)
    with db.transaction() as tx:
        reservations.calendar_json(tx, readers[0], BASE, BASE + timedelta(days=7))
        tx.execute(text("UPDATE users SET username = username WHERE id = :id"), {"id": 1})
    assert len(changes()) == 1  # reads, and writes that change nothing shown, leave none
    with db.transaction() as tx:
        tx.execute(text("UPDATE users SET username = 'zed' WHERE id = :id"), {"id": readers[1].id})
    with db.transaction() as tx:
        tx.execute(text("DELETE FROM reservations WHERE id = :id"), {"id": row["id"]})
    assert sorted(p for p, _ in changes()) == sorted(["*", str(row["pool"]), str(row["pool"])])


def test_what_a_list_shows_leaves_a_list_change_and_nothing_else_does(
    db: Database, readers: list[Principal]
) -> None:
    alice, bob = readers[0], readers[1]
    row = {**_random_row(random.Random(2), readers), "owner": alice.id}

    def owners_changed(write: str, **params: object) -> list[int]:
        with db.transaction() as tx:
            tx.execute(text("DELETE FROM list_changes"))
        with db.transaction() as tx:
            tx.execute(text(write), params)
        with db.transaction() as tx:
            return sorted(o for (o,) in tx.execute(text("SELECT owner_id FROM list_changes")))

    with db.transaction() as tx:
        tx.execute(_INSERT, row)
    r = {"id": row["id"]}
    assert owners_changed(
        "UPDATE reservations SET owner_id = :b WHERE id = :id", b=bob.id, **r
    ) == [
        alice.id,
        bob.id,
    ]
    assert owners_changed("UPDATE reservations SET owner_id = :a WHERE id = :id", a=alice.id, **r)
    session = (
        "INSERT INTO sessions (reservation_id, namespace, phase, started_at, updated_at) "
        "VALUES (:id, 'ns-1', 'provisioning', now(), now())"
    )
    assert owners_changed(session, **r) == [alice.id]
    assert owners_changed("UPDATE sessions SET phase = 'ready' WHERE reservation_id = :id", **r)
    assert owners_changed("UPDATE sessions SET url = 'https://w' WHERE reservation_id = :id", **r)
    for unseen in [
        "UPDATE sessions SET step = 'quota', attempts = 3, last_error = 'x' WHERE reservation_id = :id",
        "UPDATE sessions SET phase = 'ready' WHERE reservation_id = :id",  # the same phase
        "INSERT INTO session_idle (reservation_id, updated_at) VALUES (:id, now())",
        "UPDATE session_idle SET opened_at = now() WHERE reservation_id = :id",
        "UPDATE users SET username = username",
        "SELECT * FROM reservations",
    ]:
        expected = [alice.id] if unseen.startswith("INSERT") else []
        assert owners_changed(unseen, **r) == expected, unseen
    assert owners_changed(
        "UPDATE session_idle SET keep_until = now() WHERE reservation_id = :id", **r
    )
    assert owners_changed("DELETE FROM session_idle WHERE reservation_id = :id", **r)
    assert owners_changed("UPDATE users SET username = 'alice2' WHERE id = :a", a=alice.id) == [
        alice.id
    ]
    # a reservation going takes its session along: logged once, by the reservation's trigger
    assert owners_changed("DELETE FROM reservations WHERE id = :id", **r) == [alice.id]


def test_a_write_in_flight_while_the_cache_checks_is_seen_once_committed(
    db: Database, readers: list[Principal]
) -> None:
    """A check that finds a chunk fresh renews its snapshot to the check's own; a write in
    flight during that check is invisible to the new snapshot too, so it is news later."""
    rng = random.Random(4)
    alice = readers[0]
    since, until = BASE, BASE + timedelta(days=21)
    for round_ in range(20):
        cache = read_cache.ReadCache(64 * 2**20)
        _seed(db, rng, readers, 20)
        with db.transaction() as tx:
            _read(cache, tx, alice, since, until, round_)  # filled
        with db.engine.connect() as writer:
            writer.begin()
            writer.execute(_INSERT, {**_random_row(rng, readers), "status": "ACTIVE"})
            if round_ % 2:
                _take_an_id(db)  # a later id ends first
            refills = cache.stats.refills
            with db.transaction() as tx:
                _read(cache, tx, alice, since, until, round_)  # fresh: renewed
            assert cache.stats.refills == refills
            writer.commit()
        _assert_fresh(db, cache, alice, since, until, None)


def test_with_the_cache_off_every_read_is_made_afresh(
    db: Database, readers: list[Principal]
) -> None:
    rng = random.Random(6)
    _seed(db, rng, readers, 100)
    cache = read_cache.ReadCache(0)
    since, until = BASE, BASE + timedelta(days=7)
    builds: list[int] = []
    for _ in range(3):
        _assert_fresh(db, cache, readers[1], since, until)
        with db.transaction() as tx:
            cache.availability(tx, "c845a", since, until, lambda p, s: bytes(builds.append(1) or 0))
    assert len(builds) == 3
    assert cache.footprint() == {
        "calendar_chunks": 0,
        "calendar_bytes": 0,
        "usage_days": 0,
        "usage_bytes": 0,
        "answers": 0,
        "answer_bytes": 0,
        "lists": 0,
        "list_bytes": 0,
    }
