"""Metering of job runs: what their attempts held, for how long, and what that bills.

An attempt is metered for the workers it held while it ran:

- a spark-submit (CLASSIC) attempt: its driver (the application's driver size) and the
  executor workers reserved for it;
- a Spark Connect (CONNECT) attempt: one driver worker, and its share of the
  application's executor workers (they are shared by the Connect attempts running when
  it was placed, itself included).

An attempt ran from when its runner started its job to when the runner ended, as the
runner recorded them: a run that ends while the control plane is down is not metered
until the control plane is back.

Utilization is vCPU-, memory-GB- and storage-GB-seconds of those workers. Billing
follows EMR Serverless: each worker is billed for at least one minute, and storage only
beyond the 20 GB every worker has without charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sparkstudio.db.models import JobRun
from sparkstudio.serverless.capacity import Size

MINIMUM_BILLED_SECONDS = 60.0
FREE_STORAGE_GB = 20


@dataclass(frozen=True)
class Held:
    """``count`` workers of one size (a fraction for a share of shared workers)."""

    size: Size
    count: float

    def to_json(self) -> list[Any]:
        return [self.size.cpu, self.size.memory_mib, self.size.disk_gb, self.count]

    @classmethod
    def from_json(cls, data: list[Any]) -> Held:
        cpu, memory_mib, disk_gb, count = data
        return cls(Size(int(cpu), int(memory_mib), int(disk_gb)), float(count))


@dataclass(frozen=True)
class Metered:
    vcpu_seconds: float = 0.0
    memory_gb_seconds: float = 0.0
    storage_gb_seconds: float = 0.0
    billed_vcpu_seconds: float = 0.0
    billed_memory_gb_seconds: float = 0.0
    billed_storage_gb_seconds: float = 0.0


def meter(held: list[Held], seconds: float) -> Metered:
    """Utilization and billed utilization of ``held`` workers over ``seconds``."""
    seconds = max(seconds, 0.0)
    billed = max(seconds, MINIMUM_BILLED_SECONDS)
    totals = [0.0] * 6
    for workers in held:
        size, count = workers.size, workers.count
        memory_gb = size.memory_mib / 1024
        chargeable_disk = max(size.disk_gb - FREE_STORAGE_GB, 0)
        totals[0] += size.cpu * count * seconds
        totals[1] += memory_gb * count * seconds
        totals[2] += size.disk_gb * count * seconds
        totals[3] += size.cpu * count * billed
        totals[4] += memory_gb * count * billed
        totals[5] += chargeable_disk * count * billed
    return Metered(*totals)


def connect_held(driver: Size, executor: Size, executors: int, sharing: int) -> list[Held]:
    """A Connect attempt: one driver, and its share of the executor workers."""
    return [Held(driver, 1.0), Held(executor, executors / max(sharing, 1))]


def classic_held(driver: Size, executor: Size, executors: int) -> list[Held]:
    return [Held(driver, 1.0), Held(executor, float(executors))]


# What of a run's state outlives an attempt: its script (for the next attempt), and where
# the ended attempt's logs are read until they are kept in the log location.
_KEPT_PAST_ATTEMPT = frozenset({"script", "log_folder", "log_attempt"})


def account_attempt(run: JobRun, ended: datetime) -> None:
    """Add an ended attempt's duration (``run.started_at`` to ``ended``) and metered
    utilization to its run."""
    state = run.state or {}
    if run.started_at is not None:
        seconds = (ended - run.started_at).total_seconds()
        run.running_seconds += seconds
        held = [Held.from_json(item) for item in state.get("held", [])]
        metered = meter(held, seconds)
        run.vcpu_seconds += metered.vcpu_seconds
        run.memory_gb_seconds += metered.memory_gb_seconds
        run.storage_gb_seconds += metered.storage_gb_seconds
        run.billed_vcpu_seconds += metered.billed_vcpu_seconds
        run.billed_memory_gb_seconds += metered.billed_memory_gb_seconds
        run.billed_storage_gb_seconds += metered.billed_storage_gb_seconds
    run.state = {k: v for k, v in state.items() if k in _KEPT_PAST_ATTEMPT}
