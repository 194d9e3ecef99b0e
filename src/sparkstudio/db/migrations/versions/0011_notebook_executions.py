"""notebook executions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sparkstudio.db.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notebook_executions",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("studio_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=24), nullable=True),
        sa.Column("notebook_path", sa.Text(), nullable=False),
        sa.Column("notebook_uri", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("environment", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=24), nullable=False),
        sa.Column("output_location", sa.String(length=1024), nullable=False),
        sa.Column("timeout_minutes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("status_reason_code", sa.String(length=64), nullable=False),
        sa.Column("status_reason_message", sa.Text(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=True),
        sa.Column("output_notebook_uri", sa.String(length=1024), nullable=False),
        sa.Column("output_html_uri", sa.String(length=1024), nullable=False),
        sa.Column("started_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["studio_id"],
            ["studios.id"],
            name=op.f("fk_notebook_executions_studio_id_studios"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notebook_executions")),
    )
    with op.batch_alter_table("notebook_executions", schema=None) as batch_op:
        batch_op.create_index("ix_notebook_executions_status", ["status"], unique=False)
        batch_op.create_index(
            "ix_notebook_executions_studio_page", ["studio_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notebook_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_notebook_executions_studio_page")
        batch_op.drop_index("ix_notebook_executions_status")

    op.drop_table("notebook_executions")
