"""Job runs of serverless applications: EMR Serverless's StartJobRun fields, in snake_case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, Strict, StringConstraints, field_validator

from sparkstudio.schemas.common import (
    STORAGE_PATTERN,
    STORAGE_RULE,
    TEXT_PATTERN,
    PublicModel,
    StatusReason,
    StrictModel,
    Tags,
)

# The one configuration classification a job run may override (as EMR's spark-defaults).
SPARK_DEFAULTS = "spark-defaults"
EntryPoint = Annotated[
    str,
    Strict(),
    StringConstraints(min_length=1, max_length=4096, pattern=r"^[^\x00-\x1f\x7f]+$"),
    Field(
        description="The script or jar: an absolute path on the platform's hosts, a "
        "file:///… URI, or an s3://bucket/key URI."
    ),
]


class SparkSubmit(StrictModel):
    entry_point: EntryPoint
    entry_point_arguments: Annotated[
        list[Annotated[str, Strict(), StringConstraints(max_length=10280, pattern=TEXT_PATTERN)]],
        Field(max_length=1024, description="Arguments given to the entry point."),
    ] = Field(default_factory=list)
    spark_submit_parameters: Annotated[
        str,
        Strict(),
        StringConstraints(max_length=102400, pattern=TEXT_PATTERN),
        Field(description="spark-submit options, e.g. '--conf spark.executor.cores=1'."),
    ] = ""


class JobDriver(StrictModel):
    spark_submit: SparkSubmit


class Configuration(StrictModel):
    classification: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=1024)]
    properties: dict[
        Annotated[str, Strict(), StringConstraints(min_length=1, max_length=1024)],
        Annotated[str, Strict(), StringConstraints(max_length=1024, pattern=TEXT_PATTERN)],
    ] = Field(default_factory=dict)

    @field_validator("classification")
    @classmethod
    def _spark_defaults_only(cls, value: str) -> str:
        if value != SPARK_DEFAULTS:
            raise ValueError(f"only '{SPARK_DEFAULTS}' can be overridden (got {value!r})")
        return value


class S3MonitoringConfiguration(StrictModel):
    log_uri: Annotated[
        str,
        Strict(),
        StringConstraints(max_length=1024, pattern=STORAGE_PATTERN),
        Field(description=f"Where driver logs and event logs go: {STORAGE_RULE}."),
    ]


class MonitoringConfiguration(StrictModel):
    s3_monitoring_configuration: S3MonitoringConfiguration | None = None


class ConfigurationOverrides(StrictModel):
    application_configuration: Annotated[list[Configuration], Field(max_length=100)] = Field(
        default_factory=list
    )
    monitoring_configuration: MonitoringConfiguration | None = None


class RetryPolicy(StrictModel):
    max_attempts: Annotated[
        int, Strict(), Field(ge=1, le=10, description="1 to 10 attempts in all.")
    ] = 1


class JobRunCreate(StrictModel):
    name: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=256)] | None = None
    execution_role_arn: Annotated[
        str,
        Strict(),
        StringConstraints(max_length=2048, pattern=TEXT_PATTERN),
        Field(description="Recorded with the run (this platform runs it as the submitter)."),
    ] = ""
    job_driver: JobDriver
    configuration_overrides: ConfigurationOverrides = Field(default_factory=ConfigurationOverrides)
    execution_timeout_minutes: Annotated[
        int,
        Strict(),
        Field(ge=0, le=1_000_000, description="Cancel after this long running; 0: never."),
    ] = 720
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy)
    tags: Tags = Field(default_factory=dict)


class ResourceUtilization(BaseModel):
    vcpu_hours: float
    memory_gb_hours: float
    storage_gb_hours: float


class JobRunPublic(PublicModel):
    id: str
    application_id: str
    studio_id: str
    name: str
    created_by: str
    execution_role_arn: str
    release_label: str
    job_driver: JobDriver
    configuration_overrides: ConfigurationOverrides
    execution_timeout_minutes: int
    retry_policy: RetryPolicy
    attempt: int
    tags: dict[str, str]
    runtime: str = Field(description="CONNECT (warm driver) or CLASSIC (spark-submit).")
    runtime_reason: str
    status: str
    status_reason: StatusReason
    log_uri: str = Field(description="Where this run's logs are kept.")
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    queued_seconds: float = Field(description="Time from submission to RUNNING.")
    running_seconds: float = Field(description="Total execution duration of its attempts.")
    total_resource_utilization: ResourceUtilization = Field(
        description="What the workers its attempts held used, while they ran."
    )
    billed_resource_utilization: ResourceUtilization = Field(
        description="As billed: each worker for at least one minute, storage beyond 20 GB."
    )


class JobRunAttemptPublic(PublicModel):
    attempt: int
    status: str
    status_reason: StatusReason
    log_uri: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime


class DashboardPublic(BaseModel):
    url: str = Field(description="The live Spark UI while it runs; the history afterwards.")


class JobRunUsageRow(BaseModel):
    key: str
    job_runs: int
    total_resource_utilization: ResourceUtilization
    billed_resource_utilization: ResourceUtilization
    execution_seconds: float
    queued_seconds: float


class JobRunUsageReport(BaseModel):
    studio_id: str
    since: datetime
    until: datetime
    group_by: str
    rows: list[JobRunUsageRow]
    total: JobRunUsageRow
