"""Converge one job run: choose its runtime, queue it, place it, follow it, end it.

``JobRunController.handle`` is the reconciler's handler for job runs. A run moves
SUBMITTED → (QUEUED) → PENDING → SCHEDULED → RUNNING → SUCCESS | FAILED, or to
CANCELLED (through CANCELLING once a process runs). As elsewhere, it reads a snapshot,
acts outside any transaction, and writes each step in one short transaction; one look
takes a run as far as it can go at once, so a warm run is RUNNING within milliseconds.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio import lifecycle, runners
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import Application, JobRun, JobRunAttempt, Studio
from sparkstudio.db.session import Database
from sparkstudio.lifecycle import (
    JOB_RUN,
    JOB_RUN_ENDED,
    ApplicationStatus,
    JobRunStatus,
    Reason,
)
from sparkstudio.processes.isolation import Isolation, local_path
from sparkstudio.processes.places import Place
from sparkstudio.runners import ExitWatcher, stop_runner
from sparkstudio.serverless import classic, job_logs
from sparkstudio.serverless.capacity import Capacity, capacity_of
from sparkstudio.serverless.metering import account_attempt, classic_held, connect_held
from sparkstudio.serverless.submit import (
    CLASSIC,
    choose_runtime,
    parse_parameters,
    spark_conf,
)
from sparkstudio.serverless.warm_pool import WarmPool, launch_runner
from sparkstudio.services import user_locations
from sparkstudio.services.applications import TARGET_STARTED
from sparkstudio.services.job_runs import (
    HOLDING,
    TARGET_CANCELLED,
    attempt_log_prefix,
    classic_workers_held,
    connect_runs_holding,
    count_runs,
)
from sparkstudio.settings import Settings
from sparkstudio.spark.driver import read_activity
from sparkstudio.spark.home import find_spark_home
from sparkstudio.spark.processes import ProcessRecord
from sparkstudio.storage.stores import StoreRetries, StoreUnreachable

log = logging.getLogger("sparkstudio.serverless.jobs")

ACTOR = "sparkstudio"
_J = JobRunStatus
_A = ApplicationStatus
RUNNING_POLL_SECONDS = 1.0  # the exit watcher wakes a run sooner when it ends
WAITING_POLL_SECONDS = 0.5
RUNNER_POLL_SECONDS = 0.2  # a runner is ready within a second or two
MAX_PLACEMENTS = 3  # of one attempt, on runners that ended before they took its job
ACTIVE = frozenset({_J.PENDING, _J.SCHEDULED, _J.RUNNING, _J.CANCELLING})


@dataclass(frozen=True)
class _App:
    id: str
    studio_id: str
    roots: tuple[str, ...]  # the studio's locations
    status: str
    target: str
    connect_url: str
    ui_url: str
    workers_running: int
    token: str
    master_url: str
    secrets_file: str
    capacity: Capacity
    max_concurrent_runs: int
    queue_timeout_minutes: int

    @classmethod
    def of(cls, app: Application, studio: Studio) -> _App:
        state = app.state or {}
        scheduler = app.scheduler_configuration or {}
        return cls(
            id=app.id,
            studio_id=app.studio_id,
            roots=tuple(user_locations.studio_roots(studio)),
            status=app.status,
            target=app.target,
            connect_url=app.connect_url,
            ui_url=app.ui_url,
            workers_running=app.workers_running,
            token=str(state.get("token", "")),
            master_url=str(state.get("master_url", "")),
            secrets_file=str(state.get("secrets_file", "")),
            capacity=capacity_of(app.initial_capacity, app.maximum_capacity),
            max_concurrent_runs=int(scheduler.get("max_concurrent_runs", 15)),
            queue_timeout_minutes=int(scheduler.get("queue_timeout_minutes", 360)),
        )


class JobRunController:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        pool: WarmPool,
        watcher: ExitWatcher,
        wake: Callable[[str], None],
        isolation: Isolation,
        store_retries: StoreRetries = StoreRetries(),
    ) -> None:
        self.settings, self.database, self.pool, self.watcher = settings, database, pool, watcher
        self.wake = wake  # wakes another run (the next queued one when a run ends)
        self.isolation = isolation
        self.store_retries = store_retries  # for an entry point's store that does not answer

    def handle(self, job_run_id: str) -> float | None:
        """Take a run as far as it can go now; returns when to look again."""
        for _ in range(6):  # SUBMITTED → PENDING → SCHEDULED → RUNNING in one look
            with self.database.session(write=False) as db:
                run = db.get(JobRun, job_run_id)
                if run is None or run.status in JOB_RUN_ENDED:
                    return None
                app_row = db.get(Application, run.application_id)
                assert app_row is not None  # runs are never without their application
                studio = db.get(Studio, app_row.studio_id)
                assert studio is not None
                db.expunge(run)
                app = _App.of(app_row, studio)
            before = run.status
            delay = self._step(run, app)
            if delay is not None or self._status(job_run_id) == before:
                return delay
        return 0.0

    def _status(self, job_run_id: str) -> str:
        with self.database.session(write=False) as db:
            run = db.get(JobRun, job_run_id)
            return run.status if run is not None else ""

    def _step(self, run: JobRun, app: _App) -> float | None:
        if run.target == TARGET_CANCELLED:
            return self._cancel(run, app, Reason("USER_REQUEST", "cancelled on request"))
        if run.status == _J.SUBMITTED:
            return self._submitted(run, app)
        if run.status == _J.QUEUED:
            return self._queued(run, app)
        if run.status == _J.PENDING:
            return self._pending(run, app)
        if run.status in (_J.SCHEDULED, _J.RUNNING):
            return self._follow(run, app)
        if run.status == _J.CANCELLING:
            return self._cancel(run, app, Reason(run.status_reason_code, run.status_reason_message))
        return None

    @contextmanager
    def _write(self, job_run_id: str) -> Iterator[tuple[Session, JobRun]]:
        with self.database.transaction() as db:
            run = db.scalars(
                select(JobRun).where(JobRun.id == job_run_id).with_for_update(of=JobRun)
            ).one()
            yield db, run

    def _move(
        self, db: Session, run: JobRun, to: str, reason: Reason, at: datetime | None = None
    ) -> None:
        """``at``: when it happened, if not now (a runner that ended while we were down)."""
        lifecycle.transition(db, JOB_RUN, run, to, reason, ACTOR)
        attempt = db.get(JobRunAttempt, (run.id, run.attempt))
        if attempt is not None:
            attempt.status = to
            attempt.status_reason_code, attempt.status_reason_message = reason.code, reason.message
            if to == _J.RUNNING:
                attempt.started_at = utcnow()
            if to in JOB_RUN_ENDED:
                attempt.ended_at = at or utcnow()

    def _fail(self, run: JobRun, code: str, message: str) -> None:
        with self._write(run.id) as (db, row):
            self._end(db, row, _J.FAILED, Reason(code, message))

    def _end(
        self, db: Session, run: JobRun, to: str, reason: Reason, at: datetime | None = None
    ) -> None:
        now = at or utcnow()
        self._move(db, run, to, reason, now)
        run.ended_at = now
        if run.started_at is None:  # it never ran: all of its life was queued
            run.queued_seconds = (now - run.created_at).total_seconds()
        self._wake_next_queued(db, run.application_id)

    def _wake_next_queued(self, db: Session, application_id: str) -> None:
        waiting = db.scalars(
            select(JobRun.id)
            .where(JobRun.application_id == application_id, JobRun.status == _J.QUEUED)
            .order_by(JobRun.id)
            .limit(1)
        ).first()
        if waiting is not None:
            self.wake(waiting)

    # -- SUBMITTED: choose the runtime, queue or go -----------------------------------------

    def _place(self, app: _App) -> Place:
        return self.isolation.studio_place(app.studio_id)

    def _submitted(self, run: JobRun, app: _App) -> float | None:
        folder = job_logs.attempt_dir(self.settings, run, run.attempt)
        place = self._place(app)
        place.own(folder.parent, folder)
        script = folder / run.entry_point.rstrip("/").rsplit("/", 1)[-1]
        try:
            # Read from the studio's locations only, never through a link.
            user_locations.fetch(self.settings, run.entry_point, app.roots, script)
            place.give(script)
        except StoreUnreachable as error:
            return self._unreachable(run, str(error))
        except (FileNotFoundError, ValueError) as error:
            self._fail(run, "ENTRY_POINT_NOT_FOUND", f"{run.entry_point}: {error}")
            return None
        except OSError as error:  # no credentials, access denied
            self._fail(run, "ENTRY_POINT_UNREADABLE", f"{run.entry_point}: {error}")
            return None
        params = parse_parameters(run.spark_submit_parameters)
        runtime, why = choose_runtime(
            script, params, spark_conf(run.configuration_overrides, params)
        )
        with self._write(run.id) as (db, row):
            row.runtime, row.runtime_reason = runtime, why
            row.state = {"script": str(script)}
            queued = count_runs(db, run.application_id, {_J.QUEUED}, before=run.id)
            active = count_runs(db, run.application_id, ACTIVE)
            if queued or active >= app.max_concurrent_runs:
                message = (
                    f"{active} run(s) active of at most {app.max_concurrent_runs}; "
                    f"{queued} queued ahead of it"
                )
                self._move(db, row, _J.QUEUED, Reason("CONCURRENCY_LIMIT", message))
            else:
                self._move(db, row, _J.PENDING, self._pending_reason(app))
        return None

    def _unreachable(self, run: JobRun, error: str) -> float | None:
        """The entry point's store does not answer: a few more tries, each said once in
        the run's events and the log (one line), then the run fails saying why."""
        tried = int((run.state or {}).get("entry_point_tries", 0)) + 1
        wait = self.store_retries.wait_after(tried)
        if wait is None:
            self._fail(run, "ENTRY_POINT_UNREACHABLE", f"{error} ({tried} tries)")
            return None
        message = f"{error}; try {tried} of {self.store_retries.tries}, again in {wait:g} s"
        with self._write(run.id) as (db, row):
            row.state = {**(row.state or {}), "entry_point_tries": tried}
            row.status_reason_code, row.status_reason_message = "ENTRY_POINT_UNREACHABLE", message
            lifecycle.note(db, JOB_RUN, row, Reason("ENTRY_POINT_UNREACHABLE", message), ACTOR)
        log.warning("job run %s: %s", run.id, message)
        return wait

    @staticmethod
    def _pending_reason(app: _App) -> Reason:
        if app.status == _A.STARTED:
            return Reason("WAITING_FOR_CAPACITY", "placing it on the application's capacity")
        return Reason("APPLICATION_STARTING", f"the application is {app.status}; it is starting")

    # -- QUEUED: wait for a run slot, in order ------------------------------------------------

    def _queued(self, run: JobRun, app: _App) -> float | None:
        waited = (utcnow() - run.created_at).total_seconds()
        if waited > app.queue_timeout_minutes * 60:
            self._fail(
                run,
                "QUEUE_TIMEOUT",
                f"queued for {int(waited)} s, longer than the application's queue timeout "
                f"of {app.queue_timeout_minutes} min",
            )
            return None
        with self._write(run.id) as (db, row):
            first = count_runs(db, run.application_id, {_J.QUEUED}, before=run.id) == 0
            active = count_runs(db, run.application_id, ACTIVE)
            if first and active < app.max_concurrent_runs:
                self._move(db, row, _J.PENDING, self._pending_reason(app))
                return None
        return WAITING_POLL_SECONDS

    # -- PENDING: wait for the application and its capacity, then start the process ---------

    def _pending(self, run: JobRun, app: _App) -> float | None:
        if app.target != TARGET_STARTED:
            self._fail(
                run,
                "APPLICATION_STOPPED",
                f"application {app.id} is {app.status} and is not starting",
            )
            return None
        if app.status != _A.STARTED or not app.token:
            return WAITING_POLL_SECONDS
        if run.runtime == CLASSIC:
            return self._place_classic(run, app)
        return self._place_connect(run, app)

    def _waiting(self, run: JobRun, code: str, message: str) -> None:
        """Say why a PENDING run waits (once, not at every look)."""
        if run.status_reason_message == message:
            return
        with self._write(run.id) as (db, row):
            reason = Reason(code, message)
            row.status_reason_code, row.status_reason_message = code, message
            lifecycle.note(db, JOB_RUN, row, reason, ACTOR)

    def _attempt_files(self, run: JobRun, place: Place) -> tuple[Path, dict[str, Any]]:
        """The attempt's folder (the run's identity's), with its empty logs."""
        folder = job_logs.attempt_dir(self.settings, run, run.attempt)
        place.own(folder.parent, folder)
        for stream in job_logs.STREAMS:
            job_logs.create_log(folder / stream)
            place.give(folder / stream)
        state = dict(run.state or {})
        return folder, state

    def _place_connect(self, run: JobRun, app: _App) -> float | None:
        place = self._place(app)
        params = parse_parameters(run.spark_submit_parameters)
        conf = spark_conf(run.configuration_overrides, params, for_the_run=True)
        runner = self.pool.take(app.id)
        if runner is None:
            self._waiting(run, "WAITING_FOR_RUNNER", "job runners are starting for earlier runs")
            return RUNNER_POLL_SECONDS
        # The runner's sandbox holds its own folder only: the script and the logs go there.
        folder = runner.folder
        state = dict(run.state or {})
        script = folder / Path(state["script"]).name
        shutil.copyfile(state["script"], script, follow_symlinks=False)
        for stream in job_logs.STREAMS:
            job_logs.create_log(folder / stream)
        place.give(script, *(folder / stream for stream in job_logs.STREAMS))
        state["log_folder"], state["log_attempt"] = str(folder), run.attempt
        with self.database.session(write=False) as db:
            sharing = connect_runs_holding(db, app.id) + 1
        held = connect_held(
            app.capacity.driver, app.capacity.executor, app.workers_running, sharing
        )
        state["held"] = [workers.to_json() for workers in held]
        job = {
            "script": str(script),
            "args": run.entry_point_arguments,
            "conf": conf,
            "run": run.id,
            "stdout": str(folder / "stdout"),
            "stderr": str(folder / "stderr"),
        }
        self._scheduled(run, state, runner.folder, runner.record)
        runners.write_json(runner.folder / runners.JOB_FILE, job)
        place.give(runner.folder / runners.JOB_FILE)
        self._running(run, f"on the warm Spark Connect driver of {app.id}")
        return RUNNING_POLL_SECONDS

    def _place_classic(self, run: JobRun, app: _App) -> float | None:
        params = parse_parameters(run.spark_submit_parameters)
        conf = spark_conf(run.configuration_overrides, params, for_the_run=True)
        wanted = _positive(conf.get("spark.executor.instances", "1"))
        room = app.capacity.executors_max - max(app.capacity.executors_initial, 1)
        if wanted > room:
            self._fail(
                run,
                "CAPACITY_EXCEEDED",
                f"it needs {wanted} executor worker(s) beside the application's warm capacity; "
                f"its maximum capacity leaves room for {room}: raise maximum_capacity",
            )
            return None
        with self.database.session(write=False) as db:
            taken = classic_workers_held(db, app.id)
        if taken + wanted > room:
            message = f"{taken} of {room} executor worker(s) for spark-submit runs are taken"
            self._waiting(run, "WAITING_FOR_CAPACITY", message)
            return WAITING_POLL_SECONDS
        place = self._place(app)
        folder, state = self._attempt_files(run, place)
        state["log_folder"], state["log_attempt"] = str(folder), run.attempt
        state["workers"] = wanted
        held = classic_held(app.capacity.driver, app.capacity.executor, wanted)
        state["held"] = [workers.to_json() for workers in held]
        ui_port = place.free_port()
        state["ui_url"] = place.reach(ui_port).http_url  # the run's own driver UI
        argv = classic.spark_submit_argv(
            classic.SubmitRequest(
                name=run.name or run.id,
                master_url=app.master_url,
                capacity=app.capacity,
                params=params,
                conf=conf,
                script=state["script"],
                arguments=run.entry_point_arguments,
                executors=wanted,
                ui_port=ui_port,
                event_log_dir=self.settings.event_log_dir,
                properties_file=app.secrets_file,
            )
        )
        env = find_spark_home().environment()
        job = {
            "argv": argv,
            "env": env,
            "stdout": str(folder / "stdout"),
            "stderr": str(folder / "stderr"),
        }
        runner_folder = folder / "runner"
        place.own(runner_folder)
        runners.write_json(runner_folder / runners.JOB_FILE, job)
        place.give(runner_folder / runners.JOB_FILE)
        self._scheduled(run, state, runner_folder, None)
        # spark-submit's driver runs in the runner's sandbox: it writes its logs and event
        # log, and reads the studio's files it ships and the application's secret.
        writable = [folder, self.settings.event_log_dir]
        readable = [Path(app.secrets_file)] if app.secrets_file else []
        for root in app.roots:
            path = local_path(root)
            if path is not None and path.exists():
                readable.append(path)
        log = self.settings.home / "logs" / "job-runs" / f"{run.id}-{run.attempt}.log"
        runner = launch_runner(
            place, runner_folder, "classic", env, log, writable=writable, readable=readable
        )
        with self._write(run.id) as (_, row):
            row.state = {**(row.state or {}), "runner": runner.record.to_json()}
        self._running(run, f"spark-submit on the workers of {app.id}")
        return RUNNING_POLL_SECONDS

    def _scheduled(
        self, run: JobRun, state: dict[str, Any], folder: Path, record: ProcessRecord | None
    ) -> None:
        state["runner_folder"] = str(folder)
        if record is not None:
            state["runner"] = record.to_json()
        with self._write(run.id) as (db, row):
            row.state = state
            row.ui_url = str(state.get("ui_url", ""))
            self._move(db, row, _J.SCHEDULED, Reason("SCHEDULED", "its process is starting"))
        self.watcher.watch(run.id, folder / runners.EXIT_FILE)

    def _running(self, run: JobRun, where: str) -> None:
        with self._write(run.id) as (db, row):
            now = utcnow()
            row.started_at = now
            row.queued_seconds = (now - row.created_at).total_seconds()
            self._move(
                db, row, _J.RUNNING, Reason("RUNNING", f"attempt {row.attempt} runs {where}")
            )

    # -- SCHEDULED / RUNNING: follow the process ----------------------------------------------

    def _follow(self, run: JobRun, app: _App) -> float | None:
        if app.target != TARGET_STARTED:
            message = f"application {app.id} is stopping: its runs are cancelled"
            return self._cancel(run, app, Reason("APPLICATION_STOPPING", message))
        state = run.state or {}
        folder = Path(state.get("runner_folder", ""))
        record = ProcessRecord.from_json(state["runner"]) if "runner" in state else None
        result = runners.outcome(folder, record)
        if result is None:
            self.watcher.watch(run.id, folder / runners.EXIT_FILE)  # after a restart, too
            return self._check_timeout(run, app)
        never_taken = not (folder / runners.JOB_TAKEN_FILE).exists()
        warm = run.runtime != CLASSIC  # a runner of the pool
        lost = warm and runners.wrote_no_record(result) and never_taken
        if lost and self._place_again(run, str(result.get("error", ""))):
            return RUNNER_POLL_SECONDS
        code = int(result.get("code", -1))
        started, ended = runners.ran(result, utcnow())
        self._finish_attempt(run, app, code, str(result.get("error", "")), started, ended)
        return None

    def _place_again(self, run: JobRun, why: str) -> bool:
        """A warm runner ended before it took the run's job (its driver went away, it was
        killed): the job never ran, so the run goes back to PENDING on the same attempt,
        a few times at most. False when it may not (the attempt then ends as it did)."""
        with self._write(run.id) as (db, row):
            state = dict(row.state or {})
            placed = int(state.get("placements", 1))
            if row.status not in (_J.SCHEDULED, _J.RUNNING) or placed >= MAX_PLACEMENTS:
                return False
            for key in ("runner", "runner_folder", "log_folder", "log_attempt", "held"):
                state.pop(key, None)
            row.state = {**state, "placements": placed + 1}
            row.started_at = None
            message = f"its runner ended before it took the job ({why}); placing it again"
            self._move(db, row, _J.PENDING, Reason("RUNNER_LOST", message))
        if "runner_folder" in (run.state or {}):  # nothing of the job ran there
            shutil.rmtree((run.state or {})["runner_folder"], ignore_errors=True)
        return True

    def _check_timeout(self, run: JobRun, app: _App) -> float | None:
        limit = run.execution_timeout_minutes * 60
        if limit and run.started_at is not None:
            ran = (utcnow() - run.started_at).total_seconds()
            if ran > limit:
                minutes = run.execution_timeout_minutes
                message = f"ran {int(ran)} s, past its execution timeout of {minutes} min"
                return self._cancel(run, app, Reason("EXECUTION_TIMEOUT", message))
        return RUNNING_POLL_SECONDS

    def _finish_attempt(
        self,
        run: JobRun,
        app: _App,
        code: int,
        error: str,
        started: datetime | None,
        ended: datetime,
    ) -> None:
        """End the attempt at the times its runner recorded (``started``: None if it did
        not say; then it ran since it went RUNNING)."""
        where = f"; its logs are in {attempt_log_prefix(run, run.attempt)}"
        with self._write(run.id) as (db, row):
            if started is not None:
                row.started_at = started
                attempt = db.get(JobRunAttempt, (row.id, row.attempt))
                if attempt is not None:
                    attempt.started_at = started
            account_attempt(row, ended)
            if code == 0:
                reason = Reason("SUCCESS", f"the job succeeded{where}")
                self._end(db, row, _J.SUCCESS, reason, ended)
            elif row.attempt < row.max_attempts:
                self._retry(db, row, error or f"exit code {code}", ended)
            else:
                what = error or f"exit code {code}"
                self._end(db, row, _J.FAILED, Reason("JOB_FAILED", f"{what}{where}"), ended)
        self._after_attempt(run, app)

    def _after_attempt(self, run: JobRun, app: _App) -> None:
        """Off the run's critical path: its Spark application's id (for its history), and
        its logs (and a spark-submit run's event log) copied to its log location."""
        folder = job_logs.attempt_dir(self.settings, run, run.attempt)
        spark_app_id = ""
        event_logs: Path | None = None
        if run.runtime == CLASSIC:
            spark_app_id = classic.spark_app_id_in(folder / "stderr")
            event_logs = self.settings.home / "run" / "event-logs" / f"{run.id}-{run.attempt}"
            classic.copy_event_log(self.settings.event_log_dir, spark_app_id, event_logs)
        elif app.ui_url:
            activity = read_activity(app.ui_url)
            spark_app_id = activity.app_id if activity is not None else ""
        if spark_app_id:
            with self._write(run.id) as (_, row):
                row.spark_app_id = spark_app_id
        self._keep_logs(run, app, event_logs)
        # The runner's files (its logs were kept just now); rmtree follows no link.
        if "runner_folder" in (run.state or {}):
            shutil.rmtree((run.state or {})["runner_folder"], ignore_errors=True)

    @staticmethod
    def _retry(db: Session, run: JobRun, why: str, at: datetime) -> None:
        """The retry policy allows another attempt: this one ends FAILED (``at``), the run
        is PENDING."""
        ended = db.get(JobRunAttempt, (run.id, run.attempt))
        if ended is not None:
            ended.status, ended.ended_at = _J.FAILED, at
            ended.status_reason_code, ended.status_reason_message = "ATTEMPT_FAILED", why
        run.attempt += 1
        run.started_at = None
        db.add(
            JobRunAttempt(
                job_run_id=run.id,
                attempt=run.attempt,
                status=_J.PENDING,
                log_uri=attempt_log_prefix(run, run.attempt),
            )
        )
        message = (
            f"attempt {run.attempt - 1} failed ({why}); attempt {run.attempt} of {run.max_attempts}"
        )
        lifecycle.transition(db, JOB_RUN, run, _J.PENDING, Reason("RETRYING", message), ACTOR)

    def _keep_logs(self, run: JobRun, app: _App, event_logs: Path | None) -> str:
        try:
            return job_logs.keep_logs(
                self.settings,
                run,
                run.attempt,
                folder=job_logs.log_folder(self.settings, run, run.attempt),
                roots=app.roots,
                owner=self._place(app),
                event_logs=event_logs,
            )
        except (OSError, ValueError) as error:  # the run's outcome stands; the logs stay here
            log.warning("job run %s: logs not copied to %s: %s", run.id, run.log_uri, error)
            return ""

    # -- cancel -------------------------------------------------------------------------------

    def _cancel(self, run: JobRun, app: _App, reason: Reason) -> float | None:
        state = run.state or {}
        if run.status not in HOLDING:
            with self._write(run.id) as (db, row):
                self._end(db, row, _J.CANCELLED, reason)
            return None
        if run.status != _J.CANCELLING:
            with self._write(run.id) as (db, row):
                self._move(db, row, _J.CANCELLING, reason)
        if "runner" in state:
            stop_runner(ProcessRecord.from_json(state["runner"]))
        with self._write(run.id) as (db, row):
            account_attempt(row, utcnow())
            self._end(db, row, _J.CANCELLED, reason)
        self._after_attempt(run, app)
        return None


def _positive(text: str) -> int:
    try:
        return max(1, int(text))
    except ValueError:
        return 1
