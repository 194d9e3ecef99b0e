"""Where a job run's logs are while it runs, and where they are kept after.

An attempt writes ``stdout`` and ``stderr`` (and, run with spark-submit, its Spark event
log under ``sparklogs/``) into its directory on this host; when it ends they are copied
to ``<log URI>/applications/<app>/jobs/<run>/attempts/<n>/SPARK_DRIVER/`` (event logs to
``…/attempts/<n>/sparklogs/``). Reads take the local copy while it exists, so a run's
log can be followed live, and the kept copy afterwards.

Of each stream at most ``SPARKSTUDIO_JOB_LOG_MAX_BYTES`` is kept: a longer one keeps its
tail from its first whole line, after a line saying how much was dropped.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Literal

from sparkstudio.db.models import JobRun
from sparkstudio.errors import Invalid, NotFound
from sparkstudio.processes.places import Place
from sparkstudio.services import user_locations
from sparkstudio.services.job_runs import attempt_log_prefix
from sparkstudio.settings import Settings
from sparkstudio.storage.confined import copy_out_beneath
from sparkstudio.storage.stores import plain_errors

Stream = Literal["stdout", "stderr"]
STREAMS: tuple[Stream, ...] = ("stdout", "stderr")
DRIVER_FOLDER = "SPARK_DRIVER"
EVENT_LOG_FOLDER = "sparklogs"
MAX_READ_BYTES = 1 << 20  # one MiB per read: longer logs are read by their tail
_LINE_SEARCH_BYTES = 64 * 1024  # how far into the tail its first whole line is looked for
TRUNCATED = (
    "[sparkstudio: the first {dropped} bytes of this log were dropped; the last {kept} "
    "bytes are kept (SPARKSTUDIO_JOB_LOG_MAX_BYTES)]\n"
)


def attempt_dir(settings: Settings, run: JobRun, attempt: int) -> Path:
    """The attempt's directory on this host (its script copy, logs, runner files): the
    run's identity's, in folders of the platform's."""
    return settings.home / "job-runs" / run.id / str(attempt)


def log_folder(settings: Settings, run: JobRun, attempt: int) -> Path:
    """Where an attempt's logs are while it runs: its runner's folder (a warm runner's
    sandbox holds nothing else) or its attempt folder."""
    state = run.state or {}
    # The attempt placed last (a row from before ``log_attempt`` was kept: the current one).
    if state.get("log_folder") and int(state.get("log_attempt", run.attempt)) == attempt:
        return Path(state["log_folder"])
    return attempt_dir(settings, run, attempt)


def create_log(path: Path) -> None:
    """An empty log for the run to append to (never through a link)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    os.close(os.open(path, flags, 0o600))


def open_log(path: Path) -> BinaryIO:
    """A log of the attempt's folder for reading: the run's identity owns the folder, so
    a link there is refused rather than followed with the platform's power."""
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb")


def read_log(
    settings: Settings,
    run: JobRun,
    attempt: int,
    stream: str,
    *,
    tail_bytes: int,
    roots: Sequence[str],
) -> str:
    """The last ``tail_bytes`` of one attempt's stdout or stderr (``roots``: the studio's
    locations, where the kept copies are)."""
    if stream not in STREAMS:
        raise Invalid.field("stream", f"must be one of {', '.join(STREAMS)} (got {stream!r})")
    if not 1 <= attempt <= run.attempt:
        raise Invalid.field("attempt", f"must be from 1 to {run.attempt} (got {attempt})")
    tail = max(1, min(tail_bytes, MAX_READ_BYTES))
    local = log_folder(settings, run, attempt) / stream
    try:
        with open_log(local) as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - tail))
            return file.read().decode("utf-8", "replace")
    except FileNotFoundError:
        pass  # never here, or just kept in the log location (copied there before removed)
    url = f"{attempt_log_prefix(run, attempt)}/{DRIVER_FOLDER}/{stream}"
    try:
        kept, size = user_locations.open_file(settings, url, roots)
    except (FileNotFoundError, IsADirectoryError):
        raise NotFound(f"job run {run.id} attempt {attempt} has no {stream} log (yet)") from None
    with kept:
        kept.seek(max(0, size - tail))
        data: bytes = kept.read()
    return data.decode("utf-8", "replace")


def tail_of(source: Path, limit: int) -> Path:
    """``source`` if it holds at most ``limit`` bytes; else a copy of its tail beside it
    (``<name>.kept``), from its first whole line, after a line saying what was dropped."""
    size = source.stat().st_size
    if size <= limit:
        return source
    kept = source.with_name(source.name + ".kept")
    with source.open("rb") as reader, kept.open("wb") as writer:
        reader.seek(size - limit)
        head = reader.read(min(limit, _LINE_SEARCH_BYTES))
        newline = head.find(b"\n")
        skip = newline + 1 if 0 <= newline < len(head) - 1 else 0  # else: one endless line
        dropped = size - limit + skip
        writer.write(TRUNCATED.format(dropped=dropped, kept=size - dropped).encode())
        writer.write(head[skip:])
        shutil.copyfileobj(reader, writer, 1 << 20)
    return kept


def keep_logs(
    settings: Settings,
    run: JobRun,
    attempt: int,
    *,
    folder: Path,
    roots: Sequence[str],
    owner: Place | None,
    event_logs: Path | None = None,
) -> str:
    """Copy an ended attempt's logs from ``folder`` (each stream at most the setting's
    bytes: its tail) and the event log copied to ``event_logs`` to its log URI, as the
    studio's (``owner``); the local copies go. Returns the URI."""
    local = folder
    prefix = attempt_log_prefix(run, attempt)
    with tempfile.TemporaryDirectory(dir=settings.home / "run") as taken:
        copies: list[tuple[Path, str]] = []
        for stream in STREAMS:
            try:  # through a descriptor that follows no link: the folder is the run's
                copy_out_beneath(local, stream, Path(taken) / stream)
            except (FileNotFoundError, PermissionError, IsADirectoryError):
                continue
            kept = tail_of(Path(taken) / stream, settings.job_log_max_bytes)
            copies.append((kept, f"{DRIVER_FOLDER}/{stream}"))
        if event_logs is not None and event_logs.is_dir():
            copies += [
                (path, f"{EVENT_LOG_FOLDER}/{path.relative_to(event_logs).as_posix()}")
                for path in sorted(event_logs.rglob("*"))
                if path.is_file() and not path.is_symlink()
            ]
        with plain_errors(prefix):
            for source, name in copies:
                user_locations.put(settings, source, f"{prefix}/{name}", roots, owner)
    for stream in STREAMS:
        (local / stream).unlink(missing_ok=True)
    if event_logs is not None:
        shutil.rmtree(event_logs, ignore_errors=True)
    return prefix
