"""Converge one notebook execution: ready its target, run it, keep its outputs, stop it.

START_PENDING → STARTING (the target is made ready, the notebook fetched) → RUNNING (a
runner process executes it with papermill) → FINISHING (outputs written) → FINISHED;
FAILING → FAILED when it cannot start or a cell fails; STOP_PENDING → STOPPING →
STOPPED on request or timeout. Outputs are written on every ending that ran.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio import lifecycle, runners
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import Application, Cluster, NotebookExecution, Studio, User
from sparkstudio.db.session import Database
from sparkstudio.lifecycle import (
    CLUSTER_ENDED,
    NOTEBOOK_EXECUTION,
    NOTEBOOK_EXECUTION_ENDED,
    ApplicationStatus,
    ClusterStatus,
    NotebookExecutionStatus,
    Reason,
)
from sparkstudio.processes.isolation import Isolation
from sparkstudio.runners import ExitWatcher, stop_runner
from sparkstudio.services import user_locations
from sparkstudio.services.connect_access import may_connect, mint_for_user
from sparkstudio.services.notebook_executions import TARGET_STOPPED, notebook_source_url
from sparkstudio.services.workspace_servers import contents_url
from sparkstudio.settings import Settings
from sparkstudio.spark.processes import ProcessRecord
from sparkstudio.storage.stores import StoreRetries, StoreUnreachable, plain_errors

log = logging.getLogger("sparkstudio.notebooks")

ACTOR = "sparkstudio"
_N = NotebookExecutionStatus
WAITING_POLL_SECONDS = 1.0
RUNNING_POLL_SECONDS = 2.0  # the exit watcher wakes it sooner when it ends
USABLE_CLUSTER = frozenset({ClusterStatus.RUNNING, ClusterStatus.WAITING})


@dataclass(frozen=True)
class _Target:
    """A target ready to run on (a Connect token of the execution's user and a name), or
    why not (yet)."""

    token: str = ""
    name: str = ""
    waiting: str = ""  # why it is not ready yet
    failed: str = ""  # why it never will be


class ExecutionController:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        watcher: ExitWatcher,
        isolation: Isolation,
        store_retries: StoreRetries = StoreRetries(),
    ) -> None:
        self.settings, self.database, self.watcher = settings, database, watcher
        self.isolation = isolation
        self.store_retries = store_retries  # for a notebook's store that does not answer

    def handle(self, execution_id: str) -> float | None:
        for _ in range(4):  # START_PENDING → STARTING → RUNNING in one look when it can
            with self.database.session(write=False) as db:
                execution = db.get(NotebookExecution, execution_id)
                if execution is None or execution.status in NOTEBOOK_EXECUTION_ENDED:
                    return None
                db.expunge(execution)
            delay = self._step(execution)
            if delay is not None or self._status(execution_id) == execution.status:
                return delay
        return 0.0

    def _status(self, execution_id: str) -> str:
        with self.database.session(write=False) as db:
            execution = db.get(NotebookExecution, execution_id)
            return execution.status if execution is not None else ""

    def _step(self, execution: NotebookExecution) -> float | None:
        if execution.target == TARGET_STOPPED or execution.status in (_N.STOP_PENDING, _N.STOPPING):
            return self._stop(execution, Reason("USER_REQUEST", "stopped on request"))
        if execution.status == _N.START_PENDING:
            self._move(execution.id, _N.STARTING, Reason("STARTING", "readying its target"))
            return None
        if execution.status == _N.STARTING:
            return self._start(execution)
        if execution.status == _N.RUNNING:
            return self._follow(execution)
        return None

    @contextmanager
    def _write(self, execution_id: str) -> Iterator[tuple[Session, NotebookExecution]]:
        with self.database.transaction() as db:
            execution = db.scalars(
                select(NotebookExecution)
                .where(NotebookExecution.id == execution_id)
                .with_for_update(of=NotebookExecution)
            ).one()
            yield db, execution

    def _move(self, execution_id: str, to: str, reason: Reason) -> None:
        with self._write(execution_id) as (db, execution):
            if NOTEBOOK_EXECUTION.allowed(execution.status, to):
                lifecycle.transition(db, NOTEBOOK_EXECUTION, execution, to, reason, ACTOR)
                if to in NOTEBOOK_EXECUTION_ENDED:
                    execution.ended_at = utcnow()

    def _fail(self, execution_id: str, code: str, message: str) -> None:
        self._move(execution_id, _N.FAILING, Reason(code, message))
        self._move(execution_id, _N.FAILED, Reason(code, message))

    def folder(self, execution: NotebookExecution) -> Path:
        return self.settings.home / "notebook-executions" / execution.id

    # -- STARTING -------------------------------------------------------------------------

    def _target(self, execution: NotebookExecution) -> _Target:
        with self.database.session(write=False) as db:
            user = db.scalars(select(User).where(User.name == execution.created_by)).first()
            if user is None or user.disabled:
                return _Target(failed=f"user {execution.created_by} is gone or disabled")
            if execution.target_kind == "CLUSTER":
                cluster = db.get(Cluster, execution.target_id)
                if cluster is None or cluster.status in CLUSTER_ENDED:
                    status = cluster.status if cluster is not None else "gone"
                    return _Target(failed=f"cluster {execution.target_id} is {status}")
                if cluster.status not in USABLE_CLUSTER or not cluster.state:
                    return _Target(waiting=f"cluster {cluster.name} is {cluster.status}")
                refused = may_connect(db, user, cluster)
                if refused is not None:
                    return _Target(failed=refused)
                token = mint_for_user(self.settings, user.name, user.id, cluster.id)
                return _Target(token=token, name=cluster.name)
            app = db.get(Application, execution.target_id)
            if app is None or app.target != "STARTED":
                status = app.status if app is not None else "gone"
                return _Target(failed=f"application {execution.target_id} is {status}")
            if app.status != ApplicationStatus.STARTED or not app.state:
                return _Target(waiting=f"application {app.name} is {app.status}")
            token = mint_for_user(self.settings, user.name, user.id, app.id)
            return _Target(token=token, name=app.name)

    def _start(self, execution: NotebookExecution) -> float | None:
        target = self._target(execution)
        if target.failed:
            self._fail(execution.id, "TARGET_UNAVAILABLE", target.failed)
            return None
        if target.waiting:
            with self._write(execution.id) as (db, row):
                if row.status_reason_message != target.waiting:  # once, not every look
                    row.status_reason_code = "WAITING_FOR_TARGET"
                    row.status_reason_message = target.waiting
                    lifecycle.note(
                        db,
                        NOTEBOOK_EXECUTION,
                        row,
                        Reason("WAITING_FOR_TARGET", target.waiting),
                        ACTOR,
                    )
            return WAITING_POLL_SECONDS
        place = self.isolation.studio_place(execution.studio_id)
        folder = self.folder(execution)
        place.own(folder, folder / "input", folder / "output")
        name = (execution.notebook_path or execution.notebook_uri).rsplit("/", 1)[-1]
        local = folder / "input" / name
        try:
            self._fetch(execution, local)
        except StoreUnreachable as error:
            return self._unreachable(execution, str(error))
        except (FileNotFoundError, ValueError) as error:
            self._fail(execution.id, "NOTEBOOK_NOT_FOUND", f"{name}: {error}")
            return None
        except OSError as error:  # no credentials, access denied
            self._fail(execution.id, "NOTEBOOK_UNREADABLE", f"{name}: {error}")
            return None
        job = {
            "input": str(local),
            "output": str(folder / "output" / name),
            "html": str(folder / "output" / (name.removesuffix(".ipynb") + ".html")),
            "parameters": execution.parameters,
            "environment": execution.environment,
            "user": execution.created_by,
            "target_id": execution.target_id,
            "target_name": target.name,
            "connect_url": place.egress.connect_url,
            "token": target.token,
        }
        runners.write_json(folder / runners.JOB_FILE, job)
        place.give(local, folder / runners.JOB_FILE)
        argv = [sys.executable, "-m", "sparkstudio.notebooks.runner", str(folder)]
        (folder / runners.EXIT_FILE).unlink(missing_ok=True)
        log = self.settings.home / "logs" / "notebook-executions" / f"{execution.id}.log"
        record = place.launch("notebook", argv, {}, log, writable=[folder], cwd=folder)
        self.watcher.watch(execution.id, folder / runners.EXIT_FILE)
        with self._write(execution.id) as (db, row):
            row.state = {"runner": record.to_json(), "job": job}
            row.started_at = utcnow()
            reason = Reason("RUNNING", f"on {execution.target_kind.lower()} {target.name}")
            lifecycle.transition(db, NOTEBOOK_EXECUTION, row, _N.RUNNING, reason, ACTOR)
        return RUNNING_POLL_SECONDS

    def _unreachable(self, execution: NotebookExecution, error: str) -> float | None:
        """The notebook's store does not answer: a few more tries, each said once in the
        execution's events and the log (one line), then it fails saying why."""
        tried = int((execution.state or {}).get("notebook_tries", 0)) + 1
        wait = self.store_retries.wait_after(tried)
        if wait is None:
            self._fail(execution.id, "NOTEBOOK_UNREACHABLE", f"{error} ({tried} tries)")
            return None
        message = f"{error}; try {tried} of {self.store_retries.tries}, again in {wait:g} s"
        with self._write(execution.id) as (db, row):
            row.state = {**(row.state or {}), "notebook_tries": tried}
            row.status_reason_code, row.status_reason_message = "NOTEBOOK_UNREACHABLE", message
            reason = Reason("NOTEBOOK_UNREACHABLE", message)
            lifecycle.note(db, NOTEBOOK_EXECUTION, row, reason, ACTOR)
        log.warning("execution %s: %s", execution.id, message)
        return wait

    def _fetch(self, execution: NotebookExecution, local: Path) -> None:
        """The notebook, from the studio's locations or the workspace's files only."""
        with self.database.session(write=False) as db:
            studio = db.get(Studio, execution.studio_id)
            assert studio is not None
            url = notebook_source_url(studio, execution)
            if execution.workspace_id is not None:
                roots = [contents_url(studio.storage_location, execution.workspace_id)]
            else:
                roots = user_locations.studio_roots(studio)
        user_locations.fetch(self.settings, url, roots, local)

    # -- RUNNING --------------------------------------------------------------------------

    def _follow(self, execution: NotebookExecution) -> float | None:
        state = execution.state or {}
        folder = self.folder(execution)
        record = ProcessRecord.from_json(state["runner"]) if "runner" in state else None
        result = runners.outcome(folder, record)
        if result is None:
            self.watcher.watch(execution.id, folder / runners.EXIT_FILE)
            limit = execution.timeout_minutes * 60
            started = execution.started_at
            if limit and started and (utcnow() - started).total_seconds() > limit:
                message = f"ran past its timeout of {execution.timeout_minutes} min"
                return self._stop(execution, Reason("TIMEOUT", message))
            return RUNNING_POLL_SECONDS
        code, error = int(result.get("code", -1)), str(result.get("error", ""))
        ending = _N.FINISHING if code == 0 else _N.FAILING
        reason = Reason("WRITING_OUTPUTS", "writing the executed notebook and its HTML")
        self._move(execution.id, ending, reason if code == 0 else Reason("CELL_FAILED", error))
        written = self._keep_outputs(execution)
        if code == 0:
            self._move(execution.id, _N.FINISHED, Reason("FINISHED", f"outputs in {written}"))
        else:
            code_name = "CELL_FAILED" if code == 1 else "EXECUTION_FAILED"
            self._move(execution.id, _N.FAILED, Reason(code_name, error or f"exit code {code}"))
        return None

    def _keep_outputs(self, execution: NotebookExecution) -> str:
        """Copy the executed notebook and its HTML to the output location."""
        job = (execution.state or {}).get("job", {})
        prefix = f"{execution.output_location}/{execution.id}"
        uris: dict[str, str] = {}
        place = self.isolation.studio_place(execution.studio_id)
        try:
            roots = self._studio_roots(execution)
            with plain_errors(prefix):
                for key, column in (("output", "output_notebook_uri"), ("html", "output_html_uri")):
                    local = Path(job.get(key, ""))
                    if job.get(key) and local.is_file() and not local.is_symlink():
                        target = f"{prefix}/{local.name}"
                        user_locations.put(self.settings, local, target, roots, place)
                        uris[column] = target
        except (OSError, ValueError) as error:
            log.warning("execution %s: outputs not written to %s: %s", execution.id, prefix, error)
            return ""
        with self._write(execution.id) as (_, row):
            for column, uri in uris.items():
                setattr(row, column, uri)
        shutil.rmtree(self.folder(execution), ignore_errors=True)
        return prefix

    def _studio_roots(self, execution: NotebookExecution) -> list[str]:
        with self.database.session(write=False) as db:
            studio = db.get(Studio, execution.studio_id)
            assert studio is not None
            return user_locations.studio_roots(studio)

    # -- stop -----------------------------------------------------------------------------

    def _stop(self, execution: NotebookExecution, reason: Reason) -> float | None:
        if execution.status not in (_N.STOP_PENDING, _N.STOPPING):
            if not NOTEBOOK_EXECUTION.allowed(execution.status, _N.STOP_PENDING):
                return None
            self._move(execution.id, _N.STOP_PENDING, reason)
        else:
            reason = Reason(execution.status_reason_code, execution.status_reason_message)
        self._move(execution.id, _N.STOPPING, reason)
        state = execution.state or {}
        if "runner" in state:
            stop_runner(ProcessRecord.from_json(state["runner"]))  # its kernel with it
            self._keep_outputs(execution)
        self._move(execution.id, _N.STOPPED, reason)
        return None
