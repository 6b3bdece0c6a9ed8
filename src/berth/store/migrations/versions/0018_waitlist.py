"""The fair waitlist (docs/teams.md, "Fair waitlist").

`waitlist_entries`: a request that did not fit, waiting for capacity. It keeps the request
as validated (pool, window, GPU kind and count, mode, CPU, memory, what to stage) and the team
it is for (NULL: none); `state` is WAITING, OFFERED, ACCEPTED, DECLINED, LAPSED, WITHDRAWN or
GONE (domain/waitlist.py). An offer is a PENDING reservation with hold_kind `offer`;
`reservation_id` names the entry's offer (one entry per offer). The database holds the rules
it can: one open (WAITING or OFFERED) entry per user per identical request, a WAITING entry
has no offer and an offered-or-later one has one.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

STATES = "('WAITING', 'OFFERED', 'ACCEPTED', 'DECLINED', 'LAPSED', 'WITHDRAWN', 'GONE')"


def upgrade() -> None:
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "user_id",
            sa.BigInteger(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("team_id", sa.BigInteger(), sa.ForeignKey("teams.id", ondelete="SET NULL")),
        sa.Column(
            "pool",
            sa.String(64),
            sa.ForeignKey("pools.name", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gpu_kind", sa.String(64), nullable=False),
        sa.Column("gpu_count", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("cpu_millicores", sa.BigInteger(), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("stage", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("state", sa.String(16), server_default="WAITING", nullable=False),
        sa.Column(
            "reservation_id",
            UUID(as_uuid=True),
            sa.ForeignKey("reservations.id", ondelete="SET NULL"),
            unique=True,
        ),
        sa.Column("reason", sa.Text()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(f"state IN {STATES}", name="waitlist_entries_state"),
        sa.CheckConstraint("end_at > start_at", name="waitlist_entries_window"),
        sa.CheckConstraint("gpu_count > 0", name="waitlist_entries_gpu_count"),
        sa.CheckConstraint("mode IN ('interactive', 'inference')", name="waitlist_entries_mode"),
        sa.CheckConstraint(
            "state <> 'WAITING' OR reservation_id IS NULL", name="waitlist_entries_waiting"
        ),
        sa.CheckConstraint(
            "state <> 'OFFERED' OR reservation_id IS NOT NULL", name="waitlist_entries_offered"
        ),
    )
    op.execute(
        """
        CREATE UNIQUE INDEX waitlist_entries_one_open ON waitlist_entries (
            user_id, coalesce(team_id, 0), pool, start_at, end_at, gpu_kind, gpu_count, mode,
            cpu_millicores, memory_bytes
        ) WHERE state IN ('WAITING', 'OFFERED')
        """
    )
    op.create_index(
        "waitlist_entries_waiting",
        "waitlist_entries",
        ["pool", "created_at", "id"],
        postgresql_where=sa.text("state = 'WAITING'"),
    )
    op.create_index("waitlist_entries_user", "waitlist_entries", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_table("waitlist_entries")
