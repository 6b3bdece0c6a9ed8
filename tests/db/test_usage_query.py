"""The ledger's SQL (store.usage) against its Python reference (domain.usage.measure) on random
reservations and activity series, in UTC and across a summer-time change in Berlin."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from berth.domain import usage
from berth.store import usage as store_usage
from berth.store import users
from berth.store.db import Database
from berth.store.errors import Invalid
from tests.usage_rows import add_reservation, add_samples

T0 = datetime(2030, 3, 29, 20, tzinfo=UTC)  # Berlin: summer time from 31 March 01:00 UTC
STATUSES = ["APPROVED", "ACTIVE", "COMPLETED", "COMPLETED", "CANCELED", "FAILED"]


def _fill(db: Database, rng: random.Random) -> list[usage.Sample]:
    samples = []
    for _ in range(12):
        start = T0 + timedelta(minutes=rng.randrange(0, 4 * 24 * 60, 5))
        end = start + timedelta(minutes=rng.randrange(5, 2 * 24 * 60, 5))
        rid = add_reservation(
            db,
            rng.choice(["ann", "bob"]),
            start,
            end,
            kind=rng.choice(["gpu", "mig-1g.24gb"]),
            count=1,
            status=rng.choice(STATUSES),
        )
        at = start - timedelta(minutes=rng.randrange(0, 120))
        for _ in range(rng.randrange(0, 30)):
            seconds = rng.choice([60, 300, 3600, 5400])
            at += timedelta(seconds=seconds + rng.randrange(0, 1800))
            active = None if rng.random() < 0.2 else rng.random()
            prompt, generated = rng.randrange(0, 10**6), rng.randrange(0, 10**5)
            add_samples(db, rid, [at], seconds, active, prompt, generated)
            samples.append(usage.Sample(str(rid), at, seconds, active, prompt, generated))
    return samples


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_sql_sums_equal_the_python_reference(db: Database, seed: int, zone: str) -> None:
    rng = random.Random(seed)
    with db.transaction() as tx:
        for name in ("ann", "bob"):
            users.create(tx, name, f"pw-{name}-long-enough", "user", actor="test")
    samples = _fill(db, rng)
    start = T0 + timedelta(minutes=rng.randrange(0, 24 * 60))
    period = usage.Period(
        start, start + timedelta(hours=rng.randrange(1, 96)), usage.zone_named(zone)
    )
    with db.transaction() as tx:
        held = store_usage.held(tx, period)
        got = store_usage.measured(tx, period, zone)
    assert all(h.status in {"APPROVED", "ACTIVE", "COMPLETED"} for h in held)
    assert got, "every seed puts samples in the period"
    want = usage.measure(samples, held, period)
    key = {(m.reservation_id, m.day): m for m in want}
    assert {(m.reservation_id, m.day) for m in got} == set(key)
    for m in got:
        w = key[(m.reservation_id, m.day)]
        assert m.measured_seconds == pytest.approx(w.measured_seconds, abs=1e-6)
        assert m.active_seconds == pytest.approx(w.active_seconds, abs=1e-6)
        assert m.tokens_prompt == pytest.approx(w.tokens_prompt, abs=1e-6)
        assert m.tokens_generated == pytest.approx(w.tokens_generated, abs=1e-6)


def test_one_owner_only(db: Database) -> None:
    with db.transaction() as tx:
        ann = users.create(tx, "ann", "pw-ann-long-enough", "user", actor="test")
        users.create(tx, "bob", "pw-bob-long-enough", "user", actor="test")
    add_reservation(db, "ann", T0, T0 + timedelta(hours=1))
    add_reservation(db, "bob", T0, T0 + timedelta(hours=1))
    period = usage.Period(T0, T0 + timedelta(hours=2), UTC)
    with db.transaction() as tx:
        assert [h.user for h in store_usage.held(tx, period, owner_id=ann.id)] == ["ann"]
        assert len(store_usage.held(tx, period)) == 2


def test_a_zone_the_database_does_not_know_is_invalid_input(db: Database) -> None:
    with db.transaction() as tx:
        users.create(tx, "ann", "pw-ann-long-enough", "user", actor="test")
    rid = add_reservation(db, "ann", T0, T0 + timedelta(hours=1))
    add_samples(db, rid, [T0 + timedelta(hours=1)], 3600, 0.5)
    period = usage.Period(T0, T0 + timedelta(hours=2), UTC)
    with (
        pytest.raises(Invalid, match="does not know the time zone 'Mars/Base'"),
        db.transaction() as tx,
    ):
        store_usage.measured(tx, period, "Mars/Base")
