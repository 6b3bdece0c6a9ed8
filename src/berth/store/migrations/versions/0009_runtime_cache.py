"""The runtime cache: what a reservation stages, the cache agents' per-node credentials, and
each node's reported cache (a summary row and one row per model).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "reservations",
        sa.Column("stage", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
    )
    op.create_table(
        "cache_credentials",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("node", sa.String(253), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False, unique=True),
        sa.Column("prefix", sa.String(24), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "cache_credentials_live_node",
        "cache_credentials",
        ["node"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "cache_nodes",
        sa.Column("node", sa.String(253), primary_key=True),
        sa.Column("capacity_bytes", sa.BigInteger(), nullable=False),
        sa.Column("used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("reserved_bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "high_watermark_bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "low_watermark_bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("bandwidth_bps", sa.BigInteger()),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "cache_artifacts",
        sa.Column(
            "node",
            sa.String(253),
            sa.ForeignKey("cache_nodes.node", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("model", sa.String(63), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("downloaded", sa.BigInteger(), nullable=False),
        sa.Column("last_used", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.String(32)),
        sa.Column("detail", sa.Text()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('absent', 'queued', 'downloading', 'ready', 'failed', 'evicted')",
            name="cache_artifacts_state",
        ),
        sa.CheckConstraint(
            "reason IS NULL OR reason IN "
            "('integrity-mismatch', 'source-unavailable', 'insufficient-capacity')",
            name="cache_artifacts_reason",
        ),
        sa.CheckConstraint("size >= 0 AND downloaded >= 0", name="cache_artifacts_bytes"),
    )


def downgrade() -> None:
    op.drop_table("cache_artifacts")
    op.drop_table("cache_nodes")
    op.drop_index("cache_credentials_live_node", table_name="cache_credentials")
    op.drop_table("cache_credentials")
    op.drop_column("reservations", "stage")
