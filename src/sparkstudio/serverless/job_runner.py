"""The process a job run's attempt runs in: ``python -m sparkstudio.serverless.job_runner``.

It talks to the control plane through files in its directory, so that a restarted
control plane can still follow it:

- ``ready``: written once warm (PySpark imported, a Spark Connect session has run a query);
- ``job.json``: the job, written by the control plane (a warm runner waits for it);
- ``exit.json``: ``{"code": …, "error": …, "started_at": …, "ended_at": …}``, written when
  the job ends: the run is metered from these times (the control plane may be down then).

``connect`` mode runs a PySpark script in this interpreter against the application's
warm Spark Connect driver; ``classic`` mode runs ``spark-submit`` (its argv is in the
job) on the application's workers. Either way the job's stdout and stderr go to the
files the job names. SIGTERM cancels: Connect operations are interrupted, spark-submit
is stopped, and the exit code is 143.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import select
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

from sparkstudio.runners import (
    EXIT_FILE,
    JOB_FILE,
    JOB_TAKEN_FILE,
    WARM_UP_FAILED_FILE,
    exit_record,
    write_json,
)

# sc://…/;token=…;user_id=… of the application's driver. Runs open their session before
# they know their job, so as one user per application; each run's Spark jobs carry a tag
# with the run's id.
CONNECT_URL_ENV = "SPARKSTUDIO_JOB_CONNECT_URL"
CONTROL_PLANE_FD_ENV = "SPARKSTUDIO_CONTROL_PLANE_FD"  # at end of file: the control plane is gone
JOB_POLL_SECONDS = 0.005  # how often a warm runner looks for its job
CANCELLED_CODE = 143


def _error_line(error: BaseException) -> str:
    lines = traceback.format_exception_only(type(error), error)
    return lines[-1].strip()[:2000] if lines else type(error).__name__


class Runner:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.child: subprocess.Popen[bytes] | None = None
        self.session: Any = None
        self.parent = os.getppid()
        self.started_at: float | None = None  # when it started its job

    def finish(self, code: int, error: str = "") -> None:
        try:
            write_json(self.folder / EXIT_FILE, exit_record(code, error, self.started_at))
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # its folder is gone (nobody will read it): it ends all the same
        finally:
            os._exit(code)  # no interpreter teardown: gRPC threads would only slow it

    def on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()
            try:
                self.child.wait(20)
            except subprocess.TimeoutExpired:
                self.child.kill()
        if self.session is not None:
            with contextlib.suppress(Exception):  # the process ends either way
                self.session.interruptAll()  # frees the driver's cores at once
        self.finish(CANCELLED_CODE, "cancelled")

    # -- connect mode ---------------------------------------------------------------------

    def warm_up(self) -> None:
        """Open the session the job will run in and run a query on it: a new Spark Connect
        session's first query pays for setting the session up on the driver (about a
        second), and a warm runner pays it before its job comes."""
        from pyspark.sql import SparkSession

        url = os.environ[CONNECT_URL_ENV]
        os.environ["SPARK_REMOTE"] = url  # SparkSession.builder.getOrCreate() comes here
        self.session = SparkSession.builder.remote(url).getOrCreate()
        if not (self.folder / JOB_FILE).exists():  # a cold runner's job runs at once
            self.session.range(1).collect()
        (self.folder / "ready").touch()

    def _control_plane_gone(self) -> bool:
        descriptor = os.environ.get(CONTROL_PLANE_FD_ENV)
        if descriptor is None:
            return os.getppid() != self.parent
        poller = select.poll()  # not select(): the descriptor's number may be above 1024
        poller.register(int(descriptor), select.POLLIN | select.POLLHUP)
        return bool(poller.poll(0))  # only the writer's end closing wakes it: nobody writes

    def wait_for_job(self) -> dict[str, Any]:
        path = self.folder / JOB_FILE
        while not path.exists():
            if self._control_plane_gone() and not path.exists():  # nobody will come
                os._exit(0)
            time.sleep(JOB_POLL_SECONDS)
        job: dict[str, Any] = json.loads(path.read_text())
        (self.folder / JOB_TAKEN_FILE).touch()  # from here on, the job is this runner's
        self.started_at = time.time()
        return job

    def run_connect(self, job: dict[str, Any]) -> None:
        self._redirect(job)
        try:
            # The run's Spark jobs carry its id: the Spark UI and interrupts find them by it.
            self.session.addTag(f"sparkstudio-run-{job['run']}")
            for key, value in job.get("conf", {}).items():
                try:
                    self.session.conf.set(key, value)
                except Exception as error:  # a static setting: say so, run anyway
                    print(f"sparkstudio: {key} not applied: {_error_line(error)}", file=sys.stderr)
            sys.argv = [job["script"], *job["args"]]
            sys.path.insert(0, str(Path(job["script"]).parent))
            runpy.run_path(job["script"], run_name="__main__")
        except SystemExit as stop:
            if stop.code is None or isinstance(stop.code, int):
                code = stop.code or 0
                self.finish(code, f"the script exited with code {code}" if code else "")
            print(stop.code, file=sys.stderr)  # sys.exit("message"), as Python shows it
            self.finish(1, str(stop.code)[:2000])
        except BaseException as error:
            traceback.print_exc()
            self.finish(1, _error_line(error))
        self.finish(0)

    # -- classic mode ---------------------------------------------------------------------

    def run_classic(self, job: dict[str, Any]) -> None:
        with (
            open(job["stdout"], "ab") as out,
            open(job["stderr"], "ab") as err,
        ):
            # The runner's own environment (its place's) with what spark-submit needs.
            env = {**os.environ, **job["env"]}
            self.started_at = time.time()
            self.child = subprocess.Popen(job["argv"], stdout=out, stderr=err, env=env)  # noqa: S603
            code = self.child.wait()
        error = "" if code == 0 else _last_error(Path(job["stderr"]), code)
        self.finish(code, error)

    @staticmethod
    def _redirect(job: dict[str, Any]) -> None:
        """The job's output (and its children's) goes to its log files."""
        for fd, name in ((1, "stdout"), (2, "stderr")):
            target = os.open(job[name], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(target, fd)
            os.close(target)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115


def _last_error(stderr: Path, code: int) -> str:
    """The most telling line of a failed spark-submit: its last exception or error."""
    try:
        lines = stderr.read_text(errors="replace").splitlines()[-400:]
    except OSError:
        lines = []
    for line in reversed(lines):
        text = line.strip()
        if "Error" in text or "Exception" in text:
            return text[:2000]
    return f"spark-submit exited with code {code}"


def main(argv: list[str]) -> None:
    mode, folder = argv[0], Path(argv[1])
    runner = Runner(folder)
    signal.signal(signal.SIGTERM, runner.on_sigterm)
    if mode == "classic":
        runner.run_classic(json.loads((folder / JOB_FILE).read_text()))
        return
    try:
        runner.warm_up()
    except Exception as error:
        (folder / WARM_UP_FAILED_FILE).write_text(_error_line(error))
        os._exit(3)
    runner.run_connect(runner.wait_for_job())


if __name__ == "__main__":
    main(sys.argv[1:])
