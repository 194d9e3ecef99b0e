"""Capacity: EMR Serverless's worker sizes and caps, checked, and mapped to a cluster spec.

Sizes are written as EMR takes them: cpu "2 vCPU" or "2", memory "4 GB" or "4096 MB"
(1 GB = 1024 MB), disk "20 GB". An application runs one Spark Connect driver and
executor workers of one size; it keeps its initial capacity warm and grows up to its
maximum capacity, never beyond.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sparkstudio.errors import Invalid
from sparkstudio.schemas.applications import (
    InitialCapacityConfig,
    MaximumCapacity,
    WorkerConfiguration,
)
from sparkstudio.templates.spec import LIMITS, ClusterSpec


class WorkerType(StrEnum):
    DRIVER = "DRIVER"
    EXECUTOR = "EXECUTOR"


_CPU = re.compile(r"^\s*(\d{1,6})\s*(vcpu)?\s*$", re.IGNORECASE)
_MEMORY = re.compile(r"^\s*(\d{1,7}(?:\.\d{1,3})?)\s*(gb|mb)?\s*$", re.IGNORECASE)
_DISK = re.compile(r"^\s*(\d{1,7})\s*(gb)?\s*$", re.IGNORECASE)

WORKER_CPU = (1, 64)
WORKER_MEMORY_MIB = (LIMITS["worker_memory_mib"][0], LIMITS["worker_memory_mib"][1])
WORKER_DISK_GB = (20, 200)
DEFAULT_DISK_GB = 20
# Used for a worker type left out of the initial capacity (small: this host runs it all).
DEFAULT_WORKER = WorkerConfiguration(cpu="1 vCPU", memory="1 GB", disk="20 GB")
MAX_WORKERS = LIMITS["workers_max"][1]


@dataclass(frozen=True)
class Size:
    cpu: int
    memory_mib: int
    disk_gb: int

    def times(self, count: int) -> Size:
        return Size(self.cpu * count, self.memory_mib * count, self.disk_gb * count)

    def plus(self, other: Size) -> Size:
        return Size(
            self.cpu + other.cpu,
            self.memory_mib + other.memory_mib,
            self.disk_gb + other.disk_gb,
        )

    def show(self) -> str:
        return f"{self.cpu} vCPU, {_gb(self.memory_mib)} memory, {self.disk_gb} GB disk"


@dataclass(frozen=True)
class Capacity:
    """An application's capacity, checked: what it keeps warm and what it may grow to."""

    driver: Size
    executor: Size
    executors_initial: int
    executors_max: int
    maximum: Size | None

    def spec(self, idle_timeout_minutes: int) -> ClusterSpec:
        """The cluster spec the backend launches: one executor per executor worker."""
        return ClusterSpec(
            workers_min=self.executors_initial,
            workers_max=self.executors_max,
            worker_cores=self.executor.cpu,
            worker_memory_mib=self.executor.memory_mib,
            executor_cores=self.executor.cpu,
            executor_memory_mib=self.executor.memory_mib,
            driver_memory_mib=self.driver.memory_mib,
            idle_timeout_seconds=idle_timeout_minutes * 60,
            spark_conf=self.driver_conf(),
        )

    def driver_conf(self) -> dict[str, str]:
        """The warm driver holds the initial executors and asks for more only under load,
        so that workers added for spark-submit runs are left to them."""
        warm = str(max(self.executors_initial, 1))
        return {
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.shuffleTracking.enabled": "true",
            "spark.dynamicAllocation.minExecutors": warm,
            "spark.dynamicAllocation.initialExecutors": warm,
            "spark.dynamicAllocation.maxExecutors": str(self.executors_max),
            "spark.dynamicAllocation.schedulerBacklogTimeout": "1s",
            "spark.dynamicAllocation.executorIdleTimeout": "60s",
        }


def _gb(mib: int) -> str:
    return f"{mib // 1024} GB" if mib % 1024 == 0 else f"{mib} MB"


def parse_cpu(text: str, field: str, bounds: tuple[int, int]) -> int:
    match = _CPU.match(text)
    low, high = bounds
    if match is None or not low <= int(match[1]) <= high:
        raise Invalid.field(
            field, f"must be a vCPU count from {low} to {high}, e.g. '2 vCPU' (got {text!r})"
        )
    return int(match[1])


def parse_memory(text: str, field: str, bounds: tuple[int, int]) -> int:
    """Memory in MiB ("4 GB", "4GB", "4096 MB"; a bare number is GB, as EMR reads it)."""
    match = _MEMORY.match(text)
    low, high = bounds
    mib = -1.0
    if match is not None:
        unit = (match[2] or "gb").lower()
        mib = float(match[1]) * (1024 if unit == "gb" else 1)
    if not mib.is_integer() or not low <= mib <= high:
        raise Invalid.field(
            field,
            f"must be memory from {_gb(low)} to {_gb(high)}, e.g. '4 GB' or '4096 MB' "
            f"(got {text!r})",
        )
    return int(mib)


def parse_disk(text: str | None, field: str, bounds: tuple[int, int]) -> int:
    if text is None:
        return DEFAULT_DISK_GB
    match = _DISK.match(text)
    low, high = bounds
    if match is None or not low <= int(match[1]) <= high:
        raise Invalid.field(
            field, f"must be disk from {low} GB to {high} GB, e.g. '20 GB' (got {text!r})"
        )
    return int(match[1])


def worker_size(config: WorkerConfiguration, field: str) -> Size:
    return Size(
        parse_cpu(config.cpu, f"{field}.cpu", WORKER_CPU),
        parse_memory(config.memory, f"{field}.memory", WORKER_MEMORY_MIB),
        parse_disk(config.disk, f"{field}.disk", WORKER_DISK_GB),
    )


def maximum_size(maximum: MaximumCapacity) -> Size:
    field = "maximum_capacity"
    cpu = parse_cpu(maximum.cpu, f"{field}.cpu", (1, 100_000))
    memory = parse_memory(maximum.memory, f"{field}.memory", (1024, 1024 * 1_000_000))
    disk = parse_disk(maximum.disk, f"{field}.disk", (20, 10_000_000)) if maximum.disk else 0
    return Size(cpu, memory, disk)


def resolve(initial: dict[str, InitialCapacityConfig], maximum: MaximumCapacity | None) -> Capacity:
    """Check an application's capacity; each problem is a 422 naming its field."""
    allowed = ", ".join(WorkerType)
    for key in initial:
        if key not in WorkerType.__members__:
            raise Invalid.field(
                f"initial_capacity.{key}", f"worker types are {allowed} (got {key!r})"
            )
    driver_config = initial.get(WorkerType.DRIVER)
    if driver_config is not None and driver_config.worker_count != 1:
        raise Invalid.field(
            "initial_capacity.DRIVER.worker_count",
            "must be 1: a started application keeps exactly one warm Spark Connect driver "
            f"(got {driver_config.worker_count})",
        )
    executor_config = initial.get(WorkerType.EXECUTOR)
    driver = worker_size(
        driver_config.worker_configuration if driver_config else DEFAULT_WORKER,
        "initial_capacity.DRIVER.worker_configuration",
    )
    executor = worker_size(
        executor_config.worker_configuration if executor_config else DEFAULT_WORKER,
        "initial_capacity.EXECUTOR.worker_configuration",
    )
    executors = executor_config.worker_count if executor_config else 0
    # The backend keeps at least one executor worker while started: count it.
    warm = driver.plus(executor.times(max(executors, 1)))
    if maximum is None:
        return Capacity(driver, executor, executors, max(executors, 1), None)
    cap = maximum_size(maximum)
    too_big = [
        (name, have, limit)
        for name, have, limit in (
            ("cpu", warm.cpu, cap.cpu),
            ("memory", warm.memory_mib, cap.memory_mib),
            ("disk", warm.disk_gb, cap.disk_gb if maximum.disk else warm.disk_gb),
        )
        if have > limit
    ]
    if too_big:
        name = too_big[0][0]
        raise Invalid.field(
            f"maximum_capacity.{name}",
            f"the initial capacity (a driver and {max(executors, 1)} executor worker(s): "
            f"{warm.show()}) must fit within the maximum capacity ({cap.show()})",
        )
    return Capacity(driver, executor, executors, _executors_within(driver, executor, cap), cap)


def _executors_within(driver: Size, executor: Size, cap: Size) -> int:
    """The most executor workers that fit beside the driver (capped by the backend's limit)."""
    room = [
        (cap.cpu - driver.cpu) // executor.cpu,
        (cap.memory_mib - driver.memory_mib) // executor.memory_mib,
    ]
    if cap.disk_gb:
        room.append((cap.disk_gb - driver.disk_gb) // executor.disk_gb)
    return max(1, min(MAX_WORKERS, *room))


def capacity_of(initial: dict[str, Any], maximum: dict[str, Any] | None) -> Capacity:
    """The capacity of a stored application (its JSON columns)."""
    return resolve(
        {key: InitialCapacityConfig.model_validate(value) for key, value in initial.items()},
        MaximumCapacity.model_validate(maximum) if maximum is not None else None,
    )
