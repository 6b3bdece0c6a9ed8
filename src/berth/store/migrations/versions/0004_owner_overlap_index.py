"""A GiST index for the per-user limit: a user's live reservations overlapping a window.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "reservations_live_owner_overlap",
        "reservations",
        ["owner_id", sa.literal_column("tstzrange(start_at, end_at, '[)')")],
        postgresql_using="gist",
        postgresql_where=sa.text("status IN ('APPROVED', 'ACTIVE')"),
    )


def downgrade() -> None:
    op.drop_index("reservations_live_owner_overlap", table_name="reservations")
