"""Job runs of a serverless application: submit, list, describe, cancel, attempts, logs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.orm import Session

from sparkstudio.api.deps import (
    Access,
    Applications,
    AppSettings,
    Authorized,
    Db,
    Runtime,
    requires,
)
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action, studio_resource
from sparkstudio.auth.identity import grants_in_studio
from sparkstudio.auth.policy import Decision, decide
from sparkstudio.db.models import Application, JobRun
from sparkstudio.errors import Conflict
from sparkstudio.lifecycle import JOB_RUN, JobRunStatus
from sparkstudio.schemas.common import Limit, Page, PageToken
from sparkstudio.schemas.events import EventPublic
from sparkstudio.schemas.job_runs import (
    DashboardPublic,
    JobRunAttemptPublic,
    JobRunCreate,
    JobRunPublic,
)
from sparkstudio.serverless import job_logs
from sparkstudio.services import applications as application_service
from sparkstudio.services import dashboards
from sparkstudio.services import events as event_service
from sparkstudio.services import job_runs as service
from sparkstudio.services.user_locations import studio_roots

router = APIRouter(
    prefix="/studios/{studio_id}/applications/{application_id}/job-runs",
    tags=["job runs"],
    responses=ERROR_RESPONSES,
)

CONNECT = "CONNECT"  # the run's runtime when it runs on the application's warm driver
# While the run has its process, the live UI of the driver it runs on is its dashboard.
_LIVE = frozenset({JobRunStatus.SCHEDULED, JobRunStatus.RUNNING})
DEFAULT_TAIL_BYTES = 65536

ClientToken = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Submit once: a retry with the same token gets the run it created "
        "(1 to 64 letters, digits, '-', '_' or '.').",
    ),
]


def _application(db: Session, access: Access, application_id: str) -> Application:
    return application_service.get_application_or_404(db, access.require_studio(), application_id)


def _run(db: Session, access: Access, application_id: str, job_run_id: str) -> JobRun:
    application = _application(db, access, application_id)
    return service.get_job_run_or_404(db, application, job_run_id)


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=requires(Action.JOB_RUN_START))
def start_job_run(
    studio_id: str,
    application_id: str,
    body: JobRunCreate,
    access: Authorized,
    db: Db,
    applications: Applications,
    client_token: ClientToken = None,
) -> JobRunPublic:
    """Submit a run (SUBMITTED). A stopped application with auto-start on is started; with
    auto-start off, or once it is deleted, a 409 says so."""
    studio = access.require_studio()
    application = application_service.get_application_or_404(db, studio, application_id)
    run = service.start_job_run(
        db, studio, application, body, access.principal, client_token=client_token
    )
    db.commit()
    applications.wake(application.id)
    applications.wake_job(run.id)
    return service.job_run_public(run)


@router.get("", openapi_extra=requires(Action.JOB_RUN_LIST))
def list_job_runs(
    studio_id: str,
    application_id: str,
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
    states: Annotated[
        list[JobRunStatus] | None, Query(description="Only runs in these states.")
    ] = None,
    created_after: Annotated[
        datetime | None, Query(description="Only runs submitted at or after this time.")
    ] = None,
    created_before: Annotated[
        datetime | None, Query(description="Only runs submitted at or before this time.")
    ] = None,
) -> Page[JobRunPublic]:
    """The application's runs, oldest first. A run you may not describe (a session
    policy denies job-run:Describe on it) comes as a summary: no driver, configuration or
    log location."""
    page = service.list_job_runs(
        db,
        _application(db, access, application_id),
        limit=limit,
        next_token=next_token,
        states=states or (),
        created_after=created_after,
        created_before=created_before,
    )
    studio = access.require_studio()
    principal = access.principal
    grants = grants_in_studio(db, principal, studio.id)

    def describable(run: JobRunPublic) -> bool:
        decision = decide(
            Action.JOB_RUN_DESCRIBE,
            is_platform_admin=principal.is_platform_admin,
            grants=grants,
            resource=studio_resource(studio.id, "job-run", run.id),
        )
        return decision is Decision.ALLOW

    page.items = [run if describable(run) else service.summary(run) for run in page.items]
    return page


@router.get("/{job_run_id}", openapi_extra=requires(Action.JOB_RUN_DESCRIBE))
def describe_job_run(
    studio_id: str, application_id: str, job_run_id: str, access: Authorized, db: Db
) -> JobRunPublic:
    return service.job_run_public(_run(db, access, application_id, job_run_id))


@router.post(
    "/{job_run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=requires(Action.JOB_RUN_CANCEL),
)
def cancel_job_run(
    studio_id: str,
    application_id: str,
    job_run_id: str,
    access: Authorized,
    db: Db,
    applications: Applications,
) -> JobRunPublic:
    """Cancel a run that has not ended (CANCELLING while its process stops, then
    CANCELLED); a 409 once it has ended."""
    run = _run(db, access, application_id, job_run_id)
    service.cancel_job_run(db, run, access.principal)
    db.commit()
    applications.wake(run.application_id)
    applications.wake_job(run.id)
    return service.job_run_public(run)


@router.get("/{job_run_id}/attempts", openapi_extra=requires(Action.JOB_RUN_DESCRIBE))
def list_job_run_attempts(
    studio_id: str, application_id: str, job_run_id: str, access: Authorized, db: Db
) -> Page[JobRunAttemptPublic]:
    """Every attempt of the run, the first first (one page: at most 10 attempts)."""
    run = _run(db, access, application_id, job_run_id)
    return Page(items=service.list_attempts(db, run), next_token=None)


@router.get(
    "/{job_run_id}/logs",
    # The base class has no media type of its own: errors stay documented as JSON.
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    openapi_extra=requires(Action.JOB_RUN_DESCRIBE),
)
def read_job_run_log(
    studio_id: str,
    application_id: str,
    job_run_id: str,
    access: Authorized,
    db: Db,
    settings: AppSettings,
    stream: Annotated[
        Literal["stdout", "stderr"], Query(description="The driver's stdout or stderr.")
    ] = "stdout",
    attempt: Annotated[
        int | None, Query(ge=1, description="Which attempt; the latest by default.")
    ] = None,
    tail_bytes: Annotated[
        int, Query(ge=1, le=job_logs.MAX_READ_BYTES, description="Read the last this many bytes.")
    ] = DEFAULT_TAIL_BYTES,
) -> PlainTextResponse:
    """The end of one attempt's driver log, as text: live while it runs, from the run's
    log URI once it has ended."""
    run = _run(db, access, application_id, job_run_id)
    roots = studio_roots(access.require_studio())
    text = job_logs.read_log(
        settings, run, attempt or run.attempt, stream, tail_bytes=tail_bytes, roots=roots
    )
    return PlainTextResponse(text)


@router.get("/{job_run_id}/dashboard", openapi_extra=requires(Action.JOB_RUN_DESCRIBE))
def job_run_dashboard(
    studio_id: str,
    application_id: str,
    job_run_id: str,
    request: Request,
    access: Authorized,
    db: Db,
    runtime: Runtime,
    settings: AppSettings,
) -> DashboardPublic:
    """A presigned address of the run's Spark UI, good for an hour: live while it runs
    (the application's driver for a CONNECT run, its own driver for a CLASSIC one), its
    page on the history server once it has ended. A 409 when there is none (it never ran,
    or the history server is off)."""
    application = _application(db, access, application_id)
    run = service.get_job_run_or_404(db, application, job_run_id)
    if not service.has_dashboard(run, application, history=runtime.history is not None):
        raise Conflict(
            f"job run {run.id} has no Spark UI (it is {run.status}"
            f"{'' if run.spark_app_id else ' and never ran on Spark'}); a running run "
            "shows its live UI, an ended one its history",
            reason="InvalidState",
        )
    base = settings.public_url or str(request.base_url)
    return DashboardPublic(url=dashboards.address(base, dashboards.sign(settings, run.id)))


@router.get("/{job_run_id}/events", openapi_extra=requires(Action.JOB_RUN_DESCRIBE))
def list_job_run_events(
    studio_id: str,
    application_id: str,
    job_run_id: str,
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
) -> Page[EventPublic]:
    """State changes of the run, oldest first, with reasons (retries and cancels too)."""
    run = _run(db, access, application_id, job_run_id)
    rows, token = event_service.list_events(
        db, JOB_RUN.kind, run.id, limit=limit, next_token=next_token
    )
    return Page(items=[event_service.event_public(e) for e in rows], next_token=token)
