"""Sessions: the runtime side of a reservation (namespace, provisioning progress, workspace).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("reservation_id", sa.UUID(), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("password", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "phase IN ('provisioning', 'ready', 'tearing_down', 'gone', 'failed')",
            name="sessions_phase",
        ),
        sa.ForeignKeyConstraint(["reservation_id"], ["reservations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("reservation_id"),
        sa.UniqueConstraint("namespace"),
    )
    op.create_index(
        "reservations_approved_start",
        "reservations",
        ["start_at"],
        postgresql_where=sa.text("status = 'APPROVED'"),
    )
    op.create_index(
        "reservations_active_end",
        "reservations",
        ["end_at"],
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.create_index(
        "sessions_open",
        "sessions",
        ["phase"],
        unique=False,
        postgresql_where=sa.text("phase <> 'gone'"),
    )


def downgrade() -> None:
    op.drop_index("reservations_active_end", table_name="reservations")
    op.drop_index("reservations_approved_start", table_name="reservations")
    op.drop_index(
        "sessions_open", table_name="sessions", postgresql_where=sa.text("phase <> 'gone'")
    )
    op.drop_table("sessions")
