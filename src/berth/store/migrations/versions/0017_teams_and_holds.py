"""Teams, their budgets, and reservations that hold capacity before they are approved.

Teams (docs/teams.md): a team is made by an admin, optionally from an identity provider's
group. Its people are the group's members (as of their last sign-in) and the `team_members`
rows an admin adds; a `team_members` row with `lead` makes a team lead. The view
`team_people` is that union, one row per (team, user), `lead` true when any row says so.
`team_budgets` caps, per team, pool and GPU kind, the concurrent units and the GPU-hours per
calendar week and month (UTC). A reservation names the team it was booked for (NULL: none).

Holds: a reservation may be `PENDING` — it holds its capacity (the booking path counts it like
an approved one) until `hold_until`, for a reason in `hold_kind`: `approval` (waiting for a
team lead or an admin) or `offer` (a waitlist offer waiting for its user). A hold nobody
answers becomes `EXPIRED`; a refused request `REJECTED`. The statuses that hold capacity are
PENDING, APPROVED and ACTIVE; the partial indexes of the booking path and the booking
function are rebuilt on them, and the calendar shows PENDING blocks too. Notifications gain
the kinds `request` (approvals) and `offer` (waitlist).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

HOLDING = "status IN ('PENDING', 'APPROVED', 'ACTIVE')"
SHOWN = "status IN ('PENDING', 'APPROVED', 'ACTIVE', 'COMPLETED')"
OLD_LIVE = "status IN ('APPROVED', 'ACTIVE')"
OLD_SHOWN = "status IN ('APPROVED', 'ACTIVE', 'COMPLETED')"
STATUSES = (
    "('PENDING', 'APPROVED', 'ACTIVE', 'COMPLETED', 'CANCELED', 'FAILED', 'REJECTED', 'EXPIRED')"
)
KINDS = "('ready', 'failed', 'ending', 'idle', 'released', 'request', 'offer')"
OLD_KINDS = "('ready', 'failed', 'ending', 'idle', 'released')"
OLD_STATUSES = "('APPROVED', 'ACTIVE', 'COMPLETED', 'CANCELED', 'FAILED')"

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
            WHERE o.owner_id = booker AND o.STATUS_FILTER
              AND tstzrange(o.start_at, o.end_at, '[)') && tstzrange(win_start, win_end, '[)')
        ) END,
        coalesce(array_agg(r.start_at), '{}'),
        coalesce(array_agg(r.end_at), '{}'),
        coalesce(array_agg(r.gpu_kind::text), '{}'),
        coalesce(array_agg(r.gpu_count), '{}'),
        coalesce(array_agg(r.cpu_millicores), '{}'),
        coalesce(array_agg(r.memory_bytes), '{}')
    FROM reservations r
    WHERE r.pool = pool_name AND r.STATUS_FILTER
      AND tstzrange(r.start_at, r.end_at, '[)') && tstzrange(win_start, win_end, '[)');
END
$fn$
"""

_RANGE: sa.ColumnElement[object] = sa.literal_column("tstzrange(start_at, end_at, '[)')")


def _overlap_indexes(holding: str, shown: str) -> None:
    op.create_index(
        "reservations_live_overlap",
        "reservations",
        ["pool", _RANGE],
        postgresql_using="gist",
        postgresql_where=sa.text(holding),
    )
    op.create_index(
        "reservations_live_owner_overlap",
        "reservations",
        ["owner_id", _RANGE],
        postgresql_using="gist",
        postgresql_where=sa.text(holding),
    )
    op.create_index(
        "reservations_shown_overlap",
        "reservations",
        ["pool", _RANGE],
        postgresql_using="gist",
        postgresql_where=sa.text(shown),
    )


def _drop_overlap_indexes() -> None:
    for name in (
        "reservations_live_overlap",
        "reservations_live_owner_overlap",
        "reservations_shown_overlap",
    ):
        op.drop_index(name, table_name="reservations")


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "group_id",
            sa.BigInteger(),
            sa.ForeignKey("groups.id", ondelete="SET NULL"),
            unique=True,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'", name="teams_name"),
    )
    op.create_table(
        "team_members",
        sa.Column(
            "team_id",
            sa.BigInteger(),
            sa.ForeignKey("teams.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id",
            sa.BigInteger(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("lead", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index("ix_team_members_user_id", "team_members", ["user_id"])
    op.execute(
        """
        CREATE VIEW team_people AS
        SELECT team_id, user_id, bool_or(lead) AS lead FROM (
            SELECT team_id, user_id, lead FROM team_members
            UNION ALL
            SELECT t.id, gm.user_id, false FROM teams t
            JOIN group_members gm ON gm.group_id = t.group_id
        ) p GROUP BY team_id, user_id
        """
    )
    op.create_table(
        "team_budgets",
        sa.Column(
            "team_id",
            sa.BigInteger(),
            sa.ForeignKey("teams.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "pool",
            sa.String(64),
            sa.ForeignKey("pools.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("gpu_kind", sa.String(64), primary_key=True),
        sa.Column("max_units", sa.Integer()),
        sa.Column("gpu_hours_week", sa.Numeric(12, 2)),
        sa.Column("gpu_hours_month", sa.Numeric(12, 2)),
        sa.CheckConstraint("max_units IS NULL OR max_units >= 0", name="team_budgets_units"),
        sa.CheckConstraint(
            "(gpu_hours_week IS NULL OR gpu_hours_week >= 0) AND "
            "(gpu_hours_month IS NULL OR gpu_hours_month >= 0)",
            name="team_budgets_hours",
        ),
    )

    op.add_column(
        "reservations",
        sa.Column("team_id", sa.BigInteger(), sa.ForeignKey("teams.id", ondelete="RESTRICT")),
    )
    op.add_column("reservations", sa.Column("hold_until", sa.DateTime(timezone=True)))
    op.add_column("reservations", sa.Column("hold_kind", sa.String(16)))
    op.create_index("reservations_team_pool_start", "reservations", ["team_id", "pool", "start_at"])
    op.create_index(
        "reservations_pending_hold",
        "reservations",
        ["hold_until"],
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.drop_constraint("reservations_status", "reservations", type_="check")
    op.create_check_constraint("reservations_status", "reservations", f"status IN {STATUSES}")
    op.create_check_constraint(
        "reservations_hold_kind", "reservations", "hold_kind IN ('approval', 'offer')"
    )
    op.create_check_constraint(
        "reservations_pending_held",
        "reservations",
        "status <> 'PENDING' OR (hold_until IS NOT NULL AND hold_kind IS NOT NULL)",
    )
    _drop_overlap_indexes()
    _overlap_indexes(HOLDING, SHOWN)
    op.drop_constraint("notifications_kind", "notifications", type_="check")
    op.create_check_constraint("notifications_kind", "notifications", f"kind IN {KINDS}")
    op.execute(FUNCTION.replace("STATUS_FILTER", HOLDING))


def downgrade() -> None:
    op.execute(FUNCTION.replace("STATUS_FILTER", OLD_LIVE))
    _drop_overlap_indexes()
    _overlap_indexes(OLD_LIVE, OLD_SHOWN)
    op.drop_constraint("notifications_kind", "notifications", type_="check")
    op.create_check_constraint("notifications_kind", "notifications", f"kind IN {OLD_KINDS}")
    op.drop_constraint("reservations_pending_held", "reservations", type_="check")
    op.drop_constraint("reservations_hold_kind", "reservations", type_="check")
    op.drop_constraint("reservations_status", "reservations", type_="check")
    op.create_check_constraint("reservations_status", "reservations", f"status IN {OLD_STATUSES}")
    op.drop_index("reservations_pending_hold", table_name="reservations")
    op.drop_index("reservations_team_pool_start", table_name="reservations")
    for column in ("hold_kind", "hold_until", "team_id"):
        op.drop_column("reservations", column)
    op.drop_table("team_budgets")
    op.execute("DROP VIEW team_people")
    op.drop_index("ix_team_members_user_id", table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
