"""Notebook schedules: create, list, describe, change, pause, resume, run now, history,
events, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from sparkstudio.api.deps import Access, Authorized, Db, Notebooks, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.db.models import NotebookSchedule
from sparkstudio.lifecycle import NOTEBOOK_SCHEDULE, NotebookScheduleStatus
from sparkstudio.schemas.common import Limit, Page, PageToken
from sparkstudio.schemas.events import EventPublic
from sparkstudio.schemas.notebook_executions import NotebookExecutionPublic
from sparkstudio.schemas.notebook_schedules import (
    NotebookScheduleCreate,
    NotebookSchedulePublic,
    NotebookScheduleUpdate,
)
from sparkstudio.services import events as event_service
from sparkstudio.services import notebook_executions as executions
from sparkstudio.services import notebook_schedules as service

router = APIRouter(
    prefix="/studios/{studio_id}/notebook-schedules",
    tags=["notebook schedules"],
    responses=ERROR_RESPONSES,
)


def _schedule(db: Session, access: Access, notebook_schedule_id: str) -> NotebookSchedule:
    return service.get_schedule_or_404(db, access.require_studio(), notebook_schedule_id)


@router.post(
    "", status_code=status.HTTP_201_CREATED, openapi_extra=requires(Action.NOTEBOOK_SCHEDULE_CREATE)
)
def create_notebook_schedule(
    studio_id: str, body: NotebookScheduleCreate, access: Authorized, db: Db, notebooks: Notebooks
) -> NotebookSchedulePublic:
    """Run a notebook on a cron expression in a time zone. The notebook and the target are
    checked now as for a start (a stopped application is not started until a run is due);
    each run is a notebook execution, started as the schedule's creator."""
    studio = access.require_studio()
    schedule = service.create_schedule(db, studio, body, access.principal, notebooks.clock())
    db.commit()
    notebooks.wake_schedule(schedule.id)
    return service.schedule_public(schedule)


@router.get("", openapi_extra=requires(Action.NOTEBOOK_SCHEDULE_LIST))
def list_notebook_schedules(
    studio_id: str,
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
    status: Annotated[
        NotebookScheduleStatus | None, Query(description="Only ACTIVE or only PAUSED ones.")
    ] = None,
) -> Page[NotebookSchedulePublic]:
    """The studio's notebook schedules, oldest first."""
    return service.list_schedules(
        db, access.require_studio(), limit=limit, next_token=next_token, status=status
    )


@router.get("/{notebook_schedule_id}", openapi_extra=requires(Action.NOTEBOOK_SCHEDULE_DESCRIBE))
def describe_notebook_schedule(
    studio_id: str, notebook_schedule_id: str, access: Authorized, db: Db
) -> NotebookSchedulePublic:
    return service.schedule_public(_schedule(db, access, notebook_schedule_id))


@router.patch("/{notebook_schedule_id}", openapi_extra=requires(Action.NOTEBOOK_SCHEDULE_UPDATE))
def update_notebook_schedule(
    studio_id: str,
    notebook_schedule_id: str,
    body: NotebookScheduleUpdate,
    access: Authorized,
    db: Db,
    notebooks: Notebooks,
) -> NotebookSchedulePublic:
    """Change its description, cron expression, time zone, maximum concurrent runs,
    missed-run policy or parameters; the next due time is worked out again from now."""
    schedule = _schedule(db, access, notebook_schedule_id)
    service.update_schedule(db, schedule, body, access.principal, notebooks.clock())
    db.commit()
    notebooks.wake_schedule(schedule.id)
    return service.schedule_public(schedule)


@router.post(
    "/{notebook_schedule_id}/pause", openapi_extra=requires(Action.NOTEBOOK_SCHEDULE_UPDATE)
)
def pause_notebook_schedule(
    studio_id: str, notebook_schedule_id: str, access: Authorized, db: Db
) -> NotebookSchedulePublic:
    """No run is due until it is resumed; runs in progress go on. Pausing a paused
    schedule changes nothing."""
    schedule = _schedule(db, access, notebook_schedule_id)
    service.pause_schedule(db, schedule, access.principal)
    db.commit()
    return service.schedule_public(schedule)


@router.post(
    "/{notebook_schedule_id}/resume", openapi_extra=requires(Action.NOTEBOOK_SCHEDULE_UPDATE)
)
def resume_notebook_schedule(
    studio_id: str, notebook_schedule_id: str, access: Authorized, db: Db, notebooks: Notebooks
) -> NotebookSchedulePublic:
    """Due again from now: times that passed while it was paused are not run."""
    schedule = _schedule(db, access, notebook_schedule_id)
    service.resume_schedule(db, schedule, access.principal, notebooks.clock())
    db.commit()
    notebooks.wake_schedule(schedule.id)
    return service.schedule_public(schedule)


@router.post(
    "/{notebook_schedule_id}/run",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=requires(Action.NOTEBOOK_SCHEDULE_RUN),
)
def run_notebook_schedule_now(
    studio_id: str, notebook_schedule_id: str, access: Authorized, db: Db, notebooks: Notebooks
) -> NotebookExecutionPublic:
    """Start a run now, paused or not; a 409 when the maximum concurrent runs are in
    progress."""
    schedule = service.get_schedule_or_404(
        db, access.require_studio(), notebook_schedule_id, lock=True
    )
    execution = service.run_now(db, schedule, access.principal, notebooks.clock())
    db.commit()
    notebooks.run_started(execution.id, execution.target_kind, execution.target_id)
    return executions.execution_public(execution)


@router.get(
    "/{notebook_schedule_id}/runs", openapi_extra=requires(Action.NOTEBOOK_SCHEDULE_DESCRIBE)
)
def list_notebook_schedule_runs(
    studio_id: str,
    notebook_schedule_id: str,
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
) -> Page[NotebookExecutionPublic]:
    """Its history: the notebook executions it started, oldest first (also after the
    schedule is deleted, through the executions' list)."""
    schedule = _schedule(db, access, notebook_schedule_id)
    return executions.list_executions(
        db,
        access.require_studio(),
        limit=limit,
        next_token=next_token,
        schedule_id=schedule.id,
    )


@router.get(
    "/{notebook_schedule_id}/events", openapi_extra=requires(Action.NOTEBOOK_SCHEDULE_DESCRIBE)
)
def list_notebook_schedule_events(
    studio_id: str,
    notebook_schedule_id: str,
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
) -> Page[EventPublic]:
    """What happened to it, oldest first: created, changed, paused, resumed, each run
    started (scheduled, caught up or run now), runs skipped or missed, with reasons."""
    schedule = _schedule(db, access, notebook_schedule_id)
    rows, token = event_service.list_events(
        db, NOTEBOOK_SCHEDULE.kind, schedule.id, limit=limit, next_token=next_token
    )
    return Page(items=[event_service.event_public(e) for e in rows], next_token=token)


@router.delete(
    "/{notebook_schedule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.NOTEBOOK_SCHEDULE_DELETE),
)
def delete_notebook_schedule(
    studio_id: str, notebook_schedule_id: str, access: Authorized, db: Db
) -> None:
    """No run is due again; runs in progress go on, and its runs stay listed among the
    studio's notebook executions (filter by ``schedule_id``)."""
    service.delete_schedule(db, _schedule(db, access, notebook_schedule_id), access.principal)
    db.commit()
