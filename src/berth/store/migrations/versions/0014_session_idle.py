"""Idle-reclaim state per reservation: first open, the standing warning, the last keep.

`opened_at` is written by the portal when the owner opens the workspace through it (the
no-show rule); `warned_at`, `reason` (`idle` or `no-show`) and `release_at` by the reconciler
when it warns and clears; `keep_until` by the portal when the owner answers "keep".
A table of its own, not columns of `sessions`: that table is written by the reconciler only.

After 0013 (notifications).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_idle",
        sa.Column("reservation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True)),
        sa.Column("warned_at", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.String(16)),
        sa.Column("release_at", sa.DateTime(timezone=True)),
        sa.Column("keep_until", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["reservation_id"], ["reservations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("reservation_id"),
        sa.CheckConstraint(
            "reason IS NULL OR reason IN ('idle', 'no-show')", name="session_idle_reason"
        ),
        sa.CheckConstraint(
            "(warned_at IS NULL) = (reason IS NULL) AND (warned_at IS NULL) = (release_at IS NULL)",
            name="session_idle_warning",
        ),
    )


def downgrade() -> None:
    op.drop_table("session_idle")
