"""Converge one cluster: launch, watch, replace lost workers, scale, end when idle, stop.

``ClusterController.handle`` is the reconciler's handler for clusters. It reads the
cluster, talks to its backend outside any transaction (launching and stopping take
time), then writes what it saw in one short transaction. Only this code changes a
cluster's status; the API only writes its target and worker bounds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sparkstudio import lifecycle
from sparkstudio.backends.base import (
    Backend,
    Health,
    LaunchRequest,
    Observation,
    State,
    Worker,
)
from sparkstudio.backends.supervision import LookMemory, ScalingWords, decide_workers
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import Cluster, Studio, WorkerUsage
from sparkstudio.db.session import Database
from sparkstudio.lifecycle import CLUSTER, CLUSTER_ENDED, ClusterStatus, Reason
from sparkstudio.processes.isolation import Isolation
from sparkstudio.processes.places import Place
from sparkstudio.services.clusters import TARGET_TERMINATED, request_termination
from sparkstudio.settings import Settings
from sparkstudio.spark.history import HistoryServer
from sparkstudio.templates.spec import ClusterSpec

log = logging.getLogger("sparkstudio.clusters")

ACTOR = "sparkstudio"
# Endings that are not errors; every other termination code ends TERMINATED_WITH_ERRORS.
CLEAN_ENDINGS = frozenset({"USER_REQUEST", "IDLE_TIMEOUT"})
# A cluster goes back to WAITING only after this long without a running job, so that
# interactive work (a query every few seconds) does not flap between the two states.
WAITING_AFTER_SECONDS = 10.0
STARTING_POLL_SECONDS = 1.0
_S = ClusterStatus
WORKER_WORDS = ScalingWords(
    below="below the minimum of {n} workers",
    above="above the maximum of {n} workers",
    backlog="{n} task(s) waiting for a free core",
    idle="worker(s) without executors for {s} s",
)


@dataclass(frozen=True)
class _Snapshot:
    id: str
    studio_id: str
    storage_location: str
    backend: str
    status: str
    target: str
    state: State | None
    spec: dict[str, Any]
    workers_min: int
    workers_max: int
    idle_timeout_seconds: int
    termination_code: str
    termination_message: str
    created_at: datetime
    last_activity_at: datetime
    ready_at: datetime | None

    @classmethod
    def of(cls, cluster: Cluster, storage_location: str) -> _Snapshot:
        return cls(
            id=cluster.id,
            studio_id=cluster.studio_id,
            storage_location=storage_location,
            backend=cluster.backend,
            status=cluster.status,
            target=cluster.target,
            state=dict(cluster.state) if cluster.state is not None else None,
            spec=dict(cluster.spec),
            workers_min=cluster.workers_min,
            workers_max=cluster.workers_max,
            idle_timeout_seconds=cluster.idle_timeout_seconds,
            termination_code=cluster.termination_code,
            termination_message=cluster.termination_message,
            created_at=cluster.created_at,
            last_activity_at=cluster.last_activity_at,
            ready_at=cluster.ready_at,
        )


@dataclass
class _Outcome:
    """What one look decided, written in one transaction."""

    state: State
    to_status: str | None = None
    reason: Reason | None = None
    notes: list[Reason] = field(default_factory=list)
    started_workers: list[Worker] = field(default_factory=list)
    ended_workers: list[str] = field(default_factory=list)
    observation: Observation | None = None
    last_activity_at: datetime | None = None
    terminate: Reason | None = None


class ClusterController:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        backends: Callable[[str], Backend],
        history: HistoryServer | None,
        isolation: Isolation,
    ) -> None:
        self.settings, self.database = settings, database
        self.backends, self.history, self.isolation = backends, history, isolation
        self._memory: dict[str, LookMemory] = {}

    def log_dir(self, cluster_id: str) -> Path:
        return self.settings.home / "logs" / "clusters" / cluster_id

    # -- the handler --------------------------------------------------------------------

    def handle(self, cluster_id: str) -> float | None:
        """Take one step towards the cluster's target; returns when to look again."""
        with self.database.session(write=False) as db:
            cluster = db.get(Cluster, cluster_id)
            if cluster is None or cluster.status in CLUSTER_ENDED:
                self._memory.pop(cluster_id, None)
                return None
            studio = db.get(Studio, cluster.studio_id)
            snap = _Snapshot.of(cluster, studio.storage_location if studio else "")
        backend = self.backends(snap.backend)
        place = self.isolation.studio_place(snap.studio_id)
        if snap.target == TARGET_TERMINATED:
            self._terminate(snap, backend, place)
            return None
        if snap.state is None:
            return self._launch(snap, backend, place)
        return self._observe(snap, backend, place)

    @contextmanager
    def _write(self, cluster_id: str) -> Iterator[tuple[Session, Cluster]]:
        with self.database.transaction() as db:
            cluster = db.scalars(
                select(Cluster).where(Cluster.id == cluster_id).with_for_update(of=Cluster)
            ).one()
            yield db, cluster

    def _end_soon(self, cluster_id: str, code: str, message: str) -> float:
        with self._write(cluster_id) as (_, cluster):
            request_termination(cluster, code, message)
        return 0.0

    # -- launch -------------------------------------------------------------------------

    def _launch(self, snap: _Snapshot, backend: Backend, place: Place) -> float:
        problem = backend.check()
        if problem:
            return self._end_soon(snap.id, "BOOTSTRAP_FAILURE", problem)
        spec = ClusterSpec.model_validate(
            {**snap.spec, "workers_min": snap.workers_min, "workers_max": snap.workers_max}
        )
        if self.history is not None:
            self.history.url()  # started before the first event log is written
        request = LaunchRequest(
            cluster_id=snap.id,
            spec=spec,
            workdir=self.settings.clusters_dir / snap.id,
            event_log_dir=self.settings.event_log_dir.as_uri(),
            place=place,
            log_dir=self.log_dir(snap.id),
            storage=self.isolation.studio_storage(snap.studio_id, snap.storage_location),
        )
        try:
            state = backend.start(request)
        except Exception as error:  # the backend stopped what it had started
            log.warning("cluster %s failed to launch: %s", snap.id, error)
            return self._end_soon(snap.id, "BOOTSTRAP_FAILURE", f"launch failed: {error}")
        self._memory[snap.id] = LookMemory(adopted=True)
        now = utcnow()
        with self._write(snap.id) as (db, cluster):
            cluster.state = state
            for worker in backend.workers(state):
                db.add(_usage(cluster, worker, now))
        return STARTING_POLL_SECONDS

    # -- observe ------------------------------------------------------------------------

    def _observe(self, snap: _Snapshot, backend: Backend, place: Place) -> float | None:
        observation = backend.observe(snap.state or {}, place)
        if observation.health is Health.FAILED:
            return self._end_soon(snap.id, observation.reason_code, observation.reason_message)
        memory = self._memory.setdefault(snap.id, LookMemory())
        outcome = _Outcome(state=observation.state, observation=observation)
        if not memory.adopted:
            memory.adopted = True
            if snap.ready_at is not None:  # it was usable under an earlier control plane
                outcome.notes.append(
                    Reason(
                        "READOPTED",
                        "the control plane restarted; the cluster's processes are alive",
                    )
                )
        if observation.lost_workers and observation.managed_workers:
            self._replace_lost(backend, place, observation, outcome)
        now = utcnow()
        if observation.health is Health.READY:
            self._follow_activity(snap, observation, memory, outcome, now)
            if observation.managed_workers and outcome.terminate is None:
                self._scale(snap, backend, place, observation, memory, outcome)
        elif snap.status == _S.STARTING and observation.health is Health.BOOTSTRAPPING:
            outcome.to_status = _S.BOOTSTRAPPING
            outcome.reason = Reason(
                "BOOTSTRAPPING", "the master is up; workers and the driver are starting"
            )
        if snap.status in (_S.STARTING, _S.BOOTSTRAPPING) and outcome.to_status not in (
            _S.RUNNING,
            _S.WAITING,
        ):
            waited = (now - snap.created_at).total_seconds()
            if waited > self.settings.cluster_start_timeout_seconds:
                outcome.terminate = Reason(
                    "BOOTSTRAP_TIMEOUT",
                    f"not usable {int(waited)} s after launch; the logs are in "
                    f"{self.log_dir(snap.id)}",
                )
        self._apply(snap, backend, outcome)
        if outcome.terminate is not None:
            return 0.0
        starting = (outcome.to_status or snap.status) in (_S.STARTING, _S.BOOTSTRAPPING)
        return STARTING_POLL_SECONDS if starting else self.settings.cluster_poll_seconds

    def _replace_lost(
        self, backend: Backend, place: Place, observation: Observation, outcome: _Outcome
    ) -> None:
        started = _rescale(backend, place, outcome, len(backend.workers(outcome.state)))
        for name in observation.lost_workers:
            outcome.notes.append(Reason("WORKER_LOST", f"worker {name} is gone"))
        if started:
            names = ", ".join(w.name for w in started)
            outcome.notes.append(Reason("WORKER_REPLACED", f"started {names} in its place"))

    def _follow_activity(
        self,
        snap: _Snapshot,
        observation: Observation,
        memory: LookMemory,
        outcome: _Outcome,
        now: datetime,
    ) -> None:
        activity = observation.activity
        busy = memory.saw_activity(observation)
        last_activity = now if busy else snap.last_activity_at
        if snap.status in (_S.STARTING, _S.BOOTSTRAPPING):
            last_activity = now  # the idle clock starts when the cluster is usable
            outcome.to_status = _S.RUNNING if busy else _S.WAITING
            url = observation.endpoints.connect_url if observation.endpoints else ""
            outcome.reason = Reason("READY", f"usable: Spark Connect answers at {url}")
        elif snap.status == _S.WAITING and busy:
            jobs = activity.active_jobs if activity else 0
            outcome.to_status = _S.RUNNING
            message = (
                f"{jobs} Spark job(s) running" if jobs else "Spark jobs ran since the last look"
            )
            outcome.reason = Reason("SPARK_JOBS_RUNNING", message)
        elif snap.status == _S.RUNNING and not busy:
            quiet = (now - last_activity).total_seconds()
            if quiet >= WAITING_AFTER_SECONDS:
                outcome.to_status = _S.WAITING
                outcome.reason = Reason("NO_SPARK_JOBS", f"no Spark job for {int(quiet)} s")
        outcome.last_activity_at = last_activity
        status = outcome.to_status or snap.status
        timeout = snap.idle_timeout_seconds
        idle = (now - last_activity).total_seconds()
        if timeout > 0 and status == _S.WAITING and idle >= timeout:
            outcome.terminate = Reason(
                "IDLE_TIMEOUT",
                f"idle for {int(idle)} s (idle timeout {timeout} s): no Spark job or Connect work",
            )

    def _scale(
        self,
        snap: _Snapshot,
        backend: Backend,
        place: Place,
        observation: Observation,
        memory: LookMemory,
        outcome: _Outcome,
    ) -> None:
        """Managed scaling within [workers_min, workers_max] (one decision per look)."""
        current = len(backend.workers(outcome.state))
        decision = decide_workers(
            memory,
            observation,
            current=current,
            low=snap.workers_min,
            high=snap.workers_max,
            cores_per_worker=int(snap.spec.get("worker_cores", 1)) or 1,
            idle_seconds=self.settings.scale_in_idle_seconds,
            words=WORKER_WORDS,
        )
        desired, why, long_idle = decision.desired, decision.why, decision.long_idle
        if desired == current:
            return
        _rescale(backend, place, outcome, desired, remove_first=long_idle)
        code = "SCALED_OUT" if desired > current else "SCALED_IN"
        outcome.notes.append(Reason(code, f"workers {current} -> {desired}: {why}"))
        memory.backlog_polls = 0
        for name in outcome.ended_workers:
            memory.idle_since.pop(name, None)

    def _apply(self, snap: _Snapshot, backend: Backend, outcome: _Outcome) -> None:
        now = utcnow()
        observation = outcome.observation
        with self._write(snap.id) as (db, cluster):
            cluster.state = outcome.state
            if observation is not None:
                # Workers usable now: registered with the master and still ours after this
                # look (one started now counts once registered; one stopped now, at once).
                alive = observation.workers_alive
                if observation.managed_workers:  # lost workers were replaced in this look
                    alive = min(alive, len(backend.workers(outcome.state)))
                cluster.workers_running = alive
                if observation.endpoints is not None:
                    # Users connect through the platform's front, never to the driver.
                    cluster.connect_url = self.isolation.public_connect_url
                    cluster.ui_url = observation.endpoints.ui_url
                if observation.activity is not None and observation.activity.app_id:
                    cluster.app_id = observation.activity.app_id
            if outcome.last_activity_at is not None and (
                outcome.last_activity_at > snap.last_activity_at  # only news: never undo
            ):
                # Attached workspaces in use touch it too (see the workspace controller).
                cluster.last_activity_at = max(cluster.last_activity_at, outcome.last_activity_at)
            for reason in outcome.notes:
                lifecycle.note(db, CLUSTER, cluster, reason, ACTOR)
            if outcome.to_status and CLUSTER.allowed(cluster.status, outcome.to_status):
                reason = outcome.reason or Reason(outcome.to_status)
                lifecycle.transition(db, CLUSTER, cluster, outcome.to_status, reason, ACTOR)
                if outcome.to_status in (_S.RUNNING, _S.WAITING) and cluster.ready_at is None:
                    cluster.ready_at = now
            _close_usage(db, cluster.id, outcome.ended_workers, now)
            for worker in outcome.started_workers:
                db.add(_usage(cluster, worker, now))
            if outcome.terminate is not None and not _touched_since(snap, cluster, outcome):
                request_termination(cluster, outcome.terminate.code, outcome.terminate.message)

    # -- terminate ----------------------------------------------------------------------

    def _terminate(self, snap: _Snapshot, backend: Backend, place: Place) -> None:
        reason = Reason(
            snap.termination_code or "USER_REQUEST", snap.termination_message or "terminated"
        )
        if snap.status != _S.TERMINATING:
            with self._write(snap.id) as (db, cluster):
                lifecycle.transition(db, CLUSTER, cluster, _S.TERMINATING, reason, ACTOR)
        if snap.state is not None:
            backend.stop(snap.state, place)  # raises if a process survives: retried
        final = _S.TERMINATED if reason.code in CLEAN_ENDINGS else _S.TERMINATED_WITH_ERRORS
        now = utcnow()
        with self._write(snap.id) as (db, cluster):
            lifecycle.transition(db, CLUSTER, cluster, final, reason, ACTOR)
            cluster.ended_at = now
            cluster.workers_running = 0
            if cluster.state is not None:
                # Keep pids and log paths for post-mortems, not the credentials.
                cluster.state = {k: v for k, v in cluster.state.items() if k != "token"}
            _close_usage(db, cluster.id, None, now)
        self._memory.pop(snap.id, None)


def _rescale(
    backend: Backend,
    place: Place,
    outcome: _Outcome,
    workers: int,
    *,
    remove_first: Sequence[str] = (),
) -> list[Worker]:
    """Scale the outcome's state to ``workers``; record which workers ended and started."""
    before = {w.name for w in backend.workers(outcome.state)}
    outcome.state = backend.scale(outcome.state, workers, place, remove_first=remove_first)
    after = {w.name: w for w in backend.workers(outcome.state)}
    started = [w for name, w in after.items() if name not in before]
    outcome.ended_workers += [name for name in before if name not in after]
    outcome.started_workers += started
    return started


def _usage(cluster: Cluster, worker: Worker, now: datetime) -> WorkerUsage:
    return WorkerUsage(
        cluster_id=cluster.id,
        studio_id=cluster.studio_id,
        worker=worker.name,
        cores=worker.cores,
        memory_mib=worker.memory_mib,
        started_at=now,
    )


def _touched_since(snap: _Snapshot, cluster: Cluster, outcome: _Outcome) -> bool:
    """An idle ending is void if an attached notebook touched the cluster after our look."""
    if outcome.terminate is None or outcome.terminate.code != "IDLE_TIMEOUT":
        return False
    return cluster.last_activity_at > snap.last_activity_at


def _close_usage(db: Session, cluster_id: str, workers: list[str] | None, now: datetime) -> None:
    """End the metered lifetimes of ``workers`` (all of the cluster's when None)."""
    if workers is not None and not workers:
        return
    statement = (
        update(WorkerUsage)
        .where(WorkerUsage.cluster_id == cluster_id, WorkerUsage.ended_at.is_(None))
        .values(ended_at=now)
    )
    if workers is not None:
        statement = statement.where(WorkerUsage.worker.in_(workers))
    db.execute(statement)
