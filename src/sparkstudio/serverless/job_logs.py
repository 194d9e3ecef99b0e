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

import shutil
from pathlib import Path
from typing import Literal

from sparkstudio.db.models import JobRun
from sparkstudio.errors import Invalid, NotFound
from sparkstudio.services.job_runs import attempt_log_prefix
from sparkstudio.services.workspace_servers import storage_options
from sparkstudio.settings import Settings
from sparkstudio.storage.stores import Store, plain_errors

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
    """The attempt's directory on this host (its script copy, logs, runner files)."""
    return settings.home / "applications" / run.application_id / "jobs" / run.id / str(attempt)


def read_log(settings: Settings, run: JobRun, attempt: int, stream: str, *, tail_bytes: int) -> str:
    """The last ``tail_bytes`` of one attempt's stdout or stderr."""
    if stream not in STREAMS:
        raise Invalid.field("stream", f"must be one of {', '.join(STREAMS)} (got {stream!r})")
    if not 1 <= attempt <= run.attempt:
        raise Invalid.field("attempt", f"must be from 1 to {run.attempt} (got {attempt})")
    tail = max(1, min(tail_bytes, MAX_READ_BYTES))
    local = attempt_dir(settings, run, attempt) / stream
    try:
        with local.open("rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - tail))
            return file.read().decode("utf-8", "replace")
    except FileNotFoundError:
        pass  # never here, or just kept in the log location (copied there before removed)
    url = f"{attempt_log_prefix(run, attempt)}/{DRIVER_FOLDER}/{stream}"
    store = Store.open(url, storage_options(settings, url))
    entry = store.stat(store.root)
    if entry is None or entry.is_dir:
        raise NotFound(f"job run {run.id} attempt {attempt} has no {stream} log (yet)")
    size = entry.size or 0
    with store.fs.open(store.root, "rb") as file:
        file.seek(max(0, size - tail))
        data: bytes = file.read()
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


def keep_logs(settings: Settings, run: JobRun, attempt: int) -> str:
    """Copy an ended attempt's logs (of each stream, at most the setting's bytes: its tail)
    to its log URI; the local copy goes once copied. Returns the URI."""
    local = attempt_dir(settings, run, attempt)
    prefix = attempt_log_prefix(run, attempt)
    store = Store.open(prefix, storage_options(settings, prefix))
    copies = [(local / s, f"{DRIVER_FOLDER}/{s}") for s in STREAMS if (local / s).is_file()]
    events = local / EVENT_LOG_FOLDER
    if events.is_dir():
        copies += [
            (path, f"{EVENT_LOG_FOLDER}/{path.relative_to(events).as_posix()}")
            for path in sorted(events.rglob("*"))
            if path.is_file()
        ]
    try:
        with plain_errors(prefix):
            for source, name in copies:
                if name.startswith(DRIVER_FOLDER):
                    source = tail_of(source, settings.job_log_max_bytes)
                target = store.join(name)
                store.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
                store.fs.put_file(str(source), target)
    finally:
        for stream in STREAMS:
            (local / f"{stream}.kept").unlink(missing_ok=True)
    for source, _ in copies:
        source.unlink(missing_ok=True)
    return prefix
