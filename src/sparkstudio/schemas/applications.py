"""Serverless applications: EMR Serverless's fields, in snake_case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict, StringConstraints, field_validator

from sparkstudio.schemas.common import Name, PublicModel, StatusReason, StrictModel, Tags

CapacityText = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=32)]
WorkerCount = Annotated[int, Strict(), Field(ge=0, le=64, description="0 to 64 workers.")]
IdleTimeoutMinutes = Annotated[
    int, Strict(), Field(ge=1, le=10080, description="1 to 10080 minutes (7 days).")
]


class WorkerConfiguration(StrictModel):
    cpu: CapacityText = Field(description="vCPUs per worker, e.g. '2 vCPU' or '2'.")
    memory: CapacityText = Field(description="Memory per worker, e.g. '4 GB' or '4096 MB'.")
    disk: CapacityText | None = Field(
        default=None, description="Disk per worker, e.g. '20 GB' (20 GB when omitted)."
    )


class InitialCapacityConfig(StrictModel):
    worker_count: WorkerCount
    worker_configuration: WorkerConfiguration


class MaximumCapacity(StrictModel):
    cpu: CapacityText = Field(description="Most vCPUs of all workers together, e.g. '8 vCPU'.")
    memory: CapacityText = Field(description="Most memory of all workers together, e.g. '32 GB'.")
    disk: CapacityText | None = Field(
        default=None, description="Most disk of all workers together, e.g. '200 GB'."
    )


class AutoStartConfiguration(StrictModel):
    enabled: Annotated[bool, Strict()] = True


class AutoStopConfiguration(StrictModel):
    enabled: Annotated[bool, Strict()] = True
    idle_timeout_minutes: IdleTimeoutMinutes = 15


class SchedulerConfiguration(StrictModel):
    max_concurrent_runs: Annotated[int, Strict(), Field(ge=1, le=1000)] = 15
    queue_timeout_minutes: Annotated[int, Strict(), Field(ge=15, le=720)] = 360


InitialCapacity = Annotated[
    dict[Annotated[str, StringConstraints(max_length=32)], InitialCapacityConfig],
    Field(max_length=2, description="Warm workers by worker type: DRIVER and EXECUTOR."),
]
ReleaseLabel = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ApplicationCreate(StrictModel):
    name: Name
    type: Literal["SPARK"] = Field(default="SPARK", description="SPARK (HIVE is not supported).")
    release_label: ReleaseLabel = Field(description="The Spark release, e.g. 'spark-4.3'.")
    initial_capacity: InitialCapacity = Field(default_factory=dict)
    maximum_capacity: MaximumCapacity | None = None
    auto_start_configuration: AutoStartConfiguration = Field(default_factory=AutoStartConfiguration)
    auto_stop_configuration: AutoStopConfiguration = Field(default_factory=AutoStopConfiguration)
    scheduler_configuration: SchedulerConfiguration = Field(default_factory=SchedulerConfiguration)
    network: Name | None = Field(
        default=None, description="One of the studio's networks; its first one when omitted."
    )
    tags: Tags = Field(default_factory=dict)

    @field_validator("type", mode="before")
    @classmethod
    def _hive_is_not_supported(cls, value: object) -> object:
        if isinstance(value, str) and value.upper() == "HIVE":
            raise ValueError("HIVE applications are not supported; use SPARK")
        return value


class ApplicationUpdate(StrictModel):
    """Fields to change; omitted ones stay. While STARTED only tags, auto-stop and the
    maximum capacity may change."""

    release_label: ReleaseLabel | None = None
    initial_capacity: InitialCapacity | None = None
    maximum_capacity: MaximumCapacity | None = None
    auto_start_configuration: AutoStartConfiguration | None = None
    auto_stop_configuration: AutoStopConfiguration | None = None
    scheduler_configuration: SchedulerConfiguration | None = None
    network: Name | None = None
    tags: Tags | None = Field(default=None, description="Replaces every tag.")


class WorkersPublic(BaseModel):
    min: int
    max: int
    running: int


class ApplicationPublic(PublicModel):
    id: str
    studio_id: str
    name: str
    type: str
    release_label: str
    spark_version: str
    network: str
    created_by: str
    initial_capacity: dict[str, InitialCapacityConfig]
    maximum_capacity: MaximumCapacity | None
    auto_start_configuration: AutoStartConfiguration
    auto_stop_configuration: AutoStopConfiguration
    scheduler_configuration: SchedulerConfiguration
    tags: dict[str, str]
    status: str
    target: str
    status_reason: StatusReason
    workers: WorkersPublic
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None
    last_activity_at: datetime


class ReleaseLabelPublic(BaseModel):
    release_label: str
    spark_version: str
