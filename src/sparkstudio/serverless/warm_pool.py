"""Warm job runners: per started application, processes that have imported PySpark and
run a query through its Spark Connect driver, each waiting for one job.

A run taken from the pool starts in milliseconds instead of the seconds an interpreter
needs to import PySpark and open its first session. Each runner runs one job and ends
(jobs share nothing in-process); the pool starts a replacement at once. Idle runners
end with the application, or by themselves when the control plane is gone.

Runners run in their application's place (its studio's sandbox), each in a sandbox of
its own: a job sees its own folder, not the other runners' or the platform's. They reach
the application's driver through the platform's Connect front, as the jobs user, with a
token the application controller minted for this start of the application.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sparkstudio.ids import new_id
from sparkstudio.processes.places import Place
from sparkstudio.runners import stop_runner
from sparkstudio.serverless.job_runner import CONNECT_URL_ENV, CONTROL_PLANE_FD_ENV
from sparkstudio.spark import processes
from sparkstudio.spark.processes import ProcessRecord

RUNNER_MODULE = "sparkstudio.serverless.job_runner"
RETRY_SECONDS = 10.0  # after a runner failed its warm-up
log = logging.getLogger("sparkstudio.serverless.pool")


JOB_USER = "sparkstudio-jobs"  # the Spark Connect user of every job session


def job_session_url(connect_url: str, token: str) -> str:
    """How the runners of an application reach its driver (through the Connect front)."""
    return f"{connect_url}/;token={token};user_id={JOB_USER}"


@dataclass(frozen=True)
class WarmTarget:
    """Where an application's runners run, and how they reach its driver."""

    url: str  # the job session URL (its token changes with each start of the application)
    place: Place


@dataclass(frozen=True)
class Runner:
    folder: Path
    record: ProcessRecord

    def alive(self) -> bool:
        return processes.is_alive(self.record)

    def ready(self) -> bool:
        return (self.folder / "ready").exists()


def launch_runner(
    place: Place,
    folder: Path,
    mode: str,
    env: dict[str, str],
    log: Path,
    *,
    writable: list[Path] | None = None,
    readable: list[Path] | None = None,
    control_plane_fd: int | None = None,
) -> Runner:
    """A runner in ``folder`` (its own, made here), writing its output to ``log`` (the
    platform's); ``control_plane_fd`` reads end of file once the control plane is gone."""
    place.own(folder)
    argv = [sys.executable, "-m", RUNNER_MODULE, mode, str(folder)]
    fds: tuple[int, ...] = ()
    if control_plane_fd is not None:
        env = {**env, CONTROL_PLANE_FD_ENV: str(control_plane_fd)}
        fds = (control_plane_fd,)
    record = place.launch(
        f"runner-{folder.name}",
        argv,
        env,
        log,
        writable=[folder, *(writable or [])],
        readable=readable or [],
        cwd=folder,
        pass_fds=fds,
    )
    return Runner(folder, record)


class WarmPool:
    def __init__(self, root: Path, size: int, logs: Path) -> None:
        """Runner folders under ``root`` (the platform's), their output under ``logs``."""
        self.root, self.size, self.logs = root, size, logs
        # Idle runners read this pipe: its writing end closes with the control plane (however
        # it ends), and they end too (in a sandbox, their parent process outlives it).
        self._alive_read, self._alive_write = os.pipe()
        self._alive_pipe = os.fstat(self._alive_read).st_ino
        self._idle: dict[str, list[Runner]] = {}
        self._targets: dict[str, WarmTarget] = {}
        self._failed_at: dict[str, float] = {}
        self._launching: dict[str, int] = {}
        self._cold: dict[str, list[Runner]] = {}  # started for a run, not warm yet
        self._lock = threading.Lock()

    def _launch(self, application_id: str, target: WarmTarget) -> Runner:
        name = new_id("rn")
        folder = self.root / application_id / name
        folder.parent.mkdir(parents=True, exist_ok=True)
        log = self.logs / application_id / f"{name}.log"
        env = {CONNECT_URL_ENV: target.url}
        return launch_runner(
            target.place, folder, "connect", env, log, control_plane_fd=self._alive_fd()
        )

    def _alive_fd(self) -> int:
        """The pipe's reading end for a new runner. Made again if it is not the pipe any
        more (a descriptor closed twice elsewhere in this process closed it, and its number
        may now name another file): a runner handed that would take it for the control
        plane's end and leave at once, without a word."""
        with self._lock:
            if not all(
                _is_pipe(fd, self._alive_pipe) for fd in (self._alive_read, self._alive_write)
            ):
                log.error(
                    "the warm runners' pipe (descriptors %d, %d) was closed by something "
                    "else in this process; making a new one",
                    self._alive_read,
                    self._alive_write,
                )
                self._alive_read, self._alive_write = os.pipe()
                self._alive_pipe = os.fstat(self._alive_read).st_ino
            return self._alive_read

    def keep_warm(self, application_id: str, target: WarmTarget, *, refill: bool = False) -> None:
        """Top the application's pool up to its size (its runners reach its driver at
        ``target.url``).

        ``refill``: after a runner was taken; the application may have stopped since."""
        url = target.url
        with self._lock:
            known = self._targets.get(application_id)
            if refill and (known is None or known.url != url):
                return
            if known is None or known.url != url:  # a new start: the old runners are stale
                self._drop_locked(application_id)
                self._targets[application_id] = target
            idle = self._idle.setdefault(application_id, [])
            for runner in [r for r in idle if not r.alive()]:  # its warm-up failed
                self._failed_at[application_id] = time.monotonic()
                log.warning("a warm runner of %s ended: see %s", application_id, runner.record.log)
                stop_runner(runner.record)  # reaps it
                idle.remove(runner)
            # A driver that fails warm-ups is not asked again at once.
            failed = time.monotonic() - self._failed_at.get(application_id, -RETRY_SECONDS)
            launching = self._launching.get(application_id, 0)
            missing = self.size - len(idle) - launching if failed >= RETRY_SECONDS else 0
            self._launching[application_id] = launching + max(missing, 0)
        for _ in range(max(missing, 0)):
            try:
                runner = self._launch(application_id, target)
            finally:
                with self._lock:
                    self._launching[application_id] -= 1
            with self._lock:
                known = self._targets.get(application_id)
                if known is not None and known.url == url:
                    self._idle.setdefault(application_id, []).append(runner)
                else:  # dropped meanwhile
                    stop_runner(runner.record)

    def take(self, application_id: str) -> Runner | None:
        """A runner for one job: a warm one if any (ready ones first), else a new one, or
        None while as many new ones as the pool holds are still starting (on a burst of
        runs, interpreters starting together would only slow each other down), or while
        the application's controller has not said where its runners reach it."""
        picked: Runner | None = None
        with self._lock:
            target = self._targets.get(application_id)
            if target is None:
                return None
            idle = [r for r in self._idle.get(application_id, []) if r.alive()]
            if idle:
                idle.sort(key=lambda r: not r.ready())
                picked = idle.pop(0)
                self._idle[application_id] = idle
            else:
                cold = [
                    r for r in self._cold.get(application_id, []) if r.alive() and not r.ready()
                ]
                self._cold[application_id] = cold
                if len(cold) >= max(self.size, 1):
                    return None
        if picked is None:
            picked = self._launch(application_id, target)
            with self._lock:
                self._cold.setdefault(application_id, []).append(picked)
        if self.size:  # a replacement starts now, not at the application's next look
            threading.Thread(
                target=self.keep_warm,
                args=(application_id, target),
                kwargs={"refill": True},
                name="warm-runners",
                daemon=True,
            ).start()
        return picked

    def drop(self, application_id: str) -> None:
        """End the application's idle runners (it stopped)."""
        with self._lock:
            self._drop_locked(application_id)

    def _drop_locked(self, application_id: str) -> None:
        self._cold.pop(application_id, None)  # they run jobs: their runs end them
        for runner in self._idle.pop(application_id, []):
            stop_runner(runner.record)
            shutil.rmtree(runner.folder, ignore_errors=True)
        self._targets.pop(application_id, None)

    def idle_runners(self, application_id: str) -> list[Runner]:
        """The application's runners waiting for a job."""
        with self._lock:
            return list(self._idle.get(application_id, []))

    def applications(self) -> list[str]:
        with self._lock:
            return list(self._idle)

    def close(self) -> None:
        with self._lock:
            for application_id in list(self._idle):
                self._drop_locked(application_id)


def _is_pipe(descriptor: int, inode: int) -> bool:
    try:
        found = os.fstat(descriptor)
    except OSError:
        return False
    return stat.S_ISFIFO(found.st_mode) and found.st_ino == inode
