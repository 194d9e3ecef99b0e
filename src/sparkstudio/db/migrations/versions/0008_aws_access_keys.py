"""aws access keys

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("studio_id", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("access_key_id", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("secret_encrypted", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_tokens_studio_id"), ["studio_id"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_api_tokens_access_key_id"), ["access_key_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_studio_id_studios"),
            "studios",
            ["studio_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    # The pairs cannot outlive their columns: without them they would be API tokens.
    op.execute("DELETE FROM api_tokens WHERE kind = 'AWS_KEY'")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_studio_id_studios"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_api_tokens_access_key_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_api_tokens_studio_id"))
        batch_op.drop_column("secret_encrypted")
        batch_op.drop_column("access_key_id")
        batch_op.drop_column("studio_id")
