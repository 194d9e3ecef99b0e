"""Notebook schedules: create, list, describe, change, pause, resume, run now, delete.

A schedule's runs are notebook executions carrying its id and the due time they ran for;
:func:`start_run` is the one way they are made, by the scheduler
(``sparkstudio.notebooks.scheduler``) and by run now.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime

from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sparkstudio import lifecycle
from sparkstudio.auth.identity import Principal
from sparkstudio.db.models import Application, NotebookExecution, NotebookSchedule, Studio
from sparkstudio.errors import Conflict, NotFound
from sparkstudio.ids import new_id
from sparkstudio.lifecycle import (
    NOTEBOOK_EXECUTION_ENDED,
    NOTEBOOK_SCHEDULE,
    NotebookScheduleStatus,
    Reason,
)
from sparkstudio.notebooks.cron import next_due
from sparkstudio.schemas.common import Page
from sparkstudio.schemas.notebook_executions import ExecutionSpec
from sparkstudio.schemas.notebook_schedules import (
    NotebookScheduleCreate,
    NotebookSchedulePublic,
    NotebookScheduleUpdate,
)
from sparkstudio.services.common import flush_or_conflict, page
from sparkstudio.services.job_runs import auto_start
from sparkstudio.services.notebook_executions import check_spec, new_execution

_S = NotebookScheduleStatus
_SPEC_FIELDS = set(ExecutionSpec.model_fields)


def when(time: datetime) -> str:
    """A due time as events and run names show it."""
    return time.strftime("%Y-%m-%d %H:%M UTC")


def spec_of(schedule: NotebookSchedule) -> ExecutionSpec:
    return ExecutionSpec.model_validate(schedule.execution)


def create_schedule(
    db: Session, studio: Studio, data: NotebookScheduleCreate, principal: Principal, now: datetime
) -> NotebookSchedule:
    """A schedule whose runs ``principal`` could start now (its target is not started)."""
    check_spec(db, studio, data, principal, start=False)
    spec = ExecutionSpec.model_validate(data.model_dump(include=_SPEC_FIELDS))
    schedule = NotebookSchedule(
        id=new_id("ns"),
        studio_id=studio.id,
        name=data.name,
        description=data.description,
        created_by=principal.name,
        cron=data.cron,
        time_zone=data.time_zone,
        max_concurrent_runs=data.max_concurrent_runs,
        missed_run_policy=data.missed_run_policy.value,
        execution=spec.model_dump(mode="json"),
        next_due_at=next_due(data.cron, data.time_zone, now),
    )
    message = f"created by {principal.name}; first run due at {when(schedule.next_due_at)}"
    lifecycle.initialize(
        db, NOTEBOOK_SCHEDULE, schedule, Reason("USER_REQUEST", message), principal.name
    )
    db.add(schedule)
    flush_or_conflict(db, f"studio '{studio.name}' already has a schedule named {data.name}")
    if data.paused:
        pause_schedule(db, schedule, principal)
    return schedule


def get_schedule_or_404(
    db: Session, studio: Studio, schedule_id: str, *, lock: bool = False
) -> NotebookSchedule:
    """``lock``: hold its row until the commit (against the scheduler starting a run)."""
    statement = select(NotebookSchedule).where(NotebookSchedule.id == schedule_id)
    schedule = db.scalars(statement.with_for_update() if lock else statement).one_or_none()
    if schedule is None or schedule.studio_id != studio.id:
        raise NotFound(f"no notebook schedule {schedule_id} in studio '{studio.name}'")
    return schedule


def list_schedules(
    db: Session,
    studio: Studio,
    *,
    limit: int,
    next_token: str | None,
    status: NotebookScheduleStatus | None = None,
) -> Page[NotebookSchedulePublic]:
    """The studio's schedules, oldest first."""
    statement = select(NotebookSchedule).where(NotebookSchedule.studio_id == studio.id)
    if status is not None:
        statement = statement.where(NotebookSchedule.status == status.value)
    rows, token = page(db, statement, NotebookSchedule.id, limit, next_token)
    return _PAGE.validate_python({"items": [schedule_public(s) for s in rows], "next_token": token})


_PAGE = TypeAdapter(Page[NotebookSchedulePublic])


def schedule_public(schedule: NotebookSchedule) -> NotebookSchedulePublic:
    spec = spec_of(schedule)
    paused = schedule.status == _S.PAUSED
    return NotebookSchedulePublic.model_validate(
        {
            **{c.name: getattr(schedule, c.name) for c in NotebookSchedule.__table__.columns},
            **spec.model_dump(exclude={"environment_variables"}),
            "environment_variable_names": sorted(spec.environment_variables),
            "status_reason": {
                "code": schedule.status_reason_code,
                "message": schedule.status_reason_message,
            },
            "next_due_at": None if paused else schedule.next_due_at,
        }
    )


def update_schedule(
    db: Session,
    schedule: NotebookSchedule,
    data: NotebookScheduleUpdate,
    principal: Principal,
    now: datetime,
) -> NotebookSchedule:
    """Change what was given; when runs are due is worked out again from ``now``."""
    changed = sorted(data.model_fields_set)
    if data.description is not None:
        schedule.description = data.description
    if data.cron is not None:
        schedule.cron = data.cron
    if data.time_zone is not None:
        schedule.time_zone = data.time_zone
    if data.max_concurrent_runs is not None:
        schedule.max_concurrent_runs = data.max_concurrent_runs
    if data.missed_run_policy is not None:
        schedule.missed_run_policy = data.missed_run_policy.value
    if data.parameters is not None:
        schedule.execution = {**schedule.execution, "parameters": data.parameters}
    schedule.next_due_at = next_due(schedule.cron, schedule.time_zone, now)
    message = f"{', '.join(changed) or 'nothing'} changed by {principal.name}"
    if schedule.status == _S.ACTIVE:
        message += f"; next run due at {when(schedule.next_due_at)}"
    lifecycle.note(db, NOTEBOOK_SCHEDULE, schedule, Reason("UPDATED", message), principal.name)
    db.flush()
    return schedule


def pause_schedule(db: Session, schedule: NotebookSchedule, principal: Principal) -> None:
    """No run is due while paused (runs in progress go on); pausing twice is a no-op."""
    if schedule.status == _S.PAUSED:
        return
    schedule.target = _S.PAUSED
    reason = Reason("USER_REQUEST", f"paused by {principal.name}")
    lifecycle.transition(db, NOTEBOOK_SCHEDULE, schedule, _S.PAUSED, reason, principal.name)
    db.flush()


def resume_schedule(
    db: Session, schedule: NotebookSchedule, principal: Principal, now: datetime
) -> None:
    """Due again from ``now``: times that passed while paused are not run."""
    if schedule.status == _S.ACTIVE:
        return
    schedule.target = _S.ACTIVE
    schedule.next_due_at = next_due(schedule.cron, schedule.time_zone, now)
    message = f"resumed by {principal.name}; next run due at {when(schedule.next_due_at)}"
    lifecycle.transition(
        db, NOTEBOOK_SCHEDULE, schedule, _S.ACTIVE, Reason("USER_REQUEST", message), principal.name
    )
    db.flush()


def runs_in_progress(db: Session, schedule_id: str) -> int:
    ended = [status.value for status in NOTEBOOK_EXECUTION_ENDED]
    count = db.scalar(
        select(func.count())
        .select_from(NotebookExecution)
        .where(NotebookExecution.schedule_id == schedule_id)
        .where(NotebookExecution.status.not_in(ended))
    )
    return int(count or 0)


def start_run(
    db: Session, schedule: NotebookSchedule, scheduled_for: datetime, reason: Reason
) -> NotebookExecution | None:
    """Start the schedule's run for ``scheduled_for``, as its creator; None when that due
    time has a run already.

    The target is not checked again: a run whose target has gone fails, and its failure
    is in the schedule's history.
    """
    studio = db.get(Studio, schedule.studio_id)
    assert studio is not None
    spec = spec_of(schedule)
    actor = schedule.created_by
    if spec.target.kind == "APPLICATION":
        application = db.get(Application, spec.target.id)
        if application is not None:
            # One that cannot start: the run fails with TARGET_UNAVAILABLE, saying why.
            with suppress(Conflict):
                auto_start(db, application, actor, f"schedule {schedule.name} is due")
    try:
        with db.begin_nested():
            return new_execution(
                db,
                studio,
                spec,
                name=f"{schedule.name} {when(scheduled_for)}",
                actor=actor,
                reason=reason,
                schedule_id=schedule.id,
                scheduled_for=scheduled_for,
            )
    except IntegrityError:
        return None


def run_now(
    db: Session, schedule: NotebookSchedule, principal: Principal, now: datetime
) -> NotebookExecution:
    """A run outside the cron times (paused or not), within the maximum concurrent runs."""
    running = runs_in_progress(db, schedule.id)
    if running >= schedule.max_concurrent_runs:
        raise Conflict(
            f"schedule {schedule.name} has {running} run(s) in progress, its maximum "
            f"(max_concurrent_runs {schedule.max_concurrent_runs})",
            reason="TooManyRuns",
        )
    reason = Reason("RUN_NOW", f"run now by {principal.name} (schedule {schedule.name})")
    execution = start_run(db, schedule, now, reason)
    if execution is None:  # the same instant asked twice
        raise Conflict(f"schedule {schedule.name} already has a run for {now.isoformat()}")
    note = Reason("RUN_NOW", f"run now by {principal.name}: execution {execution.id}")
    lifecycle.note(db, NOTEBOOK_SCHEDULE, schedule, note, principal.name)
    return execution


def delete_schedule(db: Session, schedule: NotebookSchedule, principal: Principal) -> None:
    """Gone: no run is due again. Its runs and its events stay (the history outlives it)."""
    reason = Reason("DELETED", f"deleted by {principal.name}")
    lifecycle.note(db, NOTEBOOK_SCHEDULE, schedule, reason, principal.name)
    db.delete(schedule)
    db.flush()


def active_schedule_ids(db: Session) -> list[str]:
    return list(db.scalars(select(NotebookSchedule.id).where(NotebookSchedule.status == _S.ACTIVE)))
