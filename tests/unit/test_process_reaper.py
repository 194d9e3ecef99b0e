"""Processes the control plane launched are reaped as they end: no zombie outlives its
end by more than a moment, and nothing else's exit status is taken."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sparkstudio.spark import processes


def state_of(pid: int) -> str:
    """The process's state letter (Z: a zombie), or '' once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rindex(")") + 2]


def test_a_launched_process_that_ends_is_reaped_within_a_moment(tmp_path: Path) -> None:
    record = processes.launch(
        "short", [sys.executable, "-c", "import time; time.sleep(0.3)"], {}, tmp_path / "log"
    )
    deadline = time.monotonic() + 10
    while processes.is_alive(record):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    ended = time.monotonic()  # it is a zombie (or gone) from here on
    while state_of(record.pid) == "Z" and time.monotonic() - ended < 5:
        time.sleep(0.01)
    assert state_of(record.pid) == "", f"still a zombie {time.monotonic() - ended:.1f} s after"
    assert time.monotonic() - ended < 2


def test_other_children_keep_their_exit_status(tmp_path: Path) -> None:
    launched = processes.launch("sleeper", ["sleep", "0.2"], {}, tmp_path / "log")
    other = subprocess.Popen(["sh", "-c", "exit 7"])
    time.sleep(0.6)  # the reaper looks several times meanwhile
    assert other.wait(5) == 7
    assert not processes.is_alive(launched)
    assert subprocess.run(["sh", "-c", "exit 3"], check=False).returncode == 3
