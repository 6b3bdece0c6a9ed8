"""Sign-in through identity providers: where a user comes from, their groups, flows in flight.

`users` gains the provider (local, oidc, openshift), its stable subject and the name the
cluster knows the person by; federated users have no password. `groups` and `group_members`
hold the provider's groups as of each member's last sign-in (teams will be made from them).
`sign_in_attempts` keeps each OAuth flow's nonce and PKCE verifier on the server.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("users", "password_hash", existing_type=sa.Text(), nullable=True)
    op.add_column(
        "users", sa.Column("provider", sa.String(16), server_default="local", nullable=False)
    )
    op.add_column("users", sa.Column("subject", sa.String(255)))
    op.add_column("users", sa.Column("cluster_name", sa.String(255)))
    op.add_column("users", sa.Column("signed_in_at", sa.DateTime(timezone=True)))
    op.create_check_constraint(
        "users_provider", "users", "provider IN ('local', 'oidc', 'openshift')"
    )
    op.create_check_constraint(
        "users_subject_of_provider", "users", "(provider = 'local') = (subject IS NULL)"
    )
    op.create_index("users_provider_subject", "users", ["provider", "subject"], unique=True)

    op.create_table(
        "groups",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_index("groups_provider_name", "groups", ["provider", "name"], unique=True)
    op.create_table(
        "group_members",
        sa.Column(
            "group_id",
            sa.BigInteger(),
            sa.ForeignKey("groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id",
            sa.BigInteger(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "since", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_index("ix_group_members_user_id", "group_members", ["user_id"])
    op.create_table(
        "sign_in_attempts",
        sa.Column("state_hash", sa.LargeBinary(), primary_key=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("next_path", sa.String(512), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sign_in_attempts_expires_at", "sign_in_attempts", ["expires_at"])


def downgrade() -> None:
    op.drop_table("sign_in_attempts")
    op.drop_table("group_members")
    op.drop_table("groups")
    op.drop_index("users_provider_subject", table_name="users")
    op.drop_constraint("users_subject_of_provider", "users")
    op.drop_constraint("users_provider", "users")
    for column in ("signed_in_at", "cluster_name", "subject", "provider"):
        op.drop_column("users", column)
    op.alter_column("users", "password_hash", existing_type=sa.Text(), nullable=False)
