"""application client token

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_token", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            "uq_applications_studio_client_token", ["studio_id", "client_token"]
        )


def downgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_constraint("uq_applications_studio_client_token", type_="unique")
        batch_op.drop_column("client_token")
