"""EMR Serverless's job run shapes (camelCase) ↔ the project's job runs (snake_case).

``StartJobRun``'s body is translated into :class:`JobRunCreate`, so that it is checked by
the same rules as the native API; every problem is a ``ValidationException`` naming the
member as EMR Serverless names it, and members the project does not support are refused
by name, never dropped. Answers follow botocore's ``JobRun``, ``JobRunSummary`` and
``JobRunAttemptSummary`` shapes; timestamps are epoch seconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import ValidationError

from sparkstudio.aws.arns import job_run_arn, user_arn
from sparkstudio.aws.emr_serverless_shapes import aws_invalid, invalid
from sparkstudio.aws.errors import VALIDATION, AwsError
from sparkstudio.errors import Conflict, Invalid
from sparkstudio.schemas.job_runs import (
    ConfigurationOverrides,
    JobRunAttemptPublic,
    JobRunCreate,
    JobRunPublic,
    ResourceUtilization,
)

MODE: Final = "BATCH"
TYPE: Final = "SPARK"
_MAX_STATE_DETAILS: Final = 256
# botocore's IAMRoleArn pattern (StartJobRun's executionRoleArn).
_ROLE_ARN: Final = re.compile(
    r"arn:(aws[a-zA-Z0-9-]*):iam::([0-9]{12}):"
    r"(role((\u002F)|(\u002F[\u0021-\u007F]+\u002F))[\w+=,.@-]+)"
)
_CLIENT_TOKEN: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
# EMR Serverless members the project has no equivalent of, and why (by their path).
UNSUPPORTED: Final[dict[str, str]] = {
    "executionIamPolicy": "runs act with the submitter's own access",
    "mode": "only BATCH job runs are served",
    "jobDriver.hive": "only Spark jobs run here",
    "retryPolicy.maxFailedAttemptsPerHour": "only maxAttempts is a retry policy here",
    "configurationOverrides.diskEncryptionConfiguration": "disks are not encrypted per run",
    "configurationOverrides.applicationConfiguration.configurations": (
        "spark-defaults has no nested configurations"
    ),
    "configurationOverrides.monitoringConfiguration.managedPersistenceMonitoringConfiguration": (
        "logs are kept at s3MonitoringConfiguration.logUri or in the studio's storage"
    ),
    "configurationOverrides.monitoringConfiguration.cloudWatchLoggingConfiguration": (
        "logs are kept at s3MonitoringConfiguration.logUri or in the studio's storage"
    ),
    "configurationOverrides.monitoringConfiguration.prometheusMonitoringConfiguration": (
        "metrics are not exported per run"
    ),
    "configurationOverrides.monitoringConfiguration.s3MonitoringConfiguration."
    "encryptionKeyArn": "logs are not encrypted per run",
}


def _refuse(path: str) -> AwsError:
    return invalid(path, f"is not supported here: {UNSUPPORTED[path]}")


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(field, "must be an object")
    return value


def _job_driver(value: Any) -> dict[str, Any]:
    driver = _object(value, "jobDriver")
    if driver.get("hive") is not None:
        raise _refuse("jobDriver.hive")
    present = [key for key, item in driver.items() if item is not None]
    if present != ["sparkSubmit"]:
        others = sorted(set(present) - {"sparkSubmit"})
        if others:
            raise invalid(f"jobDriver.{others[0]}", "is not a member of JobDriver")
        raise invalid("jobDriver", "must give sparkSubmit")
    submit = _object(driver["sparkSubmit"], "jobDriver.sparkSubmit")
    fields = {_snake(key): item for key, item in submit.items() if item is not None}
    return {"spark_submit": fields}


def _configuration(value: Any, field: str) -> dict[str, Any]:
    configuration = _object(value, field)
    if configuration.get("configurations"):
        raise _refuse("configurationOverrides.applicationConfiguration.configurations")
    return {
        _snake(key): item
        for key, item in configuration.items()
        if item is not None and key != "configurations"
    }


def _monitoring(value: Any) -> dict[str, Any]:
    path = "configurationOverrides.monitoringConfiguration"
    monitoring = _object(value, path)
    fields: dict[str, Any] = {}
    for key, item in monitoring.items():
        if item is None:
            continue
        if f"{path}.{key}" in UNSUPPORTED:
            raise _refuse(f"{path}.{key}")
        if key != "s3MonitoringConfiguration":
            fields[_snake(key)] = item  # refused by the model, by name
            continue
        s3 = _object(item, f"{path}.{key}")
        if s3.get("encryptionKeyArn") is not None:
            raise _refuse(f"{path}.{key}.encryptionKeyArn")
        fields["s3_monitoring_configuration"] = {
            _snake(k): v for k, v in s3.items() if v is not None and k != "encryptionKeyArn"
        }
    return fields


def _overrides(value: Any) -> dict[str, Any]:
    path = "configurationOverrides"
    overrides = _object(value, path)
    fields: dict[str, Any] = {}
    for key, item in overrides.items():
        if item is None:
            continue
        if f"{path}.{key}" in UNSUPPORTED:
            raise _refuse(f"{path}.{key}")
        if key == "applicationConfiguration":
            if not isinstance(item, list):
                raise invalid(f"{path}.{key}", "must be a list")
            fields["application_configuration"] = [
                _configuration(each, f"{path}.{key}.{n}") for n, each in enumerate(item)
            ]
        elif key == "monitoringConfiguration":
            fields["monitoring_configuration"] = _monitoring(item)
        else:
            fields[_snake(key)] = item  # refused by the model, by name
    return fields


def _retry_policy(value: Any) -> dict[str, Any]:
    policy = _object(value, "retryPolicy")
    if policy.get("maxFailedAttemptsPerHour") is not None:
        raise _refuse("retryPolicy.maxFailedAttemptsPerHour")
    return {_snake(key): item for key, item in policy.items() if item is not None}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m[1].lower(), name)


def start_request(body: dict[str, Any]) -> tuple[JobRunCreate, str]:
    """StartJobRun's body as the project's request, and its (required) client token."""
    token = body.get("clientToken")
    if token is None:
        raise invalid("clientToken", "is required (the AWS SDKs fill it in)")
    if not isinstance(token, str) or not _CLIENT_TOKEN.fullmatch(token):
        raise invalid("clientToken", "must be 1 to 64 of A-Z a-z 0-9 . _ -")
    role = body.get("executionRoleArn")
    if role is None:
        raise invalid("executionRoleArn", "is required")
    if not isinstance(role, str) or not 20 <= len(role) <= 2048 or not _ROLE_ARN.fullmatch(role):
        raise invalid("executionRoleArn", f"must be an IAM role ARN (got {role!r})")
    fields: dict[str, Any] = {"execution_role_arn": role}
    for key, value in body.items():
        if value is None or key in ("clientToken", "executionRoleArn"):
            continue
        if key == "mode":
            if value != MODE:
                raise invalid(key, f"only {MODE} is supported here (got {value!r})")
        elif key in UNSUPPORTED:
            raise _refuse(key)
        elif key == "jobDriver":
            fields["job_driver"] = _job_driver(value)
        elif key == "configurationOverrides":
            fields["configuration_overrides"] = _overrides(value)
        elif key == "retryPolicy":
            fields["retry_policy"] = _retry_policy(value)
        else:  # name, tags, executionTimeoutMinutes; anything else is refused by the model
            fields[_snake(key)] = value
    try:
        return JobRunCreate.model_validate(fields), token
    except ValidationError as error:
        raise aws_invalid(error) from error


@contextmanager
def in_aws_terms(*, conflict: str = VALIDATION) -> Iterator[None]:
    """The services' errors in EMR Serverless's names for one job run operation.

    A refusal because of a state (the application's or the run's) is a
    ``ValidationException``, as EMR Serverless answers it; any other conflict (a client
    token reused for another request) is ``conflict``, which must be an error the
    operation declares.
    """
    try:
        yield
    except Invalid as error:
        raise aws_invalid(error) from error
    except Conflict as error:
        state = error.reason == "InvalidState"
        code = VALIDATION if state else conflict
        raise AwsError(error.message, code=code, status=400 if code == VALIDATION else 409) from (
            error
        )


def timestamp(value: str | None, field: str) -> datetime | None:
    """A timestamp of the query string (ISO 8601, as botocore sends it, or epoch seconds)."""
    if value is None:
        return None
    try:
        if re.fullmatch(r"\d+(\.\d+)?", value):
            return datetime.fromtimestamp(float(value), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError) as error:
        raise invalid(field, f"must be a timestamp (got {value!r})") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _details(message: str) -> str | None:
    return message.strip()[:_MAX_STATE_DETAILS] or None


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def overrides(value: ConfigurationOverrides) -> dict[str, Any]:
    """``configurationOverrides`` (property names are kept as they are)."""
    shape: dict[str, Any] = {}
    if value.application_configuration:
        shape["applicationConfiguration"] = [
            {"classification": c.classification, "properties": dict(c.properties)}
            for c in value.application_configuration
        ]
    monitoring = value.monitoring_configuration
    if monitoring is not None and monitoring.s3_monitoring_configuration is not None:
        log_uri = monitoring.s3_monitoring_configuration.log_uri
        shape["monitoringConfiguration"] = {"s3MonitoringConfiguration": {"logUri": log_uri}}
    return shape


def _common(run: JobRunPublic, region: str) -> dict[str, Any]:
    return _without_none(
        {
            "applicationId": run.application_id,
            "name": run.name or None,
            "arn": job_run_arn(region, run.studio_id, run.application_id, run.id),
            "createdBy": user_arn(run.studio_id, run.created_by),
            "createdAt": run.created_at.timestamp(),
            "updatedAt": run.updated_at.timestamp(),
            "executionRole": run.execution_role_arn,
            "state": run.status,
            "stateDetails": _details(run.status_reason.message),
            "releaseLabel": run.release_label,
        }
    )


def _current(run: JobRunPublic, attempts: list[JobRunAttemptPublic]) -> JobRunAttemptPublic | None:
    return next((a for a in attempts if a.attempt == run.attempt), None)


def job_run(
    run: JobRunPublic,
    attempts: list[JobRunAttemptPublic],
    region: str,
    *,
    attempt: int | None = None,
) -> dict[str, Any]:
    """A ``JobRun`` (GetJobRun); with ``attempt``, that attempt's state and times."""
    shape = _common(run, region)
    shape["jobRunId"] = run.id
    submit = run.job_driver.spark_submit
    shape["jobDriver"] = {
        "sparkSubmit": _without_none(
            {
                "entryPoint": submit.entry_point,
                "entryPointArguments": list(submit.entry_point_arguments),
                "sparkSubmitParameters": submit.spark_submit_parameters or None,
            }
        )
    }
    shape["configurationOverrides"] = overrides(run.configuration_overrides)
    shape["tags"] = dict(run.tags)
    shape["totalExecutionDurationSeconds"] = round(run.running_seconds)
    shape["totalResourceUtilization"] = _utilization(run.total_resource_utilization)
    shape["billedResourceUtilization"] = _utilization(run.billed_resource_utilization)
    shape["executionTimeoutMinutes"] = run.execution_timeout_minutes
    shape["retryPolicy"] = {"maxAttempts": run.retry_policy.max_attempts}
    shape["mode"] = MODE
    shape["queuedDurationMilliseconds"] = round(run.queued_seconds * 1000)
    chosen = _current(run, attempts)
    if attempt is not None:
        chosen = next((a for a in attempts if a.attempt == attempt), None)
        if chosen is None:
            raise invalid("attempt", f"must be from 1 to {run.attempt} (got {attempt})")
        if attempt != run.attempt:
            shape["state"] = chosen.status
            shape.pop("stateDetails", None)
            details = _details(chosen.status_reason.message)
            if details:
                shape["stateDetails"] = details
    shape["attempt"] = chosen.attempt if chosen else run.attempt
    if chosen is not None:
        shape["attemptCreatedAt"] = chosen.created_at.timestamp()
        shape["attemptUpdatedAt"] = chosen.updated_at.timestamp()
    started = chosen.started_at if attempt is not None and chosen else run.started_at
    ended = chosen.ended_at if attempt is not None and chosen else run.ended_at
    shape.update(_without_none({"startedAt": _epoch(started), "endedAt": _epoch(ended)}))
    return shape


def _utilization(used: ResourceUtilization) -> dict[str, float]:
    return {
        "vCPUHour": used.vcpu_hours,
        "memoryGBHour": used.memory_gb_hours,
        "storageGBHour": used.storage_gb_hours,
    }


def summary(run: JobRunPublic, current: JobRunAttemptPublic | None, region: str) -> dict[str, Any]:
    """A ``JobRunSummary`` (ListJobRuns)."""
    shape = _common(run, region)
    shape.update({"id": run.id, "mode": MODE, "type": TYPE, "attempt": run.attempt})
    if current is not None:
        shape["attemptCreatedAt"] = current.created_at.timestamp()
        shape["attemptUpdatedAt"] = current.updated_at.timestamp()
    return shape


def attempt_summary(run: JobRunPublic, attempt: JobRunAttemptPublic, region: str) -> dict[str, Any]:
    """A ``JobRunAttemptSummary`` (ListJobRunAttempts)."""
    shape = _common(run, region)
    shape.pop("stateDetails", None)
    shape.update(
        _without_none(
            {
                "id": run.id,
                "mode": MODE,
                "type": TYPE,
                "attempt": attempt.attempt,
                "jobCreatedAt": run.created_at.timestamp(),
                "createdAt": attempt.created_at.timestamp(),
                "updatedAt": attempt.updated_at.timestamp(),
                "state": attempt.status,
                "stateDetails": _details(attempt.status_reason.message),
            }
        )
    )
    return shape
