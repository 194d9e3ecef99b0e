"""Job run metering: utilization from what was held, billing by EMR Serverless's rules."""

from __future__ import annotations

import pytest

from sparkstudio.serverless.capacity import Size
from sparkstudio.serverless.metering import Held, classic_held, connect_held, meter

DRIVER = Size(cpu=1, memory_mib=2048, disk_gb=20)
EXECUTOR = Size(cpu=2, memory_mib=4096, disk_gb=50)


def test_a_short_run_is_billed_one_minute_per_worker_and_storage_beyond_20_gb() -> None:
    metered = meter(classic_held(DRIVER, EXECUTOR, 2), seconds=10)
    assert metered.vcpu_seconds == pytest.approx((1 + 2 * 2) * 10)
    assert metered.memory_gb_seconds == pytest.approx((2 + 2 * 4) * 10)
    assert metered.storage_gb_seconds == pytest.approx((20 + 2 * 50) * 10)
    assert metered.billed_vcpu_seconds == pytest.approx((1 + 2 * 2) * 60)
    assert metered.billed_memory_gb_seconds == pytest.approx((2 + 2 * 4) * 60)
    # The driver's 20 GB are free; each executor pays for 30 of its 50 GB.
    assert metered.billed_storage_gb_seconds == pytest.approx(2 * 30 * 60)


def test_a_long_run_is_billed_what_it_used() -> None:
    metered = meter([Held(EXECUTOR, 1.0)], seconds=600)
    assert metered.billed_vcpu_seconds == metered.vcpu_seconds == pytest.approx(1200)


def test_connect_runs_share_the_executors_running_beside_them() -> None:
    alone = meter(connect_held(DRIVER, EXECUTOR, executors=2, sharing=1), seconds=120)
    shared = meter(connect_held(DRIVER, EXECUTOR, executors=2, sharing=4), seconds=120)
    assert alone.vcpu_seconds == pytest.approx((1 + 4) * 120)
    assert shared.vcpu_seconds == pytest.approx((1 + 4 / 4) * 120)


def test_held_workers_survive_being_stored() -> None:
    held = classic_held(DRIVER, EXECUTOR, 3)
    assert [Held.from_json(item.to_json()) for item in held] == held
