"""Stopping a launched process stops its whole group: a sandbox's leader (bubblewrap) ends
at once on SIGTERM while what it started may not."""

from __future__ import annotations

import time
from pathlib import Path

from sparkstudio.spark import processes


def test_stop_returns_only_once_the_whole_group_has_ended(tmp_path: Path) -> None:
    # The leader ends at SIGTERM; the process it left behind ignores SIGTERM.
    script = "(trap '' TERM; sleep 600) & exec sleep 600"
    record = processes.launch("leader", ["sh", "-c", script], {}, tmp_path / "log")
    deadline = time.monotonic() + 10
    while len(processes.group_members(record)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    members = processes.group_members(record)
    assert len(members) == 2, members
    started = time.monotonic()
    processes.stop(record, grace=1.0)
    assert processes.group_members(record) == []  # the stubborn one was killed too
    assert not processes.is_alive(record)
    assert time.monotonic() - started >= 1.0  # it was given its grace first
