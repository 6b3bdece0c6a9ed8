"""The calendar, availability and owners' lists answered from memory, checked first against
the change logs.

A busy week of the calendar is thousands of entries, and building their JSON was nearly all
of a read's cost, in PostgreSQL. Each API process keeps what it built, and before each answer
asks the database one question: did any transaction its snapshot did not see change a
reservation of these pools in this span of time (migration 0020's `reservation_changes`)?
If so, or if the log was pruned past that snapshot, the stale part is read again. The answer
is the same as reading afresh (tests/db/test_read_cache.py checks it against the uncached
queries through randomized writes, concurrent ones included); what is saved is the work.

- **The calendar** is kept per pool and UTC day: a day's chunk holds every entry overlapping
  it, in order, each with its JSON as its owner (or an admin) sees it and as everyone else
  sees it (busy, no id or owner). A window takes the first day's entries that overlap it and,
  from each later day, those starting on it, so any window is served from the same chunks.
  All pools' calendar merges the pools' entries by start.
- **Availability** is kept per exact window (what the Availability page asks for again and
  again), and under it the pool's usage per UTC day as steps: a window asked for the first
  time (the Book page's fit check asks for the booking's own) is the days' steps cut to it,
  not a fresh read of a fortnight.
- **One owner's reservation list** (what the portal asks every few seconds) is kept per query,
  checked against its own log (migration 0022's `list_changes`: which transactions changed
  what which owner's list shows, its reservations, sessions, idle states or username).
- **Bounded:** everything kept shares one byte budget, the least recently used dropped first
  whatever its kind (`BERTH_READ_CACHE_MB` per process; 0 turns the cache off and every read
  is made afresh).

Snapshots are taken before the read they describe: a change that commits in between shows as
news the next time, so it is read again once; never the other way round.
"""

from __future__ import annotations

import itertools
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import text

from berth.domain.capacity import Step, clip, free_steps
from berth.domain.pool import Pool
from berth.domain.reservation import Status
from berth.store import pools as pool_rows
from berth.store.db import Tx, fetch
from berth.store.listing import Listing, search
from berth.store.reservations import (
    CALENDAR_ENTRY_JSON,
    CALENDAR_STATUSES,
    CUSTOM_PLAN,
    availability,
    calendar_json,
    usage,
)
from berth.store.users import Principal

DAY = timedelta(days=1)
LIMIT = 5000  # entries in one calendar answer, as the uncached query

# (start, id, end, owner id, JSON as its owner sees it, JSON as others see it): tuples order
# by (start, id), as the calendar does, and ids are unique, so no further field is compared
Entry = tuple[datetime, str, datetime, int, str, str]
_START = itemgetter(0)

_SNAPSHOT = text("SELECT pg_current_snapshot()::text")

# Which of the (snapshot, pool, span) checks are stale, the pools there are, and the snapshot
# the check itself ran under, in one trip; on psycopg directly (`db.fetch`): every read runs it.
_CHECK = """
    SELECT ARRAY(SELECT name FROM pools ORDER BY name), pg_current_snapshot()::text,
           ARRAY(
        SELECT k.i FROM unnest(CAST(%(snaps)s AS text[]), CAST(%(pools)s AS text[]),
                               CAST(%(froms)s AS timestamptz[]), CAST(%(tos)s AS timestamptz[]))
                        WITH ORDINALITY AS k (snap, pool, since, until, i)
        WHERE (SELECT coalesce(max(pruned_below), 0) FROM reservation_change_horizon)
              > pg_snapshot_xmin(k.snap::pg_snapshot)::text::bigint
           OR EXISTS (
            SELECT 1 FROM reservation_changes c
            WHERE c.xid >= pg_snapshot_xmin(k.snap::pg_snapshot)::text::bigint
              AND c.pool IN (k.pool, '*')
              AND c.span && tstzrange(k.since, k.until, '[)')
              AND NOT pg_visible_in_snapshot(c.xid::text::xid8, k.snap::pg_snapshot)))
"""

# Whether anything an owner's list shows changed behind a kept snapshot (none kept: NULL, so
# stale), and the snapshot the check ran under, in one trip: the list is read after it.
_LIST_CHECK = """
    SELECT pg_current_snapshot()::text,
           CAST(%(snap)s AS text) IS NULL
           OR (SELECT coalesce(max(pruned_below), 0) FROM reservation_change_horizon)
              > pg_snapshot_xmin(CAST(%(snap)s AS pg_snapshot))::text::bigint
           OR EXISTS (
            SELECT 1 FROM list_changes c
            WHERE c.owner_id = %(owner)s
              AND c.xid >= pg_snapshot_xmin(CAST(%(snap)s AS pg_snapshot))::text::bigint
              AND NOT pg_visible_in_snapshot(c.xid::text::xid8, CAST(%(snap)s AS pg_snapshot)))
"""

_ENTRIES = text(
    f"""
    SELECT x.start_at, x.id::text, x.end_at, x.owner_id,
           {CALENDAR_ENTRY_JSON.format(id="x.id", mine="false", owner="u.username")}::text,
           {CALENDAR_ENTRY_JSON.format(id="NULL", mine="false", owner="NULL")}::text
    FROM reservations x JOIN users u ON u.id = x.owner_id
    WHERE x.pool = :pool AND x.status IN {CALENDAR_STATUSES}
      AND tstzrange(x.start_at, x.end_at, '[)') && tstzrange(:since, :until, '[)')
    ORDER BY x.start_at, x.id
    """  # noqa: S608 (constants, no input)
)
# the kinds of what is kept (each key's first item)
_CHUNK, _USAGE, _ANSWER, _LIST = "calendar", "usage", "answer", "list"

_MINE_NO = '"mine" : false'
_MINE_YES = '"mine" : true'


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def days_of(since: datetime, until: datetime) -> list[date]:
    """The UTC days a window [since, until) touches."""
    first = since.astimezone(UTC).date()
    last = (until.astimezone(UTC) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class _Chunk:
    snap: str
    entries: list[Entry]  # every entry overlapping the day, by (start, id)
    head: int  # the first entry starting on the day
    size: int  # bytes, roughly: what the budget counts


@dataclass(frozen=True)
class _Usage:
    snap: str
    steps: list[Step]  # the pool's usage over the day, covering it exactly
    size: int


@dataclass(frozen=True)
class _Answer:
    snap: str
    body: bytes
    size: int


@dataclass(frozen=True)
class _List:
    snap: str
    listing: Listing
    size: int


class _Lru:
    """Values by key, the least recently used dropped first past a byte budget. A key's first
    item is its kind (calendar chunk, usage day, answer, list): one budget for all, so it
    goes where the readers ask."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.used_by: dict[str, int] = {}
        self.count_by: dict[str, int] = {}
        self._items: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Hashable, ...]) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[Hashable, ...], value: Any) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._count(key, -old.size)
            self._items[key] = value
            self._count(key, value.size)
            while self.used > self.budget and self._items:
                dropped_key, dropped = self._items.popitem(last=False)
                self._count(dropped_key, -dropped.size)

    def _count(self, key: tuple[Hashable, ...], size: int) -> None:
        kind = str(key[0])
        self.used += size
        self.used_by[kind] = self.used_by.get(kind, 0) + size
        self.count_by[kind] = self.count_by.get(kind, 0) + (1 if size > 0 else -1)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Stats:
    hits: int = 0  # chunks or answers served from memory
    refills: int = 0  # read again: missing, stale or dropped


class ReadCache:
    """One process's cache of the calendar and availability (thread-safe: the API's routes
    run in a thread pool)."""

    def __init__(self, budget_bytes: int) -> None:
        self.enabled = budget_bytes > 0
        self._kept = _Lru(budget_bytes)
        self.stats = Stats()
        self._known_pools: list[str] = []

    # --- the calendar ---

    def calendar(
        self,
        tx: Tx,
        who: Principal,
        since: datetime,
        until: datetime,
        pool: str | None = None,
        limit: int = LIMIT,
    ) -> str:
        """What `reservations.calendar_json` answers, from memory where it is still true
        (with the cache off, that query itself)."""
        if not self.enabled:
            return calendar_json(tx, who, since, until, pool, limit)
        days = days_of(since, until)
        wanted = [pool] if pool else None
        held = {
            (p, d): c
            for p in (wanted or self._known_pools)
            for d in days
            if (c := self._kept.get((_CHUNK, p, d))) is not None
        }
        names, stale, now = self._check(tx, _calendar_checks(held))
        self._known_pools = names
        self._renew(_CHUNK, held, stale, now)
        pools = [p for p in (wanted or names) if p in names]
        chosen: list[list[Entry]] = []
        for p in pools:
            kept = [held.get((p, d)) for d in days]
            stale_here = stale.get(p, set())
            missing = [
                d for d, c in zip(days, kept, strict=True) if c is None or c.snap in stale_here
            ]
            fresh = self._fill(tx, p, missing[0], missing[-1]) if missing else {}
            chunks = [fresh.get(d) or c for d, c in zip(days, kept, strict=True)]
            self.stats.hits += len(days) - len(missing)
            chosen.append(_window([c for c in chunks if c is not None], since, until))
        if not chosen:  # no such pool: nothing is booked in it
            return "[]"
        # each list is in order: sorting their concatenation merges runs (C speed, no Python
        # comparison per entry as heapq.merge makes)
        merged = chosen[0] if len(chosen) == 1 else sorted(itertools.chain(*chosen))
        return _shaped(merged[:limit], who)

    def _check(
        self, tx: Tx, checks: Sequence[tuple[str, str, datetime, datetime]]
    ) -> tuple[list[str], dict[str, set[str]], str]:
        """The pools there are, per pool the snapshots something changed behind, and the
        snapshot the check ran under."""
        params = {
            "snaps": [c[0] for c in checks],
            "pools": [c[1] for c in checks],
            "froms": [c[2] for c in checks],
            "tos": [c[3] for c in checks],
        }
        [(names, now, stale_at)] = fetch(tx, _CHECK, params)
        stale: dict[str, set[str]] = {}
        for i in stale_at:
            snap, p, _, _ = checks[i - 1]
            stale.setdefault(p, set()).add(snap)
        return list(names or []), stale, str(now)

    def _renew(
        self, kind: str, held: dict[tuple[str, date], Any], stale: dict[str, set[str]], now: str
    ) -> None:
        """Pieces (calendar chunks, usage days) found fresh are true as of the check's own
        snapshot too: nothing their old snapshot missed changed their span before the check,
        and what commits later is news to both. Keeping the newer one bounds the next check's
        scan of the log to the changes since this one (an old snapshot would make it read
        every change since it was taken)."""
        for key, c in held.items():
            if c.snap != now and c.snap not in stale.get(key[0], ()):
                self._kept.put((kind, *key), replace(c, snap=now))

    def _fill(self, tx: Tx, pool: str, first: date, last: date) -> dict[date, _Chunk]:
        """Read the pool's days first..last again, under one snapshot, and keep them."""
        self.stats.refills += (last - first).days + 1
        snap = str(tx.execute(_SNAPSHOT).scalar_one())
        since, until = _day_start(first), _day_start(last) + DAY
        tx.execute(CUSTOM_PLAN)  # see reservations.calendar_json
        rows = tx.execute(_ENTRIES, {"pool": pool, "since": since, "until": until}).all()
        per_day: dict[date, list[Entry]] = {}
        sizes: dict[date, int] = {}
        for row in rows:
            entry: Entry = tuple(row)
            start, _, end = entry[0], entry[1], entry[2]
            d = max(start, since).astimezone(UTC).date()
            stop = (min(end, until).astimezone(UTC) - timedelta(microseconds=1)).date()
            sizes[d] = sizes.get(d, 0) + len(entry[4]) + len(entry[5]) + 250
            while d <= stop:
                per_day.setdefault(d, []).append(entry)
                d += timedelta(days=1)
        made: dict[date, _Chunk] = {}
        d = first
        while d <= last:
            entries = per_day.get(d, [])
            head = bisect_left(entries, _day_start(d), key=_START)
            made[d] = chunk = _Chunk(snap, entries, head, sizes.get(d, 0) + 8 * len(entries) + 200)
            self._kept.put((_CHUNK, pool, d), chunk)
            d += timedelta(days=1)
        return made

    # --- availability: answers by exact window, and the pool's usage per day under them ---

    def availability(
        self,
        tx: Tx,
        pool: str,
        since: datetime,
        until: datetime,
        write: Callable[[Pool, list[Step]], bytes],
    ) -> bytes:
        """`write(pool, free steps)` of what `reservations.availability` answers, from memory
        where it is still true (with the cache off, of that query itself)."""
        if not self.enabled:
            return write(*availability(tx, pool, since, until))
        key = (_ANSWER, pool, since, until)
        kept: _Answer | None = self._kept.get(key)
        days = days_of(since, until)
        held = {d: c for d in days if (c := self._kept.get((_USAGE, pool, d))) is not None}
        checks = [(c.snap, pool, _day_start(d), _day_start(d) + DAY) for d, c in held.items()]
        if kept is not None:
            checks.append((kept.snap, pool, since, until))
        _, stale, now = self._check(tx, checks)
        stale_here = stale.get(pool, set())
        if kept is not None and kept.snap not in stale_here:
            self.stats.hits += 1
            self._kept.put(key, replace(kept, snap=now))
            return kept.body
        self.stats.refills += 1
        p = pool_rows.get(tx, pool)  # NotFound for no such pool
        self._renew(_USAGE, {(pool, d): c for d, c in held.items()}, stale, now)
        missing = [d for d in days if d not in held or held[d].snap in stale_here]
        fresh = self._fill_usage(tx, pool, missing[0], missing[-1]) if missing else {}
        self.stats.hits += len(days) - len(missing)
        steps: list[Step] = []
        for d in days:
            day = fresh.get(d) or held[d]
            steps += clip(day.steps, max(since, _day_start(d)), min(until, _day_start(d) + DAY))
        # The days' steps meet at midnight unmerged; `free_steps` merges equal neighbours, so
        # the answer is the one a read of the whole window gives. Fresh days are true as of
        # the check's snapshot, days read since as of later ones: `now` is the answer's.
        body = write(p, free_steps(p.capacity(), steps))
        self._kept.put(key, _Answer(now, body, len(body) + 200))
        return body

    def _fill_usage(self, tx: Tx, pool: str, first: date, last: date) -> dict[date, _Usage]:
        """Read the pool's usage over days first..last again, under one snapshot, and keep it
        per day."""
        self.stats.refills += (last - first).days + 1
        snap = str(tx.execute(_SNAPSHOT).scalar_one())
        steps = usage(tx, pool, _day_start(first), _day_start(last) + DAY)
        made: dict[date, _Usage] = {}
        d = first
        while d <= last:
            day = clip(steps, _day_start(d), _day_start(d) + DAY)
            made[d] = kept = _Usage(snap, day, 250 * len(day) + 200)
            self._kept.put((_USAGE, pool, d), kept)
            d += DAY
        return made

    # --- one owner's reservation list ---

    def listing(
        self,
        tx: Tx,
        who: Principal,
        *,
        mine: bool,
        statuses: Sequence[Status] = (),
        pool: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> Listing:
        """What `listing.search` answers, from memory where it is still true. Only a list of
        one owner's reservations is kept (a user's, or an admin's own with `mine`); an
        admin's list of everyone's is read afresh."""
        if not self.enabled or not (mine or not who.is_admin):
            return search(
                tx,
                who,
                mine=mine,
                statuses=statuses,
                pool=pool,
                since=since,
                until=until,
                limit=limit,
            )
        key = (_LIST, who.id, tuple(statuses), pool, since, until, limit)
        kept: _List | None = self._kept.get(key)
        [(now, stale)] = fetch(
            tx, _LIST_CHECK, {"snap": kept.snap if kept else None, "owner": who.id}
        )
        if kept is not None and not stale:
            self.stats.hits += 1
            if kept.snap != now:  # true as of the check's snapshot too (see `_renew`)
                self._kept.put(key, replace(kept, snap=now))
            return kept.listing
        self.stats.refills += 1
        found = search(
            tx,
            who,
            mine=True,
            statuses=statuses,
            pool=pool,
            since=since,
            until=until,
            limit=limit,
        )
        self._kept.put(key, _List(str(now), found, len(found.body) + 300 * len(found.stages) + 200))
        return found

    def footprint(self) -> dict[str, int]:
        kept = self._kept
        return {
            "calendar_chunks": kept.count_by.get(_CHUNK, 0),
            "calendar_bytes": kept.used_by.get(_CHUNK, 0),
            "usage_days": kept.count_by.get(_USAGE, 0),
            "usage_bytes": kept.used_by.get(_USAGE, 0),
            "answers": kept.count_by.get(_ANSWER, 0),
            "answer_bytes": kept.used_by.get(_ANSWER, 0),
            "lists": kept.count_by.get(_LIST, 0),
            "list_bytes": kept.used_by.get(_LIST, 0),
        }


_CUT = text(
    """
    INSERT INTO reservation_change_horizon AS h (id, pruned_below, next_cut)
    VALUES (1, 0, pg_snapshot_xmin(pg_current_snapshot())::text::bigint)
    ON CONFLICT (id) DO UPDATE
    SET pruned_below = h.next_cut, next_cut = excluded.next_cut
    RETURNING pruned_below
    """
)
_PRUNE = text("DELETE FROM reservation_changes WHERE xid < :below")
_PRUNE_LISTS = text("DELETE FROM list_changes WHERE xid < :below")


def prune(tx: Tx) -> int:
    """Drop the change logs (of the pools' reservations and of the owners' lists) below the
    oldest transaction running at the previous pruning (the hourly upkeep's), and say so in
    the horizon: a cache whose snapshot is older is stale from then on (it cannot know what
    the dropped rows said); younger ones are not touched, since every dropped change was
    visible to them. Returns the rows dropped."""
    below = int(tx.execute(_CUT).scalar_one())
    dropped = 0
    for prune_log in (_PRUNE, _PRUNE_LISTS):
        dropped += tx.execute(prune_log, {"below": below}).rowcount  # type: ignore[attr-defined]
    return dropped


def _calendar_checks(
    held: dict[tuple[str, date], _Chunk],
) -> list[tuple[str, str, datetime, datetime]]:
    """One check per pool and snapshot, over the days its chunks cover."""
    spans: dict[tuple[str, str], tuple[date, date]] = {}
    for (p, d), c in held.items():
        lo, hi = spans.get((p, c.snap), (d, d))
        spans[(p, c.snap)] = (min(lo, d), max(hi, d))
    return [
        (snap, p, _day_start(lo), _day_start(hi) + DAY) for (p, snap), (lo, hi) in spans.items()
    ]


def _window(chunks: list[_Chunk], since: datetime, until: datetime) -> list[Entry]:
    """The entries overlapping [since, until), by (start, id), from the window's day chunks."""
    first = chunks[0].entries
    found = [e for e in first[: bisect_left(first, until, key=_START)] if e[2] > since]
    for c in chunks[1:]:
        found += c.entries[c.head : bisect_left(c.entries, until, lo=c.head, key=_START)]
    return found


def _shaped(entries: Iterable[Entry], who: Principal) -> str:
    """The JSON array as `who` sees it: their own entries whole (an admin's: every entry),
    others' as busy."""
    me = who.id
    if who.is_admin:
        parts = [e[4].replace(_MINE_NO, _MINE_YES, 1) if e[3] == me else e[4] for e in entries]
    else:
        parts = [e[4].replace(_MINE_NO, _MINE_YES, 1) if e[3] == me else e[5] for e in entries]
    return "[" + ",".join(parts) + "]"
