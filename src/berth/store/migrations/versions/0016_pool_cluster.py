"""Each pool names the Kubernetes cluster it lives on (docs/scale.md); `default` until a pool
file says otherwise. The reconciler of a cluster reads only its pools' reservations.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "pools",
        sa.Column("cluster", sa.String(64), nullable=False, server_default="default"),
    )


def downgrade() -> None:
    op.drop_column("pools", "cluster")
