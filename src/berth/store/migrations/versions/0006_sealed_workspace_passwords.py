"""Workspace passwords sealed at rest: sessions.password (clear) becomes password_sealed.

Open sessions' passwords are sealed with the configured key (`berth migrate`, `berth up` and
`berth serve` hand it over); ended sessions' are dropped, as they are from now on when a
session ends.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from berth.store.crypto import SecretBox

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _box() -> SecretBox:
    box: SecretBox | None = context.config.attributes.get("secret_box")
    if box is None:
        raise RuntimeError(
            "this migration seals or opens workspace passwords and needs the secret key: "
            "run `berth migrate` (with BERTH_SECRET_KEY or BERTH_SECRET_KEY_FILE if you set one)"
        )
    return box


def _rewrite(read: str, column: str, convert: str) -> None:
    """Set `column` of each row `read` finds (reservation_id, value) to the box's
    `convert` ("seal" or "open") of its value."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(read)).all()
    if not rows:
        return
    change = getattr(_box(), convert)
    for rid, value in rows:
        conn.execute(
            sa.text(f"UPDATE sessions SET {column} = :v WHERE reservation_id = :r"),  # noqa: S608
            {"v": change(value), "r": rid},
        )


def upgrade() -> None:
    op.add_column("sessions", sa.Column("password_sealed", sa.Text(), nullable=True))
    _rewrite(
        "SELECT reservation_id, password FROM sessions "
        "WHERE phase NOT IN ('tearing_down', 'gone', 'failed')",
        "password_sealed",
        "seal",
    )
    op.drop_column("sessions", "password")


def downgrade() -> None:
    op.add_column("sessions", sa.Column("password", sa.Text(), nullable=True))
    _rewrite(
        "SELECT reservation_id, password_sealed FROM sessions WHERE password_sealed IS NOT NULL",
        "password",
        "open",
    )
    op.execute("UPDATE sessions SET password = '' WHERE password IS NULL")
    op.alter_column("sessions", "password", nullable=False)
    op.drop_column("sessions", "password_sealed")
