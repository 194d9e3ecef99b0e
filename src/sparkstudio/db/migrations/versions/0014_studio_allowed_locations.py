"""studios: further locations a platform admin allows their users to name

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("studios", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allowed_locations", sa.JSON(), nullable=False, server_default="[]")
        )
    # The default filled the existing rows; new ones get theirs from the application.
    with op.batch_alter_table("studios", schema=None) as batch_op:
        batch_op.alter_column("allowed_locations", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("studios", schema=None) as batch_op:
        batch_op.drop_column("allowed_locations")
