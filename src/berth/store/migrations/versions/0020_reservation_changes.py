"""A log of which transactions changed which pool's reservations, and when in time.

The API's read cache (store/read_cache.py, docs/booking.md "The read cache") keeps the calendar
and availability in memory and must know, before it answers from memory, whether anything it
holds has changed since it read it. Every statement that writes `reservations` records, per
pool it touched, its transaction's id and the span of time the changed rows cover (old rows
and new), one row per transaction and pool (a second statement widens the span). A
reader remembers the snapshot it read under; a change is news to it when its transaction is
not visible in that snapshot (`pg_visible_in_snapshot`), which is exact whatever order
transactions commit in, and takes no lock a writer waits on.

A username's change (the calendar shows owners) and a pool's changed description
(availability shows capacity) are logged too: pool `*` means every pool.

`reservation_change_horizon` says below which transaction ids the log was pruned (the
hourly upkeep); a snapshot older than that is stale by definition.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_TX = "pg_current_xact_id()::text::bigint"
_MERGE = "ON CONFLICT (xid, pool) DO UPDATE SET span = range_merge(c.span, excluded.span)"

UP = """
CREATE TABLE reservation_changes (
    xid bigint NOT NULL,
    pool text NOT NULL,
    span tstzrange NOT NULL,
    PRIMARY KEY (xid, pool)
);

CREATE TABLE reservation_change_horizon (
    id smallint PRIMARY KEY CONSTRAINT reservation_change_horizon_one CHECK (id = 1),
    pruned_below bigint NOT NULL,
    next_cut bigint NOT NULL
);
INSERT INTO reservation_change_horizon VALUES (1, 0, 0);

CREATE FUNCTION berth_note_reservation_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO reservation_changes AS c (xid, pool, span)
        SELECT TX, pool, tstzrange(min(start_at), max(end_at), '[)')
        FROM new_rows GROUP BY pool
        MERGE;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO reservation_changes AS c (xid, pool, span)
        SELECT TX, pool, tstzrange(min(start_at), max(end_at), '[)')
        FROM old_rows GROUP BY pool
        MERGE;
    ELSE
        INSERT INTO reservation_changes AS c (xid, pool, span)
        SELECT TX, pool, tstzrange(min(start_at), max(end_at), '[)')
        FROM (SELECT pool, start_at, end_at FROM new_rows
              UNION ALL SELECT pool, start_at, end_at FROM old_rows) AS changed
        GROUP BY pool
        MERGE;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER reservations_noted_insert AFTER INSERT ON reservations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION berth_note_reservation_changes();
CREATE TRIGGER reservations_noted_update AFTER UPDATE ON reservations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION berth_note_reservation_changes();
CREATE TRIGGER reservations_noted_delete AFTER DELETE ON reservations
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION berth_note_reservation_changes();

CREATE FUNCTION berth_note_wide_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    which text := '*';
BEGIN
    IF TG_TABLE_NAME = 'pools' THEN
        IF TG_OP = 'DELETE' THEN which := OLD.name; ELSE which := NEW.name; END IF;
    END IF;
    INSERT INTO reservation_changes AS c (xid, pool, span)
    VALUES (TX, which, tstzrange(NULL, NULL))
    MERGE;
    RETURN NULL;
END $$;

CREATE TRIGGER users_noted_rename AFTER UPDATE OF username ON users
    FOR EACH ROW WHEN (OLD.username IS DISTINCT FROM NEW.username)
    EXECUTE FUNCTION berth_note_wide_change();
CREATE TRIGGER pools_noted_update AFTER UPDATE ON pools
    FOR EACH ROW WHEN (OLD.spec IS DISTINCT FROM NEW.spec OR OLD.cluster IS DISTINCT FROM NEW.cluster)
    EXECUTE FUNCTION berth_note_wide_change();
CREATE TRIGGER pools_noted_insert_delete AFTER INSERT OR DELETE ON pools
    FOR EACH ROW EXECUTE FUNCTION berth_note_wide_change();
"""

UP = UP.replace("TX", _TX).replace("MERGE", _MERGE)

DOWN = """
DROP TRIGGER pools_noted_insert_delete ON pools;
DROP TRIGGER pools_noted_update ON pools;
DROP TRIGGER users_noted_rename ON users;
DROP FUNCTION berth_note_wide_change();
DROP TRIGGER reservations_noted_delete ON reservations;
DROP TRIGGER reservations_noted_update ON reservations;
DROP TRIGGER reservations_noted_insert ON reservations;
DROP FUNCTION berth_note_reservation_changes();
DROP TABLE reservation_change_horizon;
DROP TABLE reservation_changes;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
