"""A log of which transactions changed which owner's reservation list.

The API's read cache (store/read_cache.py, docs/booking.md "The read cache") also keeps each
owner's reservation list (`GET /reservations?mine=true`, what the portal asks every few
seconds), and must know before it answers from memory whether anything that list shows has
changed since it read it. The list shows the owner's reservations (every column), their
username, their sessions' phase and workspace URL, and the idle state of those sessions: a
write to any of them records the owner and its transaction's id here, one row per
transaction and owner. Checked as `reservation_changes` is (0020): a change is news to a
reader when its transaction is not visible in the reader's snapshot. The same upkeep prunes
both logs below the same horizon.

Writes that change nothing the list shows leave no row: a session's step, attempts or error,
an idle row's `opened_at`. The reservations' statement trigger of 0020 records both logs, so
a booking fires one trigger, as before.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_TX = "pg_current_xact_id()::text::bigint"
_MERGE = "ON CONFLICT (xid, pool) DO UPDATE SET span = range_merge(c.span, excluded.span)"


def _reservations_function(owners: bool) -> str:
    """0020's function; with `owners`, it also records the owners of the same rows."""

    def log(rows: str) -> str:
        if not owners:
            return ""
        return (
            "INSERT INTO list_changes (owner_id, xid) SELECT DISTINCT o.owner_id, TX "  # noqa: S608
            f"FROM ({rows}) AS o (owner_id) ON CONFLICT DO NOTHING;"
        )

    return f"""
CREATE OR REPLACE FUNCTION berth_note_reservation_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO reservation_changes AS c (xid, pool, span)
        SELECT TX, pool, tstzrange(min(start_at), max(end_at), '[)')
        FROM new_rows GROUP BY pool
        MERGE;
        {log("SELECT owner_id FROM new_rows")}
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO reservation_changes AS c (xid, pool, span)
        SELECT TX, pool, tstzrange(min(start_at), max(end_at), '[)')
        FROM old_rows GROUP BY pool
        MERGE;
        {log("SELECT owner_id FROM old_rows")}
    ELSE
        INSERT INTO reservation_changes AS c (xid, pool, span)
        SELECT TX, pool, tstzrange(min(start_at), max(end_at), '[)')
        FROM (SELECT pool, start_at, end_at FROM new_rows
              UNION ALL SELECT pool, start_at, end_at FROM old_rows) AS changed
        GROUP BY pool
        MERGE;
        {log("SELECT owner_id FROM new_rows UNION SELECT owner_id FROM old_rows")}
    END IF;
    RETURN NULL;
END $$;
"""  # noqa: S608 (constants, no input)


_TABLE = """
CREATE TABLE list_changes (
    owner_id bigint NOT NULL,
    xid bigint NOT NULL,
    PRIMARY KEY (owner_id, xid)
);
"""
_LIST_TRIGGERS = """
CREATE FUNCTION berth_note_list_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    which uuid;
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        INSERT INTO list_changes (owner_id, xid) VALUES (NEW.id, TX) ON CONFLICT DO NOTHING;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN which := OLD.reservation_id; ELSE which := NEW.reservation_id; END IF;
    -- nothing when the reservation itself is going (a cascade): its own trigger logs it
    INSERT INTO list_changes (owner_id, xid)
    SELECT owner_id, TX FROM reservations WHERE id = which
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_listed_insert_delete AFTER INSERT OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION berth_note_list_change();
CREATE TRIGGER sessions_listed_update AFTER UPDATE ON sessions
    FOR EACH ROW WHEN (OLD.phase IS DISTINCT FROM NEW.phase OR OLD.url IS DISTINCT FROM NEW.url)
    EXECUTE FUNCTION berth_note_list_change();
CREATE TRIGGER session_idle_listed_insert_delete AFTER INSERT OR DELETE ON session_idle
    FOR EACH ROW EXECUTE FUNCTION berth_note_list_change();
CREATE TRIGGER session_idle_listed_update AFTER UPDATE ON session_idle
    FOR EACH ROW WHEN (OLD.reason IS DISTINCT FROM NEW.reason
                       OR OLD.warned_at IS DISTINCT FROM NEW.warned_at
                       OR OLD.release_at IS DISTINCT FROM NEW.release_at
                       OR OLD.keep_until IS DISTINCT FROM NEW.keep_until)
    EXECUTE FUNCTION berth_note_list_change();
CREATE TRIGGER users_listed_rename AFTER UPDATE OF username ON users
    FOR EACH ROW WHEN (OLD.username IS DISTINCT FROM NEW.username)
    EXECUTE FUNCTION berth_note_list_change();
"""
UP = _TABLE + _reservations_function(owners=True) + _LIST_TRIGGERS


DOWN = (
    """
DROP TRIGGER users_listed_rename ON users;
DROP TRIGGER session_idle_listed_update ON session_idle;
DROP TRIGGER session_idle_listed_insert_delete ON session_idle;
DROP TRIGGER sessions_listed_update ON sessions;
DROP TRIGGER sessions_listed_insert_delete ON sessions;
DROP FUNCTION berth_note_list_change();
"""
    + _reservations_function(owners=False)
    + """
DROP TABLE list_changes;
"""
)


def _sql(template: str) -> str:
    return template.replace("TX", _TX).replace("MERGE", _MERGE)


def upgrade() -> None:
    op.execute(_sql(UP))


def downgrade() -> None:
    op.execute(_sql(DOWN))
