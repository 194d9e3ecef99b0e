"""single sign-on

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sparkstudio.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_logins",
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("next_path", sa.String(length=1024), nullable=False),
        sa.Column("cli_port", sa.Integer(), nullable=True),
        sa.Column("cli_challenge", sa.String(length=64), nullable=True),
        sa.Column("created_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("user_id", sa.String(length=24), nullable=True),
        sa.Column("cli_code_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "cli_code_used_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_pending_logins_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_pending_logins")),
        sa.UniqueConstraint("cli_code_hash", name=op.f("uq_pending_logins_cli_code_hash")),
    )
    with op.batch_alter_table("pending_logins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_logins_created_at"), ["created_at"], unique=False
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_provider", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("subject", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(
            "uq_users_identity_provider_subject", ["identity_provider", "subject"]
        )

    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=64), nullable=True))

    # Existing studios keep password logins; the server default only fills their rows.
    with op.batch_alter_table("studios", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "auth_mode",
                sa.String(length=16),
                nullable=False,
                server_default="PASSWORD_OR_SSO",
            )
        )
    with op.batch_alter_table("studios", schema=None) as batch_op:
        batch_op.alter_column("auth_mode", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("studios", schema=None) as batch_op:
        batch_op.drop_column("auth_mode")

    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_column("source")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_identity_provider_subject", type_="unique")
        batch_op.drop_column("subject")
        batch_op.drop_column("identity_provider")

    with op.batch_alter_table("pending_logins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_logins_created_at"))

    op.drop_table("pending_logins")
