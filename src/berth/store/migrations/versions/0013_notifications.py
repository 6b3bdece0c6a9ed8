"""Notifications: messages to users (the bell), their deliveries by e-mail and webhook, and
each user's preferences. See docs/notifications.md.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _now() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("reservation_id", UUID(as_uuid=True)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("actions", JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("dedupe", sa.String(32)),
        _now(),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reservation_id"], ["reservations.id"], ondelete="CASCADE"),
        sa.CheckConstraint(
            "kind IN ('ready', 'failed', 'ending', 'idle', 'released')", name="notifications_kind"
        ),
    )
    op.create_index("notifications_user_id", "notifications", ["user_id", "id"])
    op.create_index(
        "notifications_once",
        "notifications",
        ["reservation_id", "dedupe"],
        unique=True,
        postgresql_where=sa.text("dedupe IS NOT NULL"),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("notification_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("errors", JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"], ondelete="CASCADE"),
        sa.CheckConstraint(
            "channel IN ('email', 'webhook')", name="notification_deliveries_channel"
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'failed')", name="notification_deliveries_state"
        ),
    )
    op.create_index(
        "notification_deliveries_one",
        "notification_deliveries",
        ["notification_id", "channel"],
        unique=True,
    )
    op.create_index(
        "notification_deliveries_due",
        "notification_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.Text()),
        sa.Column("webhook_url", sa.Text()),
        sa.Column("channels", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column(
            "lead_minutes", JSONB(), server_default=sa.text("'[30, 5]'::jsonb"), nullable=False
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("notification_preferences")
    op.drop_table("notification_deliveries")
    op.drop_table("notifications")
