"""Status, target and transitions, shared by every long-lived resource.

Each resource kind declares a :class:`TransitionTable` of allowed moves. Every status
change goes through :func:`transition`, which checks the table, records the reason on
the resource and appends an :class:`~sparkstudio.db.models.Event` (the audit trail and
the timeline in the UI).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from sqlalchemy.orm import Session

from sparkstudio.db.models import Event
from sparkstudio.errors import Conflict


class Stateful(Protocol):
    id: str
    studio_id: str
    status: str
    target: str
    status_reason_code: str
    status_reason_message: str


@dataclass(frozen=True)
class Reason:
    code: str
    message: str = ""


@dataclass(frozen=True)
class TransitionTable:
    kind: str
    moves: Mapping[str, frozenset[str]]
    initial: str
    terminal: frozenset[str] = field(default_factory=frozenset)

    def allowed(self, current: str, to: str) -> bool:
        return to in self.moves.get(current, frozenset())

    def check(self, resource: Stateful, to: str) -> None:
        if not self.allowed(resource.status, to):
            raise Conflict(
                f"{self.kind} {resource.id} is {resource.status} and cannot become {to}",
                reason="InvalidState",
            )


def record_event(
    db: Session,
    table: TransitionTable,
    resource: Stateful,
    from_status: str | None,
    reason: Reason,
    actor: str,
) -> Event:
    event = Event(
        resource_kind=table.kind,
        resource_id=resource.id,
        studio_id=resource.studio_id,
        from_status=from_status,
        to_status=resource.status,
        reason_code=reason.code,
        reason_message=reason.message,
        actor=actor,
    )
    db.add(event)
    return event


def initialize(
    db: Session, table: TransitionTable, resource: Stateful, reason: Reason, actor: str
) -> Event:
    """Give a new resource its initial status and record its creation."""
    resource.status = resource.target = table.initial
    resource.status_reason_code, resource.status_reason_message = reason.code, reason.message
    return record_event(db, table, resource, None, reason, actor)


def transition(
    db: Session, table: TransitionTable, resource: Stateful, to: str, reason: Reason, actor: str
) -> Event:
    """Move ``resource`` to status ``to`` if the table allows it; raise Conflict otherwise."""
    table.check(resource, to)
    previous = resource.status
    resource.status = to
    resource.status_reason_code, resource.status_reason_message = reason.code, reason.message
    return record_event(db, table, resource, previous, reason, actor)


class WorkspaceStatus(StrEnum):
    STOPPED = "STOPPED"
    STARTING = "STARTING"
    READY = "READY"
    ATTACHED = "ATTACHED"
    IDLE = "IDLE"
    STOPPING = "STOPPING"
    DELETING = "DELETING"


_W = WorkspaceStatus
WORKSPACE = TransitionTable(
    kind="workspace",
    initial=_W.STOPPED,
    terminal=frozenset({_W.DELETING}),
    moves={
        _W.STOPPED: frozenset({_W.STARTING, _W.DELETING}),
        _W.STARTING: frozenset({_W.READY, _W.ATTACHED, _W.STOPPING, _W.STOPPED}),
        _W.READY: frozenset({_W.ATTACHED, _W.IDLE, _W.STOPPING, _W.STOPPED}),
        _W.ATTACHED: frozenset({_W.READY, _W.IDLE, _W.STOPPING, _W.STOPPED}),
        _W.IDLE: frozenset({_W.READY, _W.ATTACHED, _W.STOPPING, _W.STOPPED}),
        _W.STOPPING: frozenset({_W.STOPPED}),
        _W.DELETING: frozenset(),
    },
)


def note(
    db: Session, table: TransitionTable, resource: Stateful, reason: Reason, actor: str
) -> Event:
    """Record something that happened to ``resource`` without a status change (e.g. scaling)."""
    return record_event(db, table, resource, resource.status, reason, actor)


class ClusterStatus(StrEnum):
    """EMR's cluster states: RUNNING runs Spark jobs, WAITING is ready and idle."""

    STARTING = "STARTING"
    BOOTSTRAPPING = "BOOTSTRAPPING"
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    TERMINATED_WITH_ERRORS = "TERMINATED_WITH_ERRORS"


_C = ClusterStatus
CLUSTER_ENDED = frozenset({_C.TERMINATED, _C.TERMINATED_WITH_ERRORS})
CLUSTER = TransitionTable(
    kind="cluster",
    initial=_C.STARTING,
    terminal=CLUSTER_ENDED,
    moves={
        _C.STARTING: frozenset({_C.BOOTSTRAPPING, _C.RUNNING, _C.WAITING, _C.TERMINATING}),
        _C.BOOTSTRAPPING: frozenset({_C.RUNNING, _C.WAITING, _C.TERMINATING}),
        _C.RUNNING: frozenset({_C.WAITING, _C.TERMINATING}),
        _C.WAITING: frozenset({_C.RUNNING, _C.TERMINATING}),
        _C.TERMINATING: frozenset({_C.TERMINATED, _C.TERMINATED_WITH_ERRORS}),
        _C.TERMINATED: frozenset(),
        _C.TERMINATED_WITH_ERRORS: frozenset(),
    },
)


class ApplicationStatus(StrEnum):
    """EMR Serverless's application states."""

    CREATING = "CREATING"
    CREATED = "CREATED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    TERMINATED = "TERMINATED"


_A = ApplicationStatus
APPLICATION = TransitionTable(
    kind="application",
    initial=_A.CREATING,
    terminal=frozenset({_A.TERMINATED}),
    moves={
        _A.CREATING: frozenset({_A.CREATED}),
        _A.CREATED: frozenset({_A.STARTING, _A.TERMINATED}),
        _A.STARTING: frozenset({_A.STARTED, _A.STOPPING}),
        _A.STARTED: frozenset({_A.STOPPING}),
        _A.STOPPING: frozenset({_A.STOPPED}),
        _A.STOPPED: frozenset({_A.STARTING, _A.TERMINATED}),
        _A.TERMINATED: frozenset(),
    },
)


class JobRunStatus(StrEnum):
    """EMR Serverless's job run states."""

    SUBMITTED = "SUBMITTED"
    QUEUED = "QUEUED"  # waiting for a run slot of the application (max concurrent runs)
    PENDING = "PENDING"  # waiting for the application to start and for capacity
    SCHEDULED = "SCHEDULED"  # given its capacity; its process is starting
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"


_J = JobRunStatus
JOB_RUN_ENDED = frozenset({_J.SUCCESS, _J.FAILED, _J.CANCELLED})
JOB_RUN = TransitionTable(
    kind="job run",
    initial=_J.SUBMITTED,
    terminal=JOB_RUN_ENDED,
    moves={
        _J.SUBMITTED: frozenset({_J.QUEUED, _J.PENDING, _J.FAILED, _J.CANCELLED}),
        _J.QUEUED: frozenset({_J.PENDING, _J.FAILED, _J.CANCELLED}),
        _J.PENDING: frozenset({_J.SCHEDULED, _J.FAILED, _J.CANCELLED}),
        _J.SCHEDULED: frozenset({_J.RUNNING, _J.PENDING, _J.FAILED, _J.CANCELLING}),
        # Back to PENDING: the attempt failed and the retry policy allows another one.
        _J.RUNNING: frozenset({_J.SUCCESS, _J.FAILED, _J.PENDING, _J.CANCELLING}),
        _J.CANCELLING: frozenset({_J.CANCELLED}),
        _J.SUCCESS: frozenset(),
        _J.FAILED: frozenset(),
        _J.CANCELLED: frozenset(),
    },
)


class NotebookExecutionStatus(StrEnum):
    """EMR's notebook execution states."""

    START_PENDING = "START_PENDING"
    STARTING = "STARTING"  # its compute is being made ready, its notebook fetched
    RUNNING = "RUNNING"
    FINISHING = "FINISHING"  # its outputs are being written
    FINISHED = "FINISHED"
    FAILING = "FAILING"
    FAILED = "FAILED"
    STOP_PENDING = "STOP_PENDING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"


_N = NotebookExecutionStatus
NOTEBOOK_EXECUTION_ENDED = frozenset({_N.FINISHED, _N.FAILED, _N.STOPPED})
_STOPPABLE = frozenset({_N.STOP_PENDING, _N.FAILING})
NOTEBOOK_EXECUTION = TransitionTable(
    kind="notebook execution",
    initial=_N.START_PENDING,
    terminal=NOTEBOOK_EXECUTION_ENDED,
    moves={
        _N.START_PENDING: frozenset({_N.STARTING}) | _STOPPABLE,
        _N.STARTING: frozenset({_N.RUNNING}) | _STOPPABLE,
        _N.RUNNING: frozenset({_N.FINISHING}) | _STOPPABLE,
        _N.FINISHING: frozenset({_N.FINISHED}) | _STOPPABLE,
        _N.FAILING: frozenset({_N.FAILED}),
        _N.STOP_PENDING: frozenset({_N.STOPPING}),
        _N.STOPPING: frozenset({_N.STOPPED}),
        _N.FINISHED: frozenset(),
        _N.FAILED: frozenset(),
        _N.STOPPED: frozenset(),
    },
)


class NotebookScheduleStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"


_S = NotebookScheduleStatus
NOTEBOOK_SCHEDULE = TransitionTable(
    kind="notebook schedule",
    initial=_S.ACTIVE,
    moves={_S.ACTIVE: frozenset({_S.PAUSED}), _S.PAUSED: frozenset({_S.ACTIVE})},
)
