"""Job runs: submit (once per client token), list, describe, cancel, attempts.

The API (and the AWS wire adapter) write a new run or a cancel target; the job run
controller (``sparkstudio.serverless.jobs``) schedules runs and moves their states.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sparkstudio import lifecycle
from sparkstudio.auth.identity import Principal
from sparkstudio.db.models import Application, JobRun, JobRunAttempt, Studio
from sparkstudio.errors import Conflict, Invalid, NotFound
from sparkstudio.ids import new_id
from sparkstudio.lifecycle import (
    APPLICATION,
    JOB_RUN,
    JOB_RUN_ENDED,
    ApplicationStatus,
    JobRunStatus,
    Reason,
)
from sparkstudio.rules.spark_conf import check_shipped_files, check_spark_conf
from sparkstudio.schemas.common import Page
from sparkstudio.schemas.job_runs import (
    ConfigurationOverrides,
    JobRunAttemptPublic,
    JobRunCreate,
    JobRunPublic,
)
from sparkstudio.serverless.submit import CLASSIC, parse_parameters
from sparkstudio.services.applications import TARGET_STARTED, TARGET_TERMINATED
from sparkstudio.services.common import flush_or_conflict, page
from sparkstudio.services.user_locations import check_output, check_source, studio_roots

TARGET_RUN = "RUN"
TARGET_CANCELLED = "CANCELLED"
_J = JobRunStatus
HOLDING = frozenset({_J.SCHEDULED, _J.RUNNING, _J.CANCELLING})  # a process of it may run
IN_PROGRESS = frozenset(set(_J) - JOB_RUN_ENDED)
LOG_FOLDER = "logs"  # under the studio's storage location, when no log URI is given


def start_job_run(
    db: Session,
    studio: Studio,
    application: Application,
    data: JobRunCreate,
    principal: Principal,
    *,
    client_token: str | None = None,
) -> JobRun:
    """Submit a run (SUBMITTED); with ``client_token``, once: a retry of the same request
    gets the run it created, a different request with the same token a 409."""
    submit = data.job_driver.spark_submit
    # Compared as kept: the entry point normalised (a path is kept as its file:// URL).
    entry_point = check_locations(db, studio, principal, data)
    if client_token is not None:
        earlier = db.scalars(
            select(JobRun).where(
                JobRun.application_id == application.id, JobRun.client_token == client_token
            )
        ).first()
        if earlier is not None:
            if earlier.entry_point != entry_point or earlier.name != (data.name or ""):
                raise Conflict(
                    f"client token {client_token!r} was used for job run {earlier.id} "
                    f"({earlier.name or earlier.entry_point}), a different request",
                    reason="IdempotencyMismatch",
                )
            return earlier
    overrides = data.configuration_overrides
    auto_start(db, application, principal.name, "a job run was submitted")
    monitoring = overrides.monitoring_configuration
    s3 = monitoring.s3_monitoring_configuration if monitoring else None
    log_uri = f"{studio.storage_location.rstrip('/')}/{LOG_FOLDER}"
    if s3 is not None:
        log_uri = check_output(
            studio, s3.log_uri, f"{_MONITORING}.s3_monitoring_configuration.log_uri"
        )
    run = JobRun(
        id=new_id("jr"),
        application_id=application.id,
        studio_id=studio.id,
        name=data.name or "",
        created_by=principal.name,
        execution_role_arn=data.execution_role_arn,
        release_label=application.release_label,
        entry_point=entry_point,
        entry_point_arguments=list(submit.entry_point_arguments),
        spark_submit_parameters=submit.spark_submit_parameters,
        configuration_overrides=overrides.model_dump(mode="json", exclude_none=True),
        tags=dict(data.tags),
        execution_timeout_minutes=data.execution_timeout_minutes,
        max_attempts=data.retry_policy.max_attempts,
        attempt=1,
        client_token=client_token,
        log_uri=log_uri.rstrip("/"),
    )
    lifecycle.initialize(
        db, JOB_RUN, run, Reason("USER_REQUEST", f"submitted by {principal.name}"), principal.name
    )
    run.target = TARGET_RUN
    db.add(run)
    flush_or_conflict(db, f"client token {client_token!r} is in use")
    db.add(
        JobRunAttempt(
            job_run_id=run.id, attempt=1, status=run.status, log_uri=attempt_log_prefix(run, 1)
        )
    )
    db.flush()
    return run


_MONITORING = "configuration_overrides.monitoring_configuration"
_SUBMIT = "job_driver.spark_submit"


def check_locations(db: Session, studio: Studio, principal: Principal, data: JobRunCreate) -> str:
    """Every location and Spark setting the run names, checked against what the studio
    owns (422 naming the field); the entry point as it will be read."""
    submit = data.job_driver.spark_submit
    entry_point = check_source(db, studio, principal, submit.entry_point, f"{_SUBMIT}.entry_point")
    roots = studio_roots(studio)
    field = f"{_SUBMIT}.spark_submit_parameters"
    params = parse_parameters(submit.spark_submit_parameters)  # 422 if wrong
    for option, value in params.shipped:
        check_shipped_files(option, value, field, allowed_locations=roots)
    check_spark_conf(params.conf, field, allowed_locations=roots)
    overrides = data.configuration_overrides
    for index, configuration in enumerate(overrides.application_configuration):
        where = f"configuration_overrides.application_configuration.{index}.properties"
        for key in configuration.properties:
            if not key.startswith("spark."):
                raise Invalid.field(where, f"spark-defaults keys start with 'spark.' (got {key!r})")
        check_spark_conf(configuration.properties, where, allowed_locations=roots)
    return entry_point


def check_startable(application: Application) -> None:
    """A 409 unless work submitted to the application can run: started, or auto-started."""
    if application.status == ApplicationStatus.TERMINATED or application.target == (
        TARGET_TERMINATED
    ):
        raise Conflict(
            f"application {application.id} is {application.status}: it takes no job runs",
            reason="InvalidState",
        )
    if application.target == TARGET_STARTED:
        return
    if not application.auto_start_enabled:
        raise Conflict(
            f"application {application.id} is {application.status} and auto-start is off: "
            "start it first, or turn auto_start_configuration on",
            reason="InvalidState",
        )


def auto_start(db: Session, application: Application, actor: str, why: str) -> None:
    """EMR's auto-start: work submitted to a stopped application starts it."""
    check_startable(application)
    if application.target == TARGET_STARTED:
        return
    application.target = TARGET_STARTED
    message = f"auto-start: {why} by {actor}"
    lifecycle.note(db, APPLICATION, application, Reason("AUTO_START", message), actor)


def get_job_run_or_404(db: Session, application: Application, job_run_id: str) -> JobRun:
    run = db.get(JobRun, job_run_id)
    if run is None or run.application_id != application.id:
        raise NotFound(f"no job run {job_run_id} in application {application.id}")
    return run


def list_job_runs(
    db: Session,
    application: Application,
    *,
    limit: int,
    next_token: str | None,
    states: Iterable[JobRunStatus] = (),
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> Page[JobRunPublic]:
    statement = select(JobRun).where(JobRun.application_id == application.id)
    wanted = [state.value for state in states]
    if wanted:
        statement = statement.where(JobRun.status.in_(wanted))
    if created_after is not None:
        statement = statement.where(JobRun.created_at >= created_after)
    if created_before is not None:
        statement = statement.where(JobRun.created_at <= created_before)
    rows, token = page(db, statement, JobRun.id, limit, next_token)
    return _PAGE.validate_python({"items": [job_run_public(r) for r in rows], "next_token": token})


_PAGE = TypeAdapter(Page[JobRunPublic])


def summary(run: JobRunPublic) -> JobRunPublic:
    """What a member who may list runs but not describe this one sees of it."""
    driver = run.job_driver.spark_submit
    hidden = driver.model_copy(
        update={"entry_point": "", "entry_point_arguments": [], "spark_submit_parameters": ""}
    )
    return run.model_copy(
        update={
            "job_driver": run.job_driver.model_copy(update={"spark_submit": hidden}),
            "configuration_overrides": ConfigurationOverrides(),
            "log_uri": "",
            "runtime_reason": "",
        }
    )


def job_run_public(run: JobRun) -> JobRunPublic:
    return JobRunPublic.model_validate(
        {
            **{c.name: getattr(run, c.name) for c in JobRun.__table__.columns},
            "job_driver": {
                "spark_submit": {
                    "entry_point": run.entry_point,
                    "entry_point_arguments": run.entry_point_arguments,
                    "spark_submit_parameters": run.spark_submit_parameters,
                }
            },
            "retry_policy": {"max_attempts": run.max_attempts},
            "total_resource_utilization": hours(
                run.vcpu_seconds, run.memory_gb_seconds, run.storage_gb_seconds
            ),
            "billed_resource_utilization": hours(
                run.billed_vcpu_seconds, run.billed_memory_gb_seconds, run.billed_storage_gb_seconds
            ),
            "status_reason": {"code": run.status_reason_code, "message": run.status_reason_message},
        }
    )


def hours(vcpu_seconds: float, memory_gb_seconds: float, storage_gb_seconds: float) -> Any:
    return {
        "vcpu_hours": round(vcpu_seconds / 3600, 6),
        "memory_gb_hours": round(memory_gb_seconds / 3600, 6),
        "storage_gb_hours": round(storage_gb_seconds / 3600, 6),
    }


def cancel_job_run(db: Session, run: JobRun, principal: Principal) -> JobRun:
    """Ask for the run to stop (idempotent while cancelling); a 409 once it has ended."""
    if run.status in JOB_RUN_ENDED:
        raise Conflict(
            f"job run {run.id} is {run.status}: only a run that has not ended can be cancelled",
            reason="InvalidState",
        )
    if run.target != TARGET_CANCELLED:
        run.target = TARGET_CANCELLED
        message = f"cancel requested by {principal.name}"
        lifecycle.note(db, JOB_RUN, run, Reason("CANCEL_REQUESTED", message), principal.name)
        db.flush()
    return run


def list_attempts(db: Session, run: JobRun) -> list[JobRunAttemptPublic]:
    rows: Sequence[JobRunAttempt] = db.scalars(
        select(JobRunAttempt)
        .where(JobRunAttempt.job_run_id == run.id)
        .order_by(JobRunAttempt.attempt)
    ).all()
    return [
        JobRunAttemptPublic.model_validate(
            {
                **{c.name: getattr(a, c.name) for c in JobRunAttempt.__table__.columns},
                "status_reason": {"code": a.status_reason_code, "message": a.status_reason_message},
            }
        )
        for a in rows
    ]


def live_ui(run: JobRun, application: Application) -> str:
    """Where the run's live Spark UI answers while it runs ('' when it does not run): the
    application's driver for a Connect run, its own driver for a spark-submit one."""
    if run.status not in HOLDING:
        return ""
    return application.ui_url if run.runtime != CLASSIC else run.ui_url


def has_dashboard(run: JobRun, application: Application, *, history: bool) -> bool:
    """Whether the run has a Spark UI to show: live while it runs, its page on the
    history server after (when the history server is on)."""
    if run.status in HOLDING:
        return bool(live_ui(run, application))
    return bool(run.spark_app_id) and history


def attempt_log_prefix(run: JobRun, attempt: int) -> str:
    """Where one attempt's logs are kept, laid out as EMR Serverless lays them out."""
    return f"{run.log_uri}/applications/{run.application_id}/jobs/{run.id}/attempts/{attempt}"


def live_job_run_ids(db: Session) -> list[str]:
    """Runs the controller may have work on (every one not ended)."""
    ended = [status.value for status in JOB_RUN_ENDED]
    return list(db.scalars(select(JobRun.id).where(JobRun.status.not_in(ended))))


def classic_workers_held(db: Session, application_id: str) -> int:
    """Executor workers reserved by the application's spark-submit runs in progress."""
    states = db.scalars(
        select(JobRun.state).where(
            JobRun.application_id == application_id,
            JobRun.runtime == CLASSIC,
            JobRun.status.in_([s.value for s in HOLDING]),
        )
    ).all()
    return sum(int((state or {}).get("workers", 0)) for state in states)


def has_job_runs_in_progress(db: Session, application_id: str) -> bool:
    """Runs waiting or running keep their application from idling out."""
    statuses = [status.value for status in IN_PROGRESS]
    statement = select(JobRun.id).where(
        JobRun.application_id == application_id, JobRun.status.in_(statuses)
    )
    return db.scalars(statement.limit(1)).first() is not None


def count_runs(
    db: Session, application_id: str, statuses: Iterable[str], *, before: str = ""
) -> int:
    """The application's runs in ``statuses`` (submitted before run ``before``, if given)."""
    statement = select(func.count(JobRun.id)).where(
        JobRun.application_id == application_id, JobRun.status.in_([str(s) for s in statuses])
    )
    if before:
        statement = statement.where(JobRun.id < before)
    return int(db.scalar(statement) or 0)


def connect_runs_holding(db: Session, application_id: str) -> int:
    """The application's Spark Connect runs that hold a place on its driver now."""
    statement = select(func.count(JobRun.id)).where(
        JobRun.application_id == application_id,
        JobRun.runtime != CLASSIC,
        JobRun.status.in_([s.value for s in HOLDING]),
    )
    return int(db.scalar(statement) or 0)
