"""Converge one application: create, start warm capacity, grow on demand, auto-stop, stop.

``ApplicationController.handle`` is the reconciler's handler for applications. Like the
cluster controller it reads a snapshot, talks to the backend outside any transaction
and writes what it saw in one short transaction; only this code changes a status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio import lifecycle
from sparkstudio.backends.base import Backend, Health, LaunchRequest, Observation, State
from sparkstudio.backends.supervision import LookMemory, ScalingWords, decide_workers
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import Application, Studio
from sparkstudio.db.session import Database
from sparkstudio.lifecycle import APPLICATION, ApplicationStatus, Reason
from sparkstudio.processes.isolation import Isolation
from sparkstudio.processes.places import Place
from sparkstudio.serverless.capacity import Capacity, capacity_of
from sparkstudio.serverless.warm_pool import WarmTarget, job_session_url
from sparkstudio.services.applications import TARGET_STARTED, TARGET_STOPPED, TARGET_TERMINATED
from sparkstudio.services.connect_access import mint_for_jobs
from sparkstudio.services.job_runs import classic_workers_held, has_job_runs_in_progress
from sparkstudio.settings import Settings

log = logging.getLogger("sparkstudio.serverless")

ACTOR = "sparkstudio"
STARTING_POLL_SECONDS = 1.0
_S = ApplicationStatus
EXECUTOR_WORDS = ScalingWords(
    below="below the initial capacity of {n} executor worker(s)",
    above="above the maximum capacity's {n} executor worker(s)",
    backlog="{n} task(s) waiting for a core",
    idle="executor worker(s) idle for {s} s",
)


@dataclass(frozen=True)
class _Snapshot:
    id: str
    studio_id: str
    storage_location: str
    backend: str
    status: str
    target: str
    reason: Reason
    state: State | None
    capacity: Capacity
    auto_stop_seconds: int  # 0: auto-stop is off
    last_activity_at: datetime
    started_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, app: Application, storage_location: str) -> _Snapshot:
        return cls(
            id=app.id,
            studio_id=app.studio_id,
            storage_location=storage_location,
            backend=app.backend,
            status=app.status,
            target=app.target,
            reason=Reason(app.status_reason_code, app.status_reason_message),
            state=dict(app.state) if app.state is not None else None,
            capacity=capacity_of(app.initial_capacity, app.maximum_capacity),
            auto_stop_seconds=app.auto_stop_idle_timeout_minutes * 60
            if app.auto_stop_enabled
            else 0,
            last_activity_at=app.last_activity_at,
            started_at=app.started_at,
            updated_at=app.updated_at,
        )


class ApplicationController:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        backends: Callable[[str], Backend],
        isolation: Isolation,
        *,
        warm: Callable[[str, WarmTarget | None], None] | None = None,
    ) -> None:
        self.settings, self.database, self.backends = settings, database, backends
        self.isolation = isolation
        # Told after each look: where a started application's warm job runners run and
        # reach its driver (they are kept), or None (they end).
        self.warm = warm or (lambda application_id, target: None)
        self._memory: dict[str, LookMemory] = {}
        self._job_urls: dict[str, tuple[datetime | None, str]] = {}

    def handle(self, application_id: str) -> float | None:
        """Take one step towards the application's target; returns when to look again."""
        with self.database.session(write=False) as db:
            app = db.get(Application, application_id)
            if app is None or app.status == _S.TERMINATED:
                self._memory.pop(application_id, None)
                return None
            studio = db.get(Studio, app.studio_id)
            snap = _Snapshot.of(app, studio.storage_location if studio else "")
        if snap.status == _S.CREATING:
            with self._write(snap.id) as (db, app):
                lifecycle.transition(db, APPLICATION, app, _S.CREATED, Reason("CREATED"), ACTOR)
            return 0.0
        if snap.status in (_S.CREATED, _S.STOPPED):
            if snap.target == TARGET_TERMINATED:
                self._move(snap.id, _S.TERMINATED, Reason("USER_REQUEST", "deleted"))
                return None
            if snap.target == TARGET_STARTED:
                return self._launch(snap)
            return None
        backend = self.backends(snap.backend)
        place = self.isolation.studio_place(snap.studio_id)
        if snap.target != TARGET_STARTED or snap.status == _S.STOPPING:
            self._stop(snap, backend, place)
            return 0.0 if snap.target == TARGET_TERMINATED else None
        if snap.state is None:  # the launch was never recorded: launch again
            return self._launch(snap)
        return self._observe(snap, backend, place)

    @contextmanager
    def _write(self, application_id: str) -> Iterator[tuple[Session, Application]]:
        with self.database.transaction() as db:
            app = db.scalars(
                select(Application)
                .where(Application.id == application_id)
                .with_for_update(of=Application)
            ).one()
            yield db, app

    def _move(self, application_id: str, to: str, reason: Reason) -> None:
        with self._write(application_id) as (db, app):
            if APPLICATION.allowed(app.status, to):
                lifecycle.transition(db, APPLICATION, app, to, reason, ACTOR)

    def _stop_soon(self, application_id: str, reason: Reason) -> float:
        """Record why the application stops; the next look stops its processes."""
        with self._write(application_id) as (db, app):
            app.target = TARGET_STOPPED
            if APPLICATION.allowed(app.status, _S.STOPPING):
                lifecycle.transition(db, APPLICATION, app, _S.STOPPING, reason, ACTOR)
        return 0.0

    # -- start ----------------------------------------------------------------------------

    def _launch(self, snap: _Snapshot) -> float:
        backend = self.backends(snap.backend)
        if snap.status != _S.STARTING:
            with self._write(snap.id) as (db, app):
                reason = Reason("USER_REQUEST", "starting the initial capacity")
                lifecycle.transition(db, APPLICATION, app, _S.STARTING, reason, ACTOR)
                app.state = None  # the last run's pids: nothing of it runs
        problem = backend.check()
        if problem:
            return self._stop_soon(snap.id, Reason("BOOTSTRAP_FAILURE", problem))
        request = LaunchRequest(
            cluster_id=snap.id,
            spec=snap.capacity.spec(max(snap.auto_stop_seconds // 60, 1)),
            workdir=self.settings.home / "applications" / snap.id,
            event_log_dir=self.settings.event_log_dir.as_uri(),
            log_dir=self.settings.home / "logs" / "applications" / snap.id,
            place=self.isolation.studio_place(snap.studio_id),
            storage=self.isolation.studio_storage(snap.studio_id, snap.storage_location),
        )
        try:
            state = backend.start(request)
        except Exception as error:  # the backend stopped what it had started
            log.warning("application %s failed to start: %s", snap.id, error)
            return self._stop_soon(snap.id, Reason("BOOTSTRAP_FAILURE", f"start failed: {error}"))
        self._memory[snap.id] = LookMemory(adopted=True)
        with self._write(snap.id) as (_, app):
            app.state = state
            app.started_at, app.stopped_at = utcnow(), None
        return STARTING_POLL_SECONDS

    # -- observe --------------------------------------------------------------------------

    def _observe(self, snap: _Snapshot, backend: Backend, place: Place) -> float:
        observation = backend.observe(snap.state or {}, place)
        if observation.health is Health.FAILED:
            reason = Reason(observation.reason_code, observation.reason_message)
            return self._stop_soon(snap.id, reason)
        memory = self._memory.setdefault(snap.id, LookMemory())
        notes: list[Reason] = []
        if not memory.adopted:
            memory.adopted = True
            if snap.status == _S.STARTED:
                notes.append(
                    Reason("READOPTED", "the control plane restarted; its processes are alive")
                )
        state = observation.state
        now = utcnow()
        last_activity = snap.last_activity_at
        to: tuple[str, Reason] | None = None
        stop: Reason | None = None
        with self.database.session(write=False) as db:
            runs_active = has_job_runs_in_progress(db, snap.id)
            classic_held = classic_workers_held(db, snap.id)
        if observation.health is Health.READY:
            # A run waiting or running (spark-submit ones run beside the driver) is activity.
            busy = memory.saw_activity(observation) or runs_active
            if snap.status == _S.STARTING:
                last_activity = now  # the idle clock starts when the warm capacity is ready
                url = observation.endpoints.connect_url if observation.endpoints else ""
                to = (_S.STARTED, Reason("READY", f"warm: the driver at {url} ran a warm-up"))
            elif busy:
                last_activity = now
            idle = (now - last_activity).total_seconds()
            if snap.status == _S.STARTED and 0 < snap.auto_stop_seconds <= idle:
                stop = Reason(
                    "IDLE_TIMEOUT",
                    f"idle for {int(idle)} s (auto-stop after {snap.auto_stop_seconds // 60} min)",
                )
            elif observation.managed_workers:
                state = self._scale(snap, backend, place, observation, memory, notes, classic_held)
        elif snap.status == _S.STARTING and snap.started_at is not None:
            waited = (now - snap.started_at).total_seconds()
            if waited > self.settings.cluster_start_timeout_seconds:
                stop = Reason("BOOTSTRAP_TIMEOUT", f"not warm {int(waited)} s after the start")
        with self._write(snap.id) as (db, app):
            app.state = state
            alive = min(observation.workers_alive, len(backend.workers(state)))
            app.workers_running = alive
            if observation.endpoints is not None:
                # Users and runners connect through the platform's front, never directly.
                app.connect_url = self.isolation.public_connect_url
                app.ui_url = observation.endpoints.ui_url
            if last_activity > snap.last_activity_at:  # only news: never undo another write
                app.last_activity_at = max(app.last_activity_at, last_activity)
            for reason in notes:
                lifecycle.note(db, APPLICATION, app, reason, ACTOR)
            if to is not None and APPLICATION.allowed(app.status, to[0]):
                lifecycle.transition(db, APPLICATION, app, to[0], to[1], ACTOR)
        if stop is not None:
            self.warm(snap.id, None)
            return self._stop_soon(snap.id, stop)
        started = snap.status == _S.STARTED or (to is not None and to[0] == _S.STARTED)
        if started and observation.endpoints is not None and "token" in state:
            self.warm(snap.id, WarmTarget(self._job_url(snap, place), place))
        still_starting = to is None and snap.status == _S.STARTING
        return STARTING_POLL_SECONDS if still_starting else self.settings.cluster_poll_seconds

    def _scale(
        self,
        snap: _Snapshot,
        backend: Backend,
        place: Place,
        observation: Observation,
        memory: LookMemory,
        notes: list[Reason],
        classic_held: int,
    ) -> State:
        """Keep the warm executors (and those spark-submit runs hold), grow on a backlog up
        to the maximum, shrink when idle."""
        state = observation.state
        current = len(backend.workers(state))
        low = min(
            max(snap.capacity.executors_initial, 1) + classic_held, snap.capacity.executors_max
        )
        decision = decide_workers(
            memory,
            observation,
            current=current,
            low=low,
            high=snap.capacity.executors_max,
            cores_per_worker=snap.capacity.executor.cpu,
            idle_seconds=self.settings.scale_in_idle_seconds,
            words=EXECUTOR_WORDS
            if not classic_held
            else replace(
                EXECUTOR_WORDS,
                below="below the initial capacity and the "
                f"{classic_held} executor worker(s) held by spark-submit runs ({{n}} in all)",
            ),
        )
        desired, why, long_idle = decision.desired, decision.why, decision.long_idle
        if observation.lost_workers and desired == current:
            why = f"replacing lost worker(s) {', '.join(observation.lost_workers)}"
        if desired == current and not observation.lost_workers:
            return state
        state = backend.scale(state, desired, place, remove_first=long_idle)
        code = "SCALED_OUT" if desired > current else "SCALED_IN"
        if desired == current:
            code = "WORKER_REPLACED"
        notes.append(Reason(code, f"executor workers {current} -> {desired}: {why}"))
        memory.backlog_polls = 0
        return state

    def _job_url(self, snap: _Snapshot, place: Place) -> str:
        """The job runners' session URL, with a token minted once per start (the pool
        keeps its runners while it does not change)."""
        known = self._job_urls.get(snap.id)
        if known is None or known[0] != snap.started_at:
            token = mint_for_jobs(self.settings, snap.id)
            known = (snap.started_at, job_session_url(place.egress.connect_url, token))
            self._job_urls[snap.id] = known
        return known[1]

    # -- stop -----------------------------------------------------------------------------

    def _stop(self, snap: _Snapshot, backend: Backend, place: Place) -> None:
        self.warm(snap.id, None)  # its runners would only fail without the driver
        reason = snap.reason
        if snap.status != _S.STOPPING:
            reason = Reason("USER_REQUEST", "stopping every process")
            self._move(snap.id, _S.STOPPING, reason)
        if snap.state is not None:
            backend.stop(snap.state, place)  # raises if a process survives: retried
        with self._write(snap.id) as (db, app):
            lifecycle.transition(db, APPLICATION, app, _S.STOPPED, reason, ACTOR)
            app.stopped_at = utcnow()
            app.workers_running = 0
            app.connect_url = app.ui_url = ""
            if app.state is not None:
                # Keep pids and log paths for post-mortems, not the credentials.
                app.state = {k: v for k, v in app.state.items() if k != "token"}
        self._memory.pop(snap.id, None)
