"""Notebook schedules: a notebook execution started on a cron expression in a time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, JsonValue, Strict, StringConstraints

from sparkstudio.notebooks.cron import CRON_RULE, MissedRunPolicy, check_cron, check_time_zone
from sparkstudio.schemas.common import (
    TEXT_PATTERN,
    Name,
    PublicModel,
    StatusReason,
    StrictModel,
)
from sparkstudio.schemas.notebook_executions import ExecutionSpec, ExecutionTarget, NotebookSource

Cron = Annotated[
    str,
    Strict(),
    StringConstraints(min_length=1, max_length=128),
    AfterValidator(check_cron),
    Field(description=f"When runs are due: {CRON_RULE}.", examples=["0 6 * * 1-5"]),
]
TimeZone = Annotated[
    str,
    Strict(),
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(check_time_zone),
    Field(description="The IANA time zone the cron expression is read in.", examples=["UTC"]),
]
MaxConcurrentRuns = Annotated[
    int,
    Strict(),
    Field(
        ge=1,
        le=20,
        description="Runs of this schedule in progress at once, at most; a run due while "
        "this many are in progress is skipped (and recorded as such).",
    ),
]
Description = Annotated[str, Strict(), StringConstraints(max_length=1024, pattern=TEXT_PATTERN)]
Parameters = Annotated[
    dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], JsonValue],
    Field(max_length=100, description="Fixed parameters of every run, injected the papermill way."),
]
POLICY_DESCRIPTION = (
    "Due times passed while the control plane could not run them (longer ago than the "
    "grace period): SKIP runs none of them, CATCH_UP_ONE runs the latest once."
)


class NotebookScheduleCreate(ExecutionSpec):
    name: Name
    description: Description = ""
    cron: Cron
    time_zone: TimeZone = "UTC"
    max_concurrent_runs: MaxConcurrentRuns = 1
    missed_run_policy: MissedRunPolicy = Field(
        default=MissedRunPolicy.SKIP, description=POLICY_DESCRIPTION
    )
    paused: Annotated[bool, Strict()] = Field(
        default=False, description="Create it paused: no run is due until it is resumed."
    )


class NotebookScheduleUpdate(StrictModel):
    """Fields to change; the next due time is worked out again from now."""

    description: Description | None = None
    cron: Cron | None = None
    time_zone: TimeZone | None = None
    max_concurrent_runs: MaxConcurrentRuns | None = None
    missed_run_policy: MissedRunPolicy | None = Field(default=None, description=POLICY_DESCRIPTION)
    parameters: Parameters | None = None


class NotebookSchedulePublic(PublicModel):
    id: str
    studio_id: str
    name: str
    description: str
    created_by: str
    cron: str
    time_zone: str
    max_concurrent_runs: int
    missed_run_policy: MissedRunPolicy
    notebook: NotebookSource
    parameters: dict[str, Any]
    environment_variable_names: list[str]
    target: ExecutionTarget
    output_location: str | None
    timeout_minutes: int
    tags: dict[str, str]
    status: str = Field(description="ACTIVE or PAUSED.")
    status_reason: StatusReason
    next_due_at: datetime | None = Field(description="When the next run is due (none if paused).")
    last_due_at: datetime | None = Field(description="The last due time dealt with.")
    created_at: datetime
    updated_at: datetime
