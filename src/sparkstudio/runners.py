"""Runners: processes a controller starts for one piece of work (a job run's attempt, a
notebook execution), and the files they and the control plane exchange.

A runner reads its ``job.json`` and writes ``exit.json`` (``{"code": …, "error": …,
"started_at": …, "ended_at": …}``) when it ends. Files, not pipes: a restarted control
plane still follows a runner it did not start, and takes the times the runner recorded
(not when it looked: it may have been down meanwhile).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sparkstudio.spark import processes
from sparkstudio.spark.processes import ProcessRecord

EXIT_FILE = "exit.json"
JOB_FILE = "job.json"
JOB_TAKEN_FILE = "job-taken"  # written as a runner takes its job, before it starts it
WARM_UP_FAILED_FILE = "warm-up-failed"  # a runner that could not warm up says why here


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically: a reader never sees half of it. A fresh temporary file
    and a rename: a link planted in the folder is replaced, never written through."""
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(descriptor, "w") as out:
        out.write(json.dumps(data))
    os.replace(partial, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON at ``path`` — never through a link: runner folders are their identity's."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(descriptor, "rb") as file:
            data: dict[str, Any] = json.loads(file.read(1 << 20))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def exit_record(code: int, error: str, started_at: float | None) -> dict[str, Any]:
    """What a runner writes as it ends: ``started_at`` (when it started its job) and
    ``ended_at`` (now) in seconds since the epoch."""
    return {"code": code, "error": error, "started_at": started_at, "ended_at": time.time()}


def ran(result: dict[str, Any], now: datetime) -> tuple[datetime | None, datetime]:
    """When the runner started its job (None if it did not say) and when it ended, as it
    recorded them: a runner that ended without a word ended, for all we know, ``now``."""

    def at(key: str) -> datetime | None:
        value = result.get(key)
        if not isinstance(value, int | float):
            return None
        return min(datetime.fromtimestamp(value, tz=UTC), now)  # never in the future

    ended = at("ended_at") or now
    started = at("started_at")
    return (min(started, ended) if started is not None else None), ended


def wrote_no_record(result: dict[str, Any]) -> bool:
    """An outcome the runner did not write (it ended without a word)."""
    return "ended_at" not in result


def outcome(folder: Path, record: ProcessRecord | None) -> dict[str, Any] | None:
    """What the runner in ``folder`` ended with; None while it runs. An ended runner is
    reaped."""
    result = read_json(folder / EXIT_FILE)
    if result is None:
        if record is not None and processes.is_alive(record):
            return None
        result = read_json(folder / EXIT_FILE) or {  # it may have ended just now
            "code": -1,
            "error": _last_word(folder),
        }
    if record is not None:
        stop_runner(record, grace=2.0)
    return result


def _last_word(folder: Path) -> str:
    """Why a runner that wrote no exit record ended, as far as its folder tells."""
    try:
        descriptor = os.open(folder / WARM_UP_FAILED_FILE, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(descriptor, "rb") as file:
            why = file.read(2000).decode(errors="replace").strip()
    except OSError:
        return "its process ended without a word (killed?)"
    return f"its runner could not open its Spark Connect session: {why}"


def stop_runner(record: ProcessRecord, grace: float = 10.0) -> None:
    """SIGTERM (a running job is interrupted and says so), then SIGKILL after ``grace``."""
    with contextlib.suppress(RuntimeError):  # checked by the caller: is_alive
        processes.stop(record, grace)


class ExitWatcher:
    """Wakes a controller the moment a runner it follows writes ``exit.json``.

    One thread looks at every followed runner's folder every few milliseconds: cheaper
    than a thread per runner, and it follows runners this process did not start.
    """

    def __init__(self, wake: Callable[[str], None], interval: float = 0.005) -> None:
        self.wake, self.interval = wake, interval
        self._watched: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, key: str, exit_file: Path) -> None:
        with self._lock:
            self._watched[key] = exit_file

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="runner-exit-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                ended = [job for job, path in self._watched.items() if path.exists()]
                for job in ended:
                    del self._watched[job]
            for job in ended:
                self.wake(job)
