"""What is kept of a job run's logs: at most SPARKSTUDIO_JOB_LOG_MAX_BYTES of each
stream, its tail, with a first line that says what was dropped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from sparkstudio.db.models import JobRun
from sparkstudio.serverless import job_logs
from sparkstudio.settings import Settings

LIMIT = 4096


def kept_logs(tmp_path: Path, stdout: bytes, stderr: bytes) -> Path:
    """Write an attempt's logs on this host, keep them; where they were kept."""
    settings = Settings(home=tmp_path / "home", job_log_max_bytes=LIMIT)
    (settings.home / "run").mkdir(parents=True)
    storage = tmp_path / "storage"
    storage.mkdir()
    run = JobRun(id="jr-0000000000000001", application_id="app-1", log_uri=storage.as_uri())
    folder = job_logs.attempt_dir(settings, run, 1)
    folder.mkdir(parents=True)
    (folder / "stdout").write_bytes(stdout)
    (folder / "stderr").write_bytes(stderr)
    prefix = job_logs.keep_logs(
        settings, run, 1, folder=folder, roots=[storage.as_uri()], owner=None
    )
    assert list(folder.iterdir()) == []  # the local copies (and any partial one) are gone
    return Path(prefix.removeprefix("file://")) / job_logs.DRIVER_FOLDER


def test_a_flood_keeps_its_last_whole_lines_and_says_so_in_its_first(tmp_path: Path) -> None:
    flood = b"".join(b"line %06d\n" % i for i in range(100_000))  # 1.2 MB
    kept = kept_logs(tmp_path, flood, b"a short stderr\n")
    note, tail = (kept / "stdout").read_bytes().split(b"\n", 1)
    assert len(tail) <= LIMIT and flood.endswith(tail)
    assert tail.startswith(b"line ") and tail.endswith(b"line 099999\n")  # whole lines
    dropped = len(flood) - len(tail)
    assert re.search(rb"first %d bytes of this log were dropped" % dropped, note), note
    assert b"SPARKSTUDIO_JOB_LOG_MAX_BYTES" in note
    assert (kept / "stderr").read_bytes() == b"a short stderr\n"  # within the limit: whole


def test_a_log_of_one_endless_line_keeps_its_last_bytes(tmp_path: Path) -> None:
    endless = b"x" * (3 * LIMIT)
    note, tail = (kept_logs(tmp_path, endless, b"") / "stdout").read_bytes().split(b"\n", 1)
    assert tail == b"x" * LIMIT and b"first %d bytes" % (2 * LIMIT) in note


@pytest.mark.parametrize("limit", [0, 1023, 11 << 30])
def test_the_limit_has_bounds(limit: int) -> None:
    with pytest.raises(ValidationError, match="job_log_max_bytes"):
        Settings(job_log_max_bytes=limit)
