"""What every benchmark module shares: the result row and a few small helpers.

A benchmark is a module ``bench/bench_<name>.py`` with a function ``run() -> list[Row]``.
``bench/run.py`` discovers it, runs it and prints its rows in the one table of the run.
"""

from __future__ import annotations

import math
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent


@dataclass(frozen=True)
class Row:
    """One measured number (or a skipped / failed measurement, with ``value=None``)."""

    benchmark: str  # e.g. "api"
    case: str  # what was measured, e.g. "sqlite: list first page"
    metric: str  # e.g. "req/s", "p50", "p99"
    value: float | None  # None when skipped or failed; say why in ``note``
    unit: str = ""  # e.g. "req/s", "ms"
    baseline: float | None = None  # the same metric of this run's baseline case, if any
    ratio: float | None = None  # value / baseline
    note: str = ""


def skipped(benchmark: str, case: str, reason: str) -> Row:
    return Row(benchmark, case, "skipped", None, note=reason)


def with_baseline(row: Row, baseline: float | None) -> Row:
    """``row`` with ``baseline`` and ``ratio = value / baseline`` filled in."""
    if baseline is None or row.value is None or baseline == 0:
        return row
    return Row(
        row.benchmark,
        row.case,
        row.metric,
        row.value,
        row.unit,
        baseline,
        row.value / baseline,
        row.note,
    )


def percentile(samples: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``samples``, nearest-rank."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def cpu_times() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all cores, from /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return math.nan, math.nan
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return (total - idle) / ticks, total / ticks


def machine_busy(seconds: float = 1.0) -> float:
    """Share of the machine's cores busy over ``seconds`` (0..1): other load skews results."""
    busy0, total0 = cpu_times()
    time.sleep(seconds)
    busy1, total1 = cpu_times()
    return (busy1 - busy0) / (total1 - total0) if total1 > total0 else math.nan


QUIET = 0.25  # share of the cores busy below which the machine counts as quiet


def settle(wait: float, quiet: float = QUIET) -> float:
    """Wait up to ``wait`` seconds for the machine to be quiet; how busy it was last."""
    deadline = time.monotonic() + wait
    busy = machine_busy()
    while busy > quiet and time.monotonic() < deadline:
        busy = machine_busy()
    return busy


def env_float(name: str, default: float) -> float:
    """A tuning knob from the environment (``BENCH_*``), for quick or longer runs."""
    value = os.environ.get(name)
    return float(value) if value else default


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def guard(benchmark: str, label: str, rows: list[Row], step: Callable[[], list[Row]]) -> bool:
    """Run one case; an error becomes an ``error`` row. False when it failed."""
    try:
        rows.extend(step())
    except Exception as error:
        traceback.print_exc()
        rows.append(Row(benchmark, label, "error", None, note=f"{type(error).__name__}: {error}"))
        return False
    return True
