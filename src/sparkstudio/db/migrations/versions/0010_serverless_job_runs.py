"""serverless job runs

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sparkstudio.db.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("application_id", sa.String(length=24), nullable=False),
        sa.Column("studio_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("execution_role_arn", sa.String(length=2048), nullable=False),
        sa.Column("release_label", sa.String(length=64), nullable=False),
        sa.Column("entry_point", sa.Text(), nullable=False),
        sa.Column("entry_point_arguments", sa.JSON(), nullable=False),
        sa.Column("spark_submit_parameters", sa.Text(), nullable=False),
        sa.Column("configuration_overrides", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("execution_timeout_minutes", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("client_token", sa.String(length=64), nullable=True),
        sa.Column("runtime", sa.String(length=16), nullable=False),
        sa.Column("runtime_reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("status_reason_code", sa.String(length=64), nullable=False),
        sa.Column("status_reason_message", sa.Text(), nullable=False),
        sa.Column("log_uri", sa.String(length=1024), nullable=False),
        sa.Column("state", sa.JSON(), nullable=True),
        sa.Column("ui_url", sa.String(length=512), nullable=False),
        sa.Column("spark_app_id", sa.String(length=128), nullable=False),
        sa.Column("queued_seconds", sa.Float(), nullable=False),
        sa.Column("running_seconds", sa.Float(), nullable=False),
        sa.Column("vcpu_seconds", sa.Float(), nullable=False),
        sa.Column("memory_gb_seconds", sa.Float(), nullable=False),
        sa.Column("storage_gb_seconds", sa.Float(), nullable=False),
        sa.Column("billed_vcpu_seconds", sa.Float(), nullable=False),
        sa.Column("billed_memory_gb_seconds", sa.Float(), nullable=False),
        sa.Column("billed_storage_gb_seconds", sa.Float(), nullable=False),
        sa.Column("started_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_job_runs_application_id_applications"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["studio_id"],
            ["studios.id"],
            name=op.f("fk_job_runs_studio_id_studios"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("application_id", "client_token", name="uq_job_runs_app_client_token"),
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_job_runs_application_page", ["application_id", "id"], unique=False
        )
        batch_op.create_index("ix_job_runs_status", ["status"], unique=False)

    op.create_table(
        "job_run_attempts",
        sa.Column("job_run_id", sa.String(length=24), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_reason_code", sa.String(length=64), nullable=False),
        sa.Column("status_reason_message", sa.Text(), nullable=False),
        sa.Column("log_uri", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sparkstudio.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_run_id"],
            ["job_runs.id"],
            name=op.f("fk_job_run_attempts_job_run_id_job_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_run_id", "attempt", name=op.f("pk_job_run_attempts")),
    )


def downgrade() -> None:
    op.drop_table("job_run_attempts")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_job_runs_status")
        batch_op.drop_index("ix_job_runs_application_page")

    op.drop_table("job_runs")
