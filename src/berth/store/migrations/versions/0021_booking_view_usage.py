"""The booking function returns the pool's usage summed per instant, not every reservation.

`berth_booking_view` (0010, 0017, 0019) took the booking's locks and returned the pool's
holding reservations overlapping the window, each one's start, end, kind, units, cpu and
memory, for the sweep in Python. With 100k reservations a window of a few hours overlaps
~300 of them, and reading those arrays into objects and sweeping them was a quarter of a
booking's CPU in the API. Now the function returns how usage changes in the window: per
instant and GPU kind, the units, millicores and bytes that start (+) or end (-) there, each
reservation clipped to the window (one that began before counts from the window's start).
A window of a few hours has a few dozen such instants. `domain.capacity.usage_steps_of_changes`
makes the same steps of them as the sweep of the reservations (a property test says so), and
`fits_usage` checks the request against those steps: the same answer and the same shortage.

The result type changes, so the function is dropped and made again, in one transaction with
the rest of the migration (no booking sees it missing).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

HOLDING = "status IN ('PENDING', 'APPROVED', 'ACTIVE')"
SIGNATURE = "integer, bigint, boolean, integer, text, timestamptz, timestamptz, text"

# The parts both versions share: the arguments, the teams read before the locks, the locks.
_HEAD = """
CREATE FUNCTION berth_booking_view(
    user_key integer, booker bigint, count_owner boolean,
    pool_key integer, pool_name text, win_start timestamptz, win_end timestamptz,
    team_name text)
RETURNS TABLE (
    pool_updated timestamptz, owner_live bigint,
    RESULT
    team_ids bigint[], team_names text[], team_leads boolean[], named_team bigint)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    my_team_ids bigint[];
    my_team_names text[];
    my_team_leads boolean[];
BEGIN
    SELECT coalesce(array_agg(t.id::bigint ORDER BY t.name), '{}'),
           coalesce(array_agg(t.name::text ORDER BY t.name), '{}'),
           coalesce(array_agg(tp.lead ORDER BY t.name), '{}')
    INTO my_team_ids, my_team_names, my_team_leads
    FROM team_people tp JOIN teams t ON t.id = tp.team_id WHERE tp.user_id = booker;
    PERFORM pg_advisory_xact_lock(user_key, booker::integer);
    PERFORM pg_advisory_xact_lock(pool_key, hashtext(pool_name));
    RETURN QUERY
    SELECT
        (SELECT p.updated_at FROM pools p WHERE p.name = pool_name),
        CASE WHEN count_owner THEN (
            SELECT count(*) FROM reservations o
            WHERE o.owner_id = booker AND o.HOLDING
              AND tstzrange(o.start_at, o.end_at, '[)') && tstzrange(win_start, win_end, '[)')
        ) END,
"""
_TAIL = """
        my_team_ids, my_team_names, my_team_leads,
        (SELECT t.id::bigint FROM teams t WHERE t.name = team_name)
    FROM READ;
END
$fn$
"""
_OVERLAPPING = """reservations r
    WHERE r.pool = pool_name AND r.HOLDING
      AND tstzrange(r.start_at, r.end_at, '[)') && tstzrange(win_start, win_end, '[)')"""

# each overlapping reservation's +demand at its start and -demand at its end, clipped to the
# window, summed per instant and kind
_CHANGES = _OVERLAPPING.replace(
    "\n    WHERE",
    " CROSS JOIN LATERAL (VALUES (greatest(r.start_at, win_start), 1),"
    " (least(r.end_at, win_end), -1)) AS ch (at, sign)\n    WHERE",
)
_GROUPED = """(
        SELECT ch.at, r.gpu_kind::text AS kind, sum(ch.sign * r.gpu_count)::bigint AS units,
               sum(ch.sign * r.cpu_millicores)::bigint AS cpu,
               sum(ch.sign * r.memory_bytes)::bigint AS memory
        FROM CHANGES
        GROUP BY ch.at, r.gpu_kind
    ) c""".replace("CHANGES", _CHANGES)
NEW = (
    _HEAD.replace(
        "RESULT",
        "change_at timestamptz[], change_kind text[], change_units bigint[], "
        "change_cpu bigint[], change_memory bigint[],",
    )
    + """
        coalesce(array_agg(c.at), '{}'),
        coalesce(array_agg(c.kind), '{}'),
        coalesce(array_agg(c.units), '{}'),
        coalesce(array_agg(c.cpu), '{}'),
        coalesce(array_agg(c.memory), '{}'),"""
    + _TAIL.replace("READ", _GROUPED)
).replace("HOLDING", HOLDING)

OLD = (
    _HEAD.replace(
        "RESULT",
        "starts timestamptz[], ends timestamptz[], kinds text[], counts integer[], "
        "cpus bigint[], mems bigint[],",
    )
    + """
        coalesce(array_agg(r.start_at), '{}'),
        coalesce(array_agg(r.end_at), '{}'),
        coalesce(array_agg(r.gpu_kind::text), '{}'),
        coalesce(array_agg(r.gpu_count), '{}'),
        coalesce(array_agg(r.cpu_millicores), '{}'),
        coalesce(array_agg(r.memory_bytes), '{}'),"""
    + _TAIL.replace("READ", _OVERLAPPING)
).replace("HOLDING", HOLDING)


def upgrade() -> None:
    op.execute(f"DROP FUNCTION berth_booking_view({SIGNATURE})")
    op.execute(NEW)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION berth_booking_view({SIGNATURE})")
    op.execute(OLD)
