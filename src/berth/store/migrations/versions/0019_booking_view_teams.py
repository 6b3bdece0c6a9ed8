"""The booking function also reads the booker's teams: one round trip fewer per booking.

`berth_booking_view` (0010, rebuilt in 0017) takes the booking's locks and reads what its
checks need. It now also returns the teams the booker is in (`team_people`, by name, and
whether they lead each) and the id of the team the booking names, if any, so `teams.choose`
picks the booking's team from what this one call read instead of a query of its own before
the locks. A function's result type cannot be changed in place, so it is dropped and made
again (in one transaction with the rest of the migration: no booking sees it missing).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

HOLDING = "status IN ('PENDING', 'APPROVED', 'ACTIVE')"

OLD_SIGNATURE = "integer, bigint, boolean, integer, text, timestamptz, timestamptz"
NEW_SIGNATURE = OLD_SIGNATURE + ", text"

# What both versions read under the locks: the pool's sync stamp, the booker's holding
# reservations overlapping the window (counted only when the per-user limit applies), and
# the pool's holding reservations overlapping it, column by column.
_LOCKS_AND_READS = """
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
        coalesce(array_agg(r.start_at), '{}'),
        coalesce(array_agg(r.end_at), '{}'),
        coalesce(array_agg(r.gpu_kind::text), '{}'),
        coalesce(array_agg(r.gpu_count), '{}'),
        coalesce(array_agg(r.cpu_millicores), '{}'),
        coalesce(array_agg(r.memory_bytes), '{}')TEAMS
    FROM reservations r
    WHERE r.pool = pool_name AND r.HOLDING
      AND tstzrange(r.start_at, r.end_at, '[)') && tstzrange(win_start, win_end, '[)');
"""

# The booker's teams are read once, into variables, before the query that returns them.
_READ_TEAMS = """
    SELECT coalesce(array_agg(t.id::bigint ORDER BY t.name), '{}'),
           coalesce(array_agg(t.name::text ORDER BY t.name), '{}'),
           coalesce(array_agg(tp.lead ORDER BY t.name), '{}')
    INTO my_team_ids, my_team_names, my_team_leads
    FROM team_people tp JOIN teams t ON t.id = tp.team_id WHERE tp.user_id = booker;
"""

_TEAMS = """,
        my_team_ids, my_team_names, my_team_leads,
        (SELECT t.id::bigint FROM teams t WHERE t.name = team_name)"""

NEW = f"""
CREATE FUNCTION berth_booking_view(
    user_key integer, booker bigint, count_owner boolean,
    pool_key integer, pool_name text, win_start timestamptz, win_end timestamptz,
    team_name text)
RETURNS TABLE (
    pool_updated timestamptz, owner_live bigint,
    starts timestamptz[], ends timestamptz[], kinds text[], counts integer[],
    cpus bigint[], mems bigint[],
    team_ids bigint[], team_names text[], team_leads boolean[], named_team bigint)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    my_team_ids bigint[];
    my_team_names text[];
    my_team_leads boolean[];
BEGIN
{_READ_TEAMS}
{_LOCKS_AND_READS.replace("TEAMS", _TEAMS).replace("HOLDING", HOLDING)}
END
$fn$
"""

OLD = f"""
CREATE FUNCTION berth_booking_view(
    user_key integer, booker bigint, count_owner boolean,
    pool_key integer, pool_name text, win_start timestamptz, win_end timestamptz)
RETURNS TABLE (
    pool_updated timestamptz, owner_live bigint,
    starts timestamptz[], ends timestamptz[], kinds text[], counts integer[],
    cpus bigint[], mems bigint[])
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
{_LOCKS_AND_READS.replace("TEAMS", "").replace("HOLDING", HOLDING)}
END
$fn$
"""


def upgrade() -> None:
    op.execute(f"DROP FUNCTION berth_booking_view({OLD_SIGNATURE})")
    op.execute(NEW)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION berth_booking_view({NEW_SIGNATURE})")
    op.execute(OLD)
