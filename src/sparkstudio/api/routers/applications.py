"""Serverless applications of a studio: create, list, describe, update, start, stop, delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status

from sparkstudio.api.deps import Applications, AppSettings, Authorized, Db, Runtime, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.db.base import utcnow
from sparkstudio.lifecycle import APPLICATION, ApplicationStatus
from sparkstudio.schemas.applications import (
    ApplicationCreate,
    ApplicationPublic,
    ApplicationUpdate,
    ReleaseLabelPublic,
)
from sparkstudio.schemas.common import Limit, Page, PageToken
from sparkstudio.schemas.events import EventPublic
from sparkstudio.schemas.job_runs import JobRunUsageReport
from sparkstudio.serverless.releases import supported_release_labels
from sparkstudio.services import applications as service
from sparkstudio.services import events as event_service
from sparkstudio.services.job_run_usage import job_run_usage

releases_router = APIRouter(tags=["serverless applications"], responses=ERROR_RESPONSES)


@releases_router.get("/release-labels", openapi_extra=requires(Action.RELEASE_LABEL_LIST))
def list_release_labels(access: Authorized) -> list[ReleaseLabelPublic]:
    """The release labels an application may run here, each with its Spark version
    (none when no Spark is installed)."""
    return [
        ReleaseLabelPublic(release_label=label, spark_version=version)
        for label, version in supported_release_labels().items()
    ]


router = APIRouter(
    prefix="/studios/{studio_id}/applications",
    tags=["applications"],
    responses=ERROR_RESPONSES,
)


@router.post(
    "", status_code=status.HTTP_201_CREATED, openapi_extra=requires(Action.APPLICATION_CREATE)
)
def create_application(
    studio_id: str,
    body: ApplicationCreate,
    access: Authorized,
    db: Db,
    runtime: Runtime,
    applications: Applications,
    settings: AppSettings,
) -> ApplicationPublic:
    """Create an application (CREATING, then CREATED); nothing runs until it is started.

    The type, release label and capacities are checked first: a 422 names the field
    and what it allows.
    """
    backend = runtime.require_backend(settings.cluster_backend)
    application = service.create_application(
        db, access.require_studio(), body, access.principal, backend=backend
    )
    db.commit()
    applications.wake(application.id)
    return service.application_public(application)


@router.get("", openapi_extra=requires(Action.APPLICATION_LIST))
def list_applications(
    studio_id: str,
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
    states: Annotated[
        list[ApplicationStatus] | None, Query(description="Only applications in these states.")
    ] = None,
) -> Page[ApplicationPublic]:
    return service.list_applications(
        db, access.require_studio(), limit=limit, next_token=next_token, states=states or ()
    )


@router.get("/usage", openapi_extra=requires(Action.USAGE_DESCRIBE))
def describe_job_run_usage(
    studio_id: str,
    access: Authorized,
    db: Db,
    since: Annotated[
        datetime | None,
        Query(description="Runs submitted from (UTC unless an offset is given); 30 days ago."),
    ] = None,
    until: Annotated[datetime | None, Query(description="Up to; now when omitted.")] = None,
    group_by: Annotated[
        str, Query(max_length=132, description="application, job_run, created_by or tag:<key>.")
    ] = "application",
) -> JobRunUsageReport:
    """What the studio's job runs used and are billed (vCPU-, memory-GB- and storage-GB-hours,
    execution and queued time), by application, run, submitter or tag; the total is the
    studio's."""
    start = _utc(since) if since else utcnow() - timedelta(days=30)
    end = _utc(until) if until else None
    return job_run_usage(db, access.require_studio(), since=start, until=end, group_by=group_by)


def _utc(moment: datetime) -> datetime:
    """A time without an offset is taken as UTC, like every time this API writes."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/{application_id}", openapi_extra=requires(Action.APPLICATION_DESCRIBE))
def describe_application(
    studio_id: str, application_id: str, access: Authorized, db: Db
) -> ApplicationPublic:
    application = service.get_application_or_404(db, access.require_studio(), application_id)
    return service.application_public(application)


@router.patch("/{application_id}", openapi_extra=requires(Action.APPLICATION_UPDATE))
def update_application(
    studio_id: str,
    application_id: str,
    body: ApplicationUpdate,
    access: Authorized,
    db: Db,
    applications: Applications,
) -> ApplicationPublic:
    """Change fields when CREATED or STOPPED; while it runs, only tags, auto-stop and the
    maximum capacity (a 409 names the state otherwise)."""
    studio = access.require_studio()
    application = service.get_application_or_404(db, studio, application_id)
    service.update_application(db, studio, application, body, access.principal)
    db.commit()
    applications.wake(application.id)
    return service.application_public(application)


@router.post(
    "/{application_id}/start",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=requires(Action.APPLICATION_START),
)
def start_application(
    studio_id: str, application_id: str, access: Authorized, db: Db, applications: Applications
) -> ApplicationPublic:
    """Start the initial capacity (STARTING, then STARTED once its driver is warm)."""
    application = service.get_application_or_404(db, access.require_studio(), application_id)
    service.start_application(db, application, access.principal)
    db.commit()
    applications.wake(application.id)
    return service.application_public(application)


@router.post(
    "/{application_id}/stop",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=requires(Action.APPLICATION_STOP),
)
def stop_application(
    studio_id: str, application_id: str, access: Authorized, db: Db, applications: Applications
) -> ApplicationPublic:
    """Stop every process of the application (STOPPING, then STOPPED)."""
    application = service.get_application_or_404(db, access.require_studio(), application_id)
    service.stop_application(db, application, access.principal)
    db.commit()
    applications.wake(application.id)
    return service.application_public(application)


@router.delete(
    "/{application_id}",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=requires(Action.APPLICATION_DELETE),
)
def delete_application(
    studio_id: str, application_id: str, access: Authorized, db: Db, applications: Applications
) -> ApplicationPublic:
    """Delete a CREATED or STOPPED application; it becomes TERMINATED (the record stays)."""
    application = service.get_application_or_404(db, access.require_studio(), application_id)
    service.delete_application(db, application, access.principal)
    db.commit()
    applications.wake(application.id)
    return service.application_public(application)


@router.get("/{application_id}/events", openapi_extra=requires(Action.APPLICATION_DESCRIBE))
def list_application_events(
    studio_id: str,
    application_id: str,
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
) -> Page[EventPublic]:
    """Status changes, updates and scaling, oldest first, with reasons."""
    application = service.get_application_or_404(db, access.require_studio(), application_id)
    rows, token = event_service.list_events(
        db, APPLICATION.kind, application.id, limit=limit, next_token=next_token
    )
    return Page(items=[event_service.event_public(e) for e in rows], next_token=token)
