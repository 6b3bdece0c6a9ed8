"""Measured use of each session: one row per sample interval (GPU activity, tokens).

Written by the reconciler's usage collector from Prometheus (DCGM exporter, engine counters);
read by the idle-reclaim policy and the cost ledger. `gpu_active` is the mean of
DCGM_FI_PROF_GR_ENGINE_ACTIVE over the session's GPUs (whole or MIG) in the interval, 0..1,
NULL when Prometheus had no series for it; token columns are counter increases in the interval.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_activity",
        sa.Column("reservation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("gpu_active", sa.Double()),
        sa.Column("tokens_prompt", sa.BigInteger()),
        sa.Column("tokens_generated", sa.BigInteger()),
        sa.ForeignKeyConstraint(["reservation_id"], ["reservations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("reservation_id", "at"),
        sa.CheckConstraint("seconds > 0", name="session_activity_seconds"),
        sa.CheckConstraint(
            "gpu_active IS NULL OR (gpu_active >= 0 AND gpu_active <= 1)",
            name="session_activity_gpu_active",
        ),
        sa.CheckConstraint(
            "coalesce(tokens_prompt, 0) >= 0 AND coalesce(tokens_generated, 0) >= 0",
            name="session_activity_tokens",
        ),
    )
    op.create_index("session_activity_at", "session_activity", ["at"])


def downgrade() -> None:
    op.drop_table("session_activity")
