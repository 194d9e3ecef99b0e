"""Start, watch and stop the host processes a cluster is made of.

Every process is started in a session (process group) of its own, its output goes to a
log file, and it is identified by PID *and* start time, so that a recycled PID is never
mistaken for (or killed as) ours. A reaper thread waits for each process launched here
as soon as it ends, so that none stays a zombie; it waits for those only, never for the
children others wait for themselves (``subprocess.run``, ``Popen.wait``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ProcessRecord:
    role: str
    pid: int
    start_ticks: int  # /proc/<pid>/stat field 22: start time in clock ticks since boot
    log: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcessRecord:
        return cls(**data)


def start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after it are space-separated.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def launch(
    role: str,
    argv: list[str],
    env: dict[str, str],
    log: Path,
    *,
    cwd: Path | None = None,
    pass_fds: tuple[int, ...] = (),
) -> ProcessRecord:
    log.parent.mkdir(parents=True, exist_ok=True)
    # Never through a link: a log is the platform's and is opened with its power.
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "ab") as output:
        process = subprocess.Popen(  # noqa: S603
            argv,
            env=env,
            cwd=cwd,
            pass_fds=pass_fds,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ticks = start_ticks(process.pid)
    if ticks is None:  # exited at once
        process.wait()
        raise RuntimeError(f"{role} exited at start (code {process.returncode}); see {log}")
    _follow(process)
    return ProcessRecord(role, process.pid, ticks, str(log))


# The processes launched here that have not been reaped, by pid.
_launched: dict[int, subprocess.Popen[bytes]] = {}
_launched_lock = threading.Lock()
_reaper: threading.Thread | None = None
REAP_INTERVAL_SECONDS = 0.1


def _follow(process: subprocess.Popen[bytes]) -> None:
    global _reaper
    with _launched_lock:
        _launched[process.pid] = process
        if _reaper is None:
            _reaper = threading.Thread(target=_reap_launched, name="process-reaper", daemon=True)
            _reaper.start()


def _reap_launched() -> None:
    """Reap every launched process that ended, until none is left to follow."""
    global _reaper
    while True:
        time.sleep(REAP_INTERVAL_SECONDS)
        with _launched_lock:
            for pid in [pid for pid, process in _launched.items() if process.poll() is not None]:
                del _launched[pid]
            if not _launched:
                _reaper = None  # the next launch starts another
                return


def is_alive(record: ProcessRecord) -> bool:
    """Running and still the same process (not a zombie, not a recycled PID)."""
    if start_ticks(record.pid) != record.start_ticks:
        return False
    try:
        state = Path(f"/proc/{record.pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def group_members(record: ProcessRecord) -> list[int]:
    """Live processes of the record's process group (it leads one), the leader included.

    A sandbox's leader (bubblewrap) may end before the processes it started: the group is
    what ends with them. Only processes started after the leader count (a group id that
    was reused long after is not ours)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, pgrp, started = fields[0], int(fields[2]), int(fields[19])
        if pgrp == record.pid and state != "Z" and started >= record.start_ticks:
            members.append(int(entry.name))
    return members


def _ended(record: ProcessRecord) -> bool:
    _reap(record.pid)
    return not is_alive(record) and not group_members(record)


def stop(record: ProcessRecord, grace: float = 10.0) -> None:
    """SIGTERM the process's group, then SIGKILL what is left of it after ``grace``
    seconds; returns once no process of the group is left."""
    if _ended(record):
        return
    _signal_group(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if _ended(record):
            return
        time.sleep(0.1)
    _signal_group(record.pid, signal.SIGKILL)
    for _ in range(50):
        if _ended(record):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{record.role} (pid {record.pid}) or its group survived SIGKILL")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)  # our processes lead their own group


def _reap(pid: int) -> None:
    # Our own children become zombies until waited for.
    with _launched_lock:
        process = _launched.get(pid)
        if process is not None:
            if process.poll() is not None:
                del _launched[pid]
            return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


_handed_out: dict[int, float] = {}
_ports_lock = threading.Lock()
PORT_QUARANTINE_SECONDS = 120.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now and not handed out by this process in the last two minutes.

    The port is only bound when the process it is for starts; without the quarantine,
    clusters launched together could be given the same port.
    """
    with _ports_lock:
        now = time.monotonic()
        for port, since in list(_handed_out.items()):
            if now - since > PORT_QUARANTINE_SECONDS:
                del _handed_out[port]
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((host, 0))
                port = int(probe.getsockname()[1])
            if port not in _handed_out:
                _handed_out[port] = now
                return port


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
