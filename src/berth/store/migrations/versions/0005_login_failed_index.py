"""An index for sign-in throttling: failed sign-ins by address and time.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "audit_login_failed_client_at",
        "audit_log",
        ["client", "at"],
        postgresql_where=sa.text("action = 'auth.login_failed'"),
    )


def downgrade() -> None:
    op.drop_index("audit_login_failed_client_at", table_name="audit_log")
