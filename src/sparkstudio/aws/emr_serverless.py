"""The EMR Serverless REST-JSON protocol at ``/aws/emr-serverless``.

An unmodified boto3 ``emr-serverless`` client (or ``aws emr-serverless``) pointed at
``<server>/aws/emr-serverless`` with a sparkstudio AWS access key pair talks to the
studio the pair is bound to. Every request is authenticated with SigV4 first; every
error is answered in AWS's shape (:mod:`sparkstudio.aws.errors`).

Operations served today: CreateApplication, GetApplication, UpdateApplication,
ListApplications, StartApplication, StopApplication, DeleteApplication, TagResource,
UntagResource and ListTagsForResource, mapped onto the native services by
:mod:`sparkstudio.aws.emr_serverless_shapes`; and StartJobRun, GetJobRun, ListJobRuns,
CancelJobRun, ListJobRunAttempts and GetDashboardForJobRun, by
:mod:`sparkstudio.aws.emr_serverless_job_shapes`. A request for any other operation is
answered, once its signature is verified, with ``404 UnknownOperationException``,
naming the EMR Serverless operation when the method and path are one (an unsigned
request learns nothing).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Annotated, Any, Final, Literal

from botocore.session import get_session
from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio.api.deps import Applications, AppSettings, Db, Runtime, requires
from sparkstudio.auth.actions import Action
from sparkstudio.auth.identity import Principal
from sparkstudio.aws import emr_serverless_job_shapes as job_shapes
from sparkstudio.aws import emr_serverless_shapes as shapes
from sparkstudio.aws.arns import application_arn, job_run_arn
from sparkstudio.aws.auth import AwsAccess, AwsCaller, SignedRoute, authorize_aws, signed_caller
from sparkstudio.aws.errors import CONFLICT, unknown_operation
from sparkstudio.db.models import Application, JobRun, JobRunAttempt
from sparkstudio.errors import Invalid, NotFound
from sparkstudio.lifecycle import ApplicationStatus, JobRunStatus
from sparkstudio.schemas.job_runs import JobRunAttemptPublic, JobRunPublic
from sparkstudio.serverless.runtime import ApplicationRuntime
from sparkstudio.services import applications as application_service
from sparkstudio.services import dashboards
from sparkstudio.services import job_runs as job_run_service

PREFIX: Final = "/aws/emr-serverless"
SERVICE: Final = "emr-serverless"  # the SigV4 signing name
_METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class EmrServerlessRoute(SignedRoute):
    service = SERVICE


router = APIRouter(prefix=PREFIX, route_class=EmrServerlessRoute, include_in_schema=False)
Caller = Annotated[AwsCaller, Depends(signed_caller)]


@cache
def _operations() -> list[tuple[str, re.Pattern[str], str]]:
    """EMR Serverless's operations as botocore describes them: method, path, name."""
    model = get_session().get_service_model(SERVICE)
    table = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path = re.sub(r"\{[^}]+\}", "[^/]+", http["requestUri"].split("?")[0])
        table.append((http["method"], re.compile(path), name))
    return table


def operation_name(method: str, path: str) -> str | None:
    """The EMR Serverless operation of ``method`` on ``path`` (under the prefix), if any."""
    for wanted, pattern, name in _operations():
        if wanted == method and pattern.fullmatch(path):
            return name
    return None


def authorized(request: Request, db: Db, caller: Caller) -> AwsAccess:
    return authorize_aws(request, db, caller)


Authorized = Annotated[AwsAccess, Depends(authorized)]


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (whatever its Content-Type, as AWS reads it; none: {})."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError as error:
        raise shapes.invalid("body", "must be a JSON object") from error
    if not isinstance(body, dict):
        raise shapes.invalid("body", "must be a JSON object")
    return body


JsonBody = Annotated[dict[str, Any], Depends(json_body)]


@router.get("/applications", openapi_extra=requires(Action.APPLICATION_LIST))
def list_applications(
    access: Authorized,
    db: Db,
    next_token: Annotated[str | None, Query(alias="nextToken", max_length=1024)] = None,
    max_results: Annotated[int, Query(alias="maxResults", ge=1, le=50)] = 50,
    states: Annotated[list[ApplicationStatus], Query(max_length=7)] = [],  # noqa: B006
) -> dict[str, Any]:
    """ListApplications: the applications of the key pair's studio."""
    page = application_service.list_applications(
        db, access.studio, limit=max_results, next_token=next_token, states=states
    )
    answer: dict[str, Any] = {
        "applications": [shapes.summary(a, access.region) for a in page.items]
    }
    if page.next_token is not None:
        answer["nextToken"] = page.next_token
    return answer


@contextmanager
def _in_aws_names() -> Iterator[None]:
    """Validation errors of the services, with fields named as EMR Serverless names them."""
    try:
        yield
    except Invalid as error:
        raise shapes.aws_invalid(error) from error


@router.post("/applications", openapi_extra=requires(Action.APPLICATION_CREATE))
def create_application(
    body: JsonBody,
    access: Authorized,
    db: Db,
    runtime: Runtime,
    applications: Applications,
    settings: AppSettings,
) -> dict[str, Any]:
    """CreateApplication (idempotent with its ``clientToken``)."""
    data, token = shapes.create_request(body)
    backend = runtime.require_backend(settings.cluster_backend)
    with _in_aws_names():
        application = application_service.create_application(
            db, access.studio, data, access.principal, backend=backend, client_token=token
        )
    db.commit()
    applications.wake(application.id)
    arn = application_arn(access.region, access.studio.id, application.id)
    return {"applicationId": application.id, "name": application.name, "arn": arn}


@router.get("/applications/{applicationId}", openapi_extra=requires(Action.APPLICATION_DESCRIBE))
def get_application(applicationId: str, access: Authorized, db: Db) -> dict[str, Any]:  # noqa: N803
    """GetApplication."""
    application = application_service.get_application_or_404(db, access.studio, applicationId)
    public = application_service.application_public(application)
    return {"application": shapes.application(public, access.region)}


@router.patch("/applications/{applicationId}", openapi_extra=requires(Action.APPLICATION_UPDATE))
def update_application(
    applicationId: str,  # noqa: N803
    body: JsonBody,
    access: Authorized,
    db: Db,
    applications: Applications,
) -> dict[str, Any]:
    """UpdateApplication, by the native API's rules (a ConflictException names the state)."""
    data = shapes.update_request(body)
    application = application_service.get_application_or_404(db, access.studio, applicationId)
    with _in_aws_names():
        application_service.update_application(
            db, access.studio, application, data, access.principal
        )
    db.commit()
    applications.wake(application.id)
    public = application_service.application_public(application)
    return {"application": shapes.application(public, access.region)}


_Change = Callable[[Session, Application, Principal], Application]


def _change(
    db: Session, access: AwsAccess, applications: ApplicationRuntime, id_: str, change: _Change
) -> dict[str, Any]:
    application = application_service.get_application_or_404(db, access.studio, id_)
    with _in_aws_names():
        change(db, application, access.principal)
    db.commit()
    applications.wake(application.id)
    return {}


@router.post(
    "/applications/{applicationId}/start", openapi_extra=requires(Action.APPLICATION_START)
)
def start_application(
    applicationId: str,  # noqa: N803
    access: Authorized,
    db: Db,
    applications: Applications,
) -> dict[str, Any]:
    """StartApplication: STARTING, then STARTED once its driver is warm."""
    return _change(db, access, applications, applicationId, application_service.start_application)


@router.post("/applications/{applicationId}/stop", openapi_extra=requires(Action.APPLICATION_STOP))
def stop_application(
    applicationId: str,  # noqa: N803
    access: Authorized,
    db: Db,
    applications: Applications,
) -> dict[str, Any]:
    """StopApplication: STOPPING, then STOPPED (nothing to do when nothing runs)."""
    return _change(db, access, applications, applicationId, application_service.stop_application)


@router.delete("/applications/{applicationId}", openapi_extra=requires(Action.APPLICATION_DELETE))
def delete_application(
    applicationId: str,  # noqa: N803
    access: Authorized,
    db: Db,
    applications: Applications,
) -> dict[str, Any]:
    """DeleteApplication: a CREATED or STOPPED application becomes TERMINATED."""
    return _change(db, access, applications, applicationId, application_service.delete_application)


def _tagged(db: Session, access: AwsAccess, arn: str) -> Application:
    application_id = shapes.application_id_of(arn, access.region, access.studio.id)
    return application_service.get_application_or_404(db, access.studio, application_id)


@router.get("/tags/{resourceArn:path}", openapi_extra=requires(Action.APPLICATION_DESCRIBE))
def list_tags_for_resource(resourceArn: str, access: Authorized, db: Db) -> dict[str, Any]:  # noqa: N803
    """ListTagsForResource: an application's tags."""
    return {"tags": dict(_tagged(db, access, resourceArn).tags)}


@router.post("/tags/{resourceArn:path}", openapi_extra=requires(Action.APPLICATION_UPDATE))
def tag_resource(
    resourceArn: str,  # noqa: N803
    body: JsonBody,
    access: Authorized,
    db: Db,
) -> dict[str, Any]:
    """TagResource: add or replace an application's tags."""
    tags = shapes.tags_request(body)
    with _in_aws_names():
        application_service.tag_application(db, _tagged(db, access, resourceArn), tags)
    db.commit()
    return {}


@router.delete("/tags/{resourceArn:path}", openapi_extra=requires(Action.APPLICATION_UPDATE))
def untag_resource(
    resourceArn: str,  # noqa: N803
    access: Authorized,
    db: Db,
    tag_keys: Annotated[list[str], Query(alias="tagKeys", min_length=1, max_length=200)],
) -> dict[str, Any]:
    """UntagResource: remove tags by key (keys not present are ignored)."""
    application_service.untag_application(db, _tagged(db, access, resourceArn), tag_keys)
    db.commit()
    return {}


# --- job runs ---------------------------------------------------------------------------


def _application(db: Session, access: AwsAccess, application_id: str) -> Application:
    return application_service.get_application_or_404(db, access.studio, application_id)


def _run(db: Session, access: AwsAccess, application_id: str, job_run_id: str) -> JobRun:
    application = _application(db, access, application_id)
    return job_run_service.get_job_run_or_404(db, application, job_run_id)


@router.post("/applications/{applicationId}/jobruns", openapi_extra=requires(Action.JOB_RUN_START))
def start_job_run(
    applicationId: str,  # noqa: N803
    body: JsonBody,
    access: Authorized,
    db: Db,
    applications: Applications,
) -> dict[str, Any]:
    """StartJobRun (idempotent with its required ``clientToken``)."""
    data, token = job_shapes.start_request(body)
    application = _application(db, access, applicationId)
    with job_shapes.in_aws_terms(conflict=CONFLICT):
        run = job_run_service.start_job_run(
            db, access.studio, application, data, access.principal, client_token=token
        )
    db.commit()
    applications.wake(application.id)
    applications.wake_job(run.id)
    arn = job_run_arn(access.region, access.studio.id, application.id, run.id)
    return {"applicationId": application.id, "jobRunId": run.id, "arn": arn}


@router.get(
    "/applications/{applicationId}/jobruns/{jobRunId}",
    openapi_extra=requires(Action.JOB_RUN_DESCRIBE),
)
def get_job_run(
    applicationId: str,  # noqa: N803
    jobRunId: str,  # noqa: N803
    access: Authorized,
    db: Db,
    attempt: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """GetJobRun: the run as of its latest attempt, or of ``attempt``."""
    run = _run(db, access, applicationId, jobRunId)
    attempts = job_run_service.list_attempts(db, run)
    public = job_run_service.job_run_public(run)
    return {"jobRun": job_shapes.job_run(public, attempts, access.region, attempt=attempt)}


@router.get("/applications/{applicationId}/jobruns", openapi_extra=requires(Action.JOB_RUN_LIST))
def list_job_runs(
    applicationId: str,  # noqa: N803
    access: Authorized,
    db: Db,
    next_token: Annotated[str | None, Query(alias="nextToken", max_length=1024)] = None,
    max_results: Annotated[int, Query(alias="maxResults", ge=1, le=50)] = 50,
    states: Annotated[list[JobRunStatus], Query(max_length=8)] = [],  # noqa: B006
    created_at_after: Annotated[str | None, Query(alias="createdAtAfter")] = None,
    created_at_before: Annotated[str | None, Query(alias="createdAtBefore")] = None,
    mode: Annotated[Literal["BATCH", "STREAMING"] | None, Query()] = None,
) -> dict[str, Any]:
    """ListJobRuns: in submission order; every run is a BATCH run.

    ListJobRuns declares no ResourceNotFoundException: an unknown application is a
    ValidationException naming ``applicationId``.
    """
    try:
        application = _application(db, access, applicationId)
    except NotFound as error:
        raise shapes.invalid("applicationId", error.message) from error
    if mode == "STREAMING":  # none is ever submitted
        return {"jobRuns": []}
    with job_shapes.in_aws_terms():
        page = job_run_service.list_job_runs(
            db,
            application,
            limit=max_results,
            next_token=next_token,
            states=states,
            created_after=job_shapes.timestamp(created_at_after, "createdAtAfter"),
            created_before=job_shapes.timestamp(created_at_before, "createdAtBefore"),
        )
    current = _current_attempts(db, page.items)
    answer: dict[str, Any] = {
        "jobRuns": [
            job_shapes.summary(run, current.get(run.id), access.region) for run in page.items
        ]
    }
    if page.next_token is not None:
        answer["nextToken"] = page.next_token
    return answer


def _current_attempts(db: Session, runs: list[JobRunPublic]) -> dict[str, JobRunAttemptPublic]:
    """Each run's latest attempt, in one query."""
    if not runs:
        return {}
    wanted = {run.id: run.attempt for run in runs}
    rows = db.scalars(select(JobRunAttempt).where(JobRunAttempt.job_run_id.in_(wanted)))
    return {
        row.job_run_id: JobRunAttemptPublic.model_validate(
            {
                **{c.name: getattr(row, c.name) for c in JobRunAttempt.__table__.columns},
                "status_reason": {
                    "code": row.status_reason_code,
                    "message": row.status_reason_message,
                },
            }
        )
        for row in rows
        if wanted[row.job_run_id] == row.attempt
    }


@router.delete(
    "/applications/{applicationId}/jobruns/{jobRunId}",
    openapi_extra=requires(Action.JOB_RUN_CANCEL),
)
def cancel_job_run(
    applicationId: str,  # noqa: N803
    jobRunId: str,  # noqa: N803
    access: Authorized,
    db: Db,
    applications: Applications,
    grace: Annotated[int | None, Query(alias="shutdownGracePeriodInSeconds")] = None,
) -> dict[str, Any]:
    """CancelJobRun: CANCELLING, then CANCELLED; a run that has ended is refused."""
    if grace is not None:
        raise shapes.invalid(
            "shutdownGracePeriodInSeconds", "is not supported here: a run is cancelled at once"
        )
    run = _run(db, access, applicationId, jobRunId)
    with job_shapes.in_aws_terms():
        job_run_service.cancel_job_run(db, run, access.principal)
    db.commit()
    applications.wake(run.application_id)
    applications.wake_job(run.id)
    return {"applicationId": run.application_id, "jobRunId": run.id}


@router.get(
    "/applications/{applicationId}/jobruns/{jobRunId}/attempts",
    openapi_extra=requires(Action.JOB_RUN_DESCRIBE),
)
def list_job_run_attempts(
    applicationId: str,  # noqa: N803
    jobRunId: str,  # noqa: N803
    access: Authorized,
    db: Db,
    next_token: Annotated[str | None, Query(alias="nextToken", max_length=1024)] = None,
    max_results: Annotated[int, Query(alias="maxResults", ge=1, le=50)] = 50,
) -> dict[str, Any]:
    """ListJobRunAttempts: the run's attempts, first to last (at most 10: one page)."""
    run = _run(db, access, applicationId, jobRunId)
    public = job_run_service.job_run_public(run)
    attempts = job_run_service.list_attempts(db, run)
    start = _attempt_offset(next_token)
    chosen = attempts[start : start + max_results]
    answer: dict[str, Any] = {
        "jobRunAttempts": [job_shapes.attempt_summary(public, a, access.region) for a in chosen]
    }
    if start + max_results < len(attempts):
        answer["nextToken"] = f"attempt-{start + max_results}"
    return answer


def _attempt_offset(token: str | None) -> int:
    if token is None:
        return 0
    match = re.fullmatch(r"attempt-(\d{1,4})", token)
    if match is None:
        raise shapes.invalid("nextToken", "not a page token this API issued")
    return int(match[1])


@router.get(
    "/applications/{applicationId}/jobruns/{jobRunId}/dashboard",
    openapi_extra=requires(Action.JOB_RUN_DESCRIBE),
)
def get_dashboard_for_job_run(
    applicationId: str,  # noqa: N803
    jobRunId: str,  # noqa: N803
    request: Request,
    access: Authorized,
    db: Db,
    runtime: Runtime,
    settings: AppSettings,
    attempt: Annotated[int | None, Query(ge=1)] = None,
    system_profile_logs: Annotated[bool | None, Query(alias="accessSystemProfileLogs")] = None,
) -> dict[str, Any]:
    """GetDashboardForJobRun: a presigned address of the run's Spark UI, good for an hour,
    as the native API's dashboard gives it (live while it runs, history after)."""
    if system_profile_logs:
        raise shapes.invalid(
            "accessSystemProfileLogs", "is not supported here: there are no system profile logs"
        )
    application = _application(db, access, applicationId)
    run = job_run_service.get_job_run_or_404(db, application, jobRunId)
    if attempt is not None and not 1 <= attempt <= run.attempt:
        raise shapes.invalid("attempt", f"must be from 1 to {run.attempt} (got {attempt})")
    if not job_run_service.has_dashboard(run, application, history=runtime.history is not None):
        # GetDashboardForJobRun declares no ConflictException
        raise shapes.invalid(
            "jobRunId",
            f"job run {run.id} has no Spark UI (it is {run.status}; application "
            f"{application.id} is {application.status}): it has not run yet, or the history "
            "server is off",
        )
    base = settings.public_url or str(request.base_url)
    return {"url": dashboards.address(base, dashboards.sign(settings, run.id))}


# Operations are added above this line: the catch-all must be the router's last route.


@router.api_route("", methods=_METHODS)
@router.api_route("/{path:path}", methods=_METHODS)
async def unknown(request: Request) -> None:
    """Any other request, once its route class has verified its signature."""
    path = request.url.path.removeprefix(PREFIX) or "/"
    name = operation_name(request.method, path)
    if name is not None:
        raise unknown_operation(f"the operation {name} is not supported by this endpoint")
    raise unknown_operation(f"no EMR Serverless operation is {request.method} {path}")
