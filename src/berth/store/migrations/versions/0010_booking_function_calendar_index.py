"""A function that takes a booking's advisory locks and reads what its checks need, in one
call; and an index for the calendar.

`berth_booking_view` takes the owner's lock, then the pool's (the order `book` and `extend`
always use), and then reads the pool's `updated_at`, the owner's live reservations overlapping
the window (when the per-user limit applies) and the pool's live reservations overlapping it,
as arrays in one row. It must be a VOLATILE PL/pgSQL function, not one statement: in READ
COMMITTED a statement reads from a snapshot taken when it starts, so a single SELECT that waits
for a lock would not see the booking its lock holder committed meanwhile; each query of a
VOLATILE function takes a fresh snapshot, so the reads run after the locks are held.

The lock keys are arguments, so `berth.store.locks` stays the one list of them.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION berth_booking_view(
    user_key integer, booker bigint, count_owner boolean,
    pool_key integer, pool_name text, win_start timestamptz, win_end timestamptz)
RETURNS TABLE (
    pool_updated timestamptz, owner_live bigint,
    starts timestamptz[], ends timestamptz[], kinds text[], counts integer[],
    cpus bigint[], mems bigint[])
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock(user_key, booker::integer);
    PERFORM pg_advisory_xact_lock(pool_key, hashtext(pool_name));
    RETURN QUERY
    SELECT
        (SELECT p.updated_at FROM pools p WHERE p.name = pool_name),
        CASE WHEN count_owner THEN (
            SELECT count(*) FROM reservations o
            WHERE o.owner_id = booker AND o.status IN ('APPROVED', 'ACTIVE')
              AND tstzrange(o.start_at, o.end_at, '[)') && tstzrange(win_start, win_end, '[)')
        ) END,
        coalesce(array_agg(r.start_at), '{}'),
        coalesce(array_agg(r.end_at), '{}'),
        coalesce(array_agg(r.gpu_kind::text), '{}'),
        coalesce(array_agg(r.gpu_count), '{}'),
        coalesce(array_agg(r.cpu_millicores), '{}'),
        coalesce(array_agg(r.memory_bytes), '{}')
    FROM reservations r
    WHERE r.pool = pool_name AND r.status IN ('APPROVED', 'ACTIVE')
      AND tstzrange(r.start_at, r.end_at, '[)') && tstzrange(win_start, win_end, '[)');
END
$fn$
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    # The calendar's question: what is shown (live or completed) overlapping a window, of one
    # pool or of all; before, a scan of the pool's starts up to the window's end.
    op.create_index(
        "reservations_shown_overlap",
        "reservations",
        ["pool", sa.literal_column("tstzrange(start_at, end_at, '[)')")],
        postgresql_using="gist",
        postgresql_where=sa.text("status IN ('APPROVED', 'ACTIVE', 'COMPLETED')"),
    )


def downgrade() -> None:
    op.drop_index("reservations_shown_overlap", table_name="reservations")
    op.execute(
        "DROP FUNCTION IF EXISTS berth_booking_view(integer, bigint, boolean, integer, text, "
        "timestamptz, timestamptz)"
    )
