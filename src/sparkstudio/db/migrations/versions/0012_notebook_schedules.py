"""notebook schedules

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sparkstudio.db.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sparkstudio.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notebook_schedules",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("studio_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("cron", sa.String(length=128), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("max_concurrent_runs", sa.Integer(), nullable=False),
        sa.Column("missed_run_policy", sa.String(length=16), nullable=False),
        sa.Column("execution", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("status_reason_code", sa.String(length=64), nullable=False),
        sa.Column("status_reason_message", sa.Text(), nullable=False),
        sa.Column("next_due_at", _TIME, nullable=False),
        sa.Column("last_due_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["studio_id"],
            ["studios.id"],
            name=op.f("fk_notebook_schedules_studio_id_studios"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notebook_schedules")),
        sa.UniqueConstraint("studio_id", "name", name="uq_notebook_schedules_studio_name"),
    )
    with op.batch_alter_table("notebook_schedules", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notebook_schedules_studio_page", ["studio_id", "id"], unique=False
        )
    with op.batch_alter_table("notebook_executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule_id", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("scheduled_for", _TIME, nullable=True))
        batch_op.create_unique_constraint(
            "uq_notebook_executions_schedule_due", ["schedule_id", "scheduled_for"]
        )


def downgrade() -> None:
    with op.batch_alter_table("notebook_executions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_notebook_executions_schedule_due", type_="unique")
        batch_op.drop_column("scheduled_for")
        batch_op.drop_column("schedule_id")
    with op.batch_alter_table("notebook_schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_notebook_schedules_studio_page")
    op.drop_table("notebook_schedules")
