"""Run the benchmarks: ``python bench/run.py [name-filter ...]``.

Discovers every ``bench/bench_*.py``, calls its ``run() -> list[Row]``, prints one table
for all of them and writes the rows to ``bench/results/latest.json`` (and a copy named
after the start time). A filter keeps the modules whose name (``bench_api`` or ``api``)
contains it. A benchmark that raises is reported as an ``error`` row; the others still run.

``BENCH_WAIT_IDLE=<seconds>`` waits up to that long for the machine to be idle first (a
busy machine, e.g. a test suite running beside, lowers every number); the busy share
measured before the run is printed and kept in the JSON.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rich.console import Console
from rich.table import Table
from rich.text import Text

from common import BENCH_DIR, REPO_ROOT, Row, env_float, machine_busy

RESULTS = BENCH_DIR / "results" / "latest.json"
# Share of all cores busy before the run above which the numbers are not to be trusted.
BUSY = 0.15


def discover(filters: list[str]) -> list[str]:
    names = sorted(path.stem for path in BENCH_DIR.glob("bench_*.py"))
    if filters:
        names = [name for name in names if any(f in name for f in filters)]
    return names


def run_one(name: str, console: Console) -> list[Row]:
    short = name.removeprefix("bench_")
    started = time.perf_counter()
    console.log(f"[bold]{name}[/bold]: running")
    try:
        rows = list(importlib.import_module(name).run())
    except Exception as error:  # a broken benchmark must not hide the others
        console.log(traceback.format_exc())
        rows = [Row(short, "-", "error", None, note=f"{type(error).__name__}: {error}")]
    console.log(f"[bold]{name}[/bold]: done in {time.perf_counter() - started:.1f} s")
    return rows


def _number(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def table(rows: list[Row]) -> Table:
    out = Table(title="sparkstudio benchmarks", show_lines=False)
    for column, justify in (
        ("benchmark", "left"),
        ("case", "left"),
        ("metric", "left"),
        ("value", "right"),
        ("unit", "left"),
        ("baseline", "right"),
        ("ratio", "right"),
        ("note", "left"),
    ):
        out.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    previous: str | None = None
    for row in rows:
        if previous is not None and row.benchmark != previous:
            out.add_section()
        previous = row.benchmark
        cells = (
            row.benchmark,
            row.case,
            row.metric,
            _number(row.value),
            row.unit,
            _number(row.baseline),
            _number(row.ratio, 3),
            row.note,
        )
        out.add_row(*(Text(cell) for cell in cells))  # Text: "[...]" in a case is not markup
    return out


def source() -> dict[str, object]:
    """The commit measured, and the files under src/ that differ from it (uncommitted)."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], capture_output=True, text=True, cwd=REPO_ROOT, check=False
            )
        except OSError:
            return ""
        return done.stdout.strip()

    dirty = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "src_changes": dirty}


def machine() -> dict[str, object]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _loadavg() -> list[float]:
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def main(argv: list[str]) -> int:
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=220)
    names = discover(argv)
    if not names:
        console.print(f"no benchmark matches {argv}")
        return 2
    started = datetime.now(UTC)
    busy_before = machine_busy()
    deadline = time.monotonic() + env_float("BENCH_WAIT_IDLE", 0)
    while busy_before > BUSY and time.monotonic() < deadline:
        console.log(f"machine {busy_before:.0%} busy; waiting for it to calm down")
        busy_before = machine_busy(5.0)
    if busy_before > BUSY:
        console.print(
            f"[bold red]warning:[/] the machine is already {busy_before:.0%} busy "
            "(all cores) before the run: other load will lower the numbers; see `top`."
        )
    measured = source()
    rows: list[Row] = []
    for name in names:
        rows.extend(run_one(name, console))
    console.print(table(rows))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    document = (
        json.dumps(
            {
                "started_at": started.isoformat(timespec="seconds"),
                "machine": machine(),
                "source": measured,
                "busy_before": round(busy_before, 3),
                "loadavg_after": _loadavg(),
                "benchmarks": names,
                "rows": [dataclasses.asdict(row) for row in rows],
            },
            indent=2,
        )
        + "\n"
    )
    RESULTS.write_text(document)
    # ... and a copy per run, so that a later run does not overwrite it.
    RESULTS.with_name(f"{started:%Y%m%dT%H%M%SZ}.json").write_text(document)
    changes = measured["src_changes"]
    console.print(
        f"commit {measured['commit']}"
        + (f" with {len(changes)} uncommitted changes under src/" if changes else "")  # type: ignore[arg-type]
        + f"; machine busy before the run: {busy_before:.0%} of {os.cpu_count()} cores; "
        f"rows written to {RESULTS}"
    )
    return 1 if any(row.metric == "error" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
