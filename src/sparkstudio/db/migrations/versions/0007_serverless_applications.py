"""serverless applications

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sparkstudio.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("studio_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("release_label", sa.String(length=64), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("backend", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("initial_capacity", sa.JSON(), nullable=False),
        sa.Column("maximum_capacity", sa.JSON(), nullable=True),
        sa.Column("auto_start_enabled", sa.Boolean(), nullable=False),
        sa.Column("auto_stop_enabled", sa.Boolean(), nullable=False),
        sa.Column("auto_stop_idle_timeout_minutes", sa.Integer(), nullable=False),
        sa.Column("scheduler_configuration", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("status_reason_code", sa.String(length=64), nullable=False),
        sa.Column("status_reason_message", sa.Text(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=True),
        sa.Column("connect_url", sa.String(length=512), nullable=False),
        sa.Column("ui_url", sa.String(length=512), nullable=False),
        sa.Column("workers_running", sa.Integer(), nullable=False),
        sa.Column(
            "last_activity_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("started_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["studio_id"],
            ["studios.id"],
            name=op.f("fk_applications_studio_id_studios"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint("studio_id", "name", name="uq_applications_studio_name"),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_index("ix_applications_status", ["status"], unique=False)
        batch_op.create_index("ix_applications_studio_page", ["studio_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index("ix_applications_studio_page")
        batch_op.drop_index("ix_applications_status")

    op.drop_table("applications")
