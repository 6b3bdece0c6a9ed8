"""Sessions remember when the cluster started failing their requests (a time budget for 5xx).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("failing_since", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("sessions", "failing_since")
