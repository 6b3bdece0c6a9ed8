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


def upgrade() -> None:
    op.add_column("sessions", sa.Column("password_sealed", sa.Text(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT reservation_id, password FROM sessions "
            "WHERE phase NOT IN ('tearing_down', 'gone', 'failed')"
        )
    ).all()
    if rows:
        box = _box()
        for rid, password in rows:
            conn.execute(
                sa.text("UPDATE sessions SET password_sealed = :s WHERE reservation_id = :r"),
                {"s": box.seal(password), "r": rid},
            )
    op.drop_column("sessions", "password")


def downgrade() -> None:
    op.add_column("sessions", sa.Column("password", sa.Text(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT reservation_id, password_sealed FROM sessions WHERE password_sealed IS NOT NULL"
        )
    ).all()
    if rows:
        box = _box()
        for rid, sealed in rows:
            conn.execute(
                sa.text("UPDATE sessions SET password = :p WHERE reservation_id = :r"),
                {"p": box.open(sealed), "r": rid},
            )
    op.execute("UPDATE sessions SET password = '' WHERE password IS NULL")
    op.alter_column("sessions", "password", nullable=False)
    op.drop_column("sessions", "password_sealed")
