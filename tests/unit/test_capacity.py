"""Capacity sizes as EMR Serverless writes them, and the cluster spec they map to."""

from __future__ import annotations

import pytest

from sparkstudio.errors import Invalid
from sparkstudio.schemas.applications import (
    InitialCapacityConfig,
    MaximumCapacity,
    WorkerConfiguration,
)
from sparkstudio.serverless.capacity import parse_cpu, parse_memory, resolve

BOUNDS = (512, 262144)


@pytest.mark.parametrize(
    ("text", "mib"),
    [("4 GB", 4096), ("4GB", 4096), ("4", 4096), ("4096 MB", 4096), ("0.5 gb", 512)],
)
def test_memory_is_read_as_emr_writes_it(text: str, mib: int) -> None:
    assert parse_memory(text, "memory", BOUNDS) == mib


@pytest.mark.parametrize("text", ["4 TB", "4 GiB", "1.3 GB", "", "256 MB", "lots"])
def test_memory_outside_the_rules_names_the_field(text: str) -> None:
    with pytest.raises(Invalid) as raised:
        parse_memory(text, "initial_capacity.EXECUTOR.worker_configuration.memory", BOUNDS)
    assert raised.value.fields[0]["field"].endswith(".memory")
    assert "'4096 MB'" in raised.value.message


@pytest.mark.parametrize(("text", "cpu"), [("2 vCPU", 2), ("2", 2), ("2vcpu", 2)])
def test_cpu_is_read_as_emr_writes_it(text: str, cpu: int) -> None:
    assert parse_cpu(text, "cpu", (1, 64)) == cpu


def executors(count: int, cpu: str = "1 vCPU", memory: str = "1 GB") -> InitialCapacityConfig:
    config = WorkerConfiguration(cpu=cpu, memory=memory)
    return InitialCapacityConfig(worker_count=count, worker_configuration=config)


def test_the_maximum_bounds_executor_workers_in_every_dimension() -> None:
    initial = {"EXECUTOR": executors(2, "2 vCPU", "2 GB")}
    capacity = resolve(initial, MaximumCapacity(cpu="9 vCPU", memory="100 GB", disk="60 GB"))
    # 8 vCPU beside the 1 vCPU driver hold 4; 40 GB of disk beside its 20 GB hold 2.
    assert (capacity.executors_initial, capacity.executors_max) == (2, 2)
    spec = capacity.spec(15)
    assert (spec.workers_min, spec.workers_max, spec.worker_cores) == (2, 2, 2)
    assert (spec.worker_memory_mib, spec.executor_memory_mib) == (2048, 2048)
    assert (spec.driver_memory_mib, spec.idle_timeout_seconds) == (1024, 900)


def test_without_a_maximum_the_application_stays_at_its_initial_capacity() -> None:
    assert resolve({"EXECUTOR": executors(3)}, None).executors_max == 3
    assert resolve({}, None).executors_max == 1  # one executor worker always runs


def test_the_initial_capacity_must_fit_within_the_maximum() -> None:
    with pytest.raises(Invalid) as raised:
        resolve({"EXECUTOR": executors(3)}, MaximumCapacity(cpu="8", memory="3 GB"))
    assert raised.value.fields[0]["field"] == "maximum_capacity.memory"
    assert "4 GB memory" in raised.value.message  # the driver and 3 executors of 1 GB
