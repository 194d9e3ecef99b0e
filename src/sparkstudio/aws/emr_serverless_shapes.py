"""EMR Serverless's wire shapes (camelCase) ↔ the project's applications (snake_case).

Requests are translated into :class:`ApplicationCreate` / :class:`ApplicationUpdate`, so
that they are checked by the same rules as the native API; every problem is a
``ValidationException`` naming the field as EMR Serverless names it. Fields of EMR
Serverless that the project does not support are refused by name, never dropped.
Answers follow botocore's service model; timestamps are epoch seconds.
"""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from sparkstudio.api.errors import validation_fields
from sparkstudio.aws.arns import account_id, application_arn
from sparkstudio.aws.errors import RESOURCE_NOT_FOUND, VALIDATION, AwsError
from sparkstudio.errors import Invalid
from sparkstudio.lifecycle import ApplicationStatus
from sparkstudio.schemas.applications import (
    ApplicationCreate,
    ApplicationPublic,
    ApplicationUpdate,
)
from sparkstudio.schemas.common import Tags

ARCHITECTURE: Final = "X86_64"
_S = ApplicationStatus
# The project's statuses are EMR Serverless's application states, one for one.
STATES: Final[dict[str, str]] = {status.value: status.value for status in _S}
# EMR Serverless fields the project has no equivalent of, and why.
UNSUPPORTED: Final[dict[str, str]] = {
    "imageConfiguration": "applications run the Spark installed with the platform",
    "networkConfiguration": "applications run on the studio's first network",
    "workerTypeSpecifications": "workers run the Spark installed with the platform",
    "runtimeConfiguration": "Spark properties are not configurable per application",
    "monitoringConfiguration": "logs stay with the platform",
    "diskEncryptionConfiguration": "disks are not encrypted per application",
    "interactiveConfiguration": "interactive sessions are not served",
    "identityCenterConfiguration": "the platform's own sign-in applies",
    "jobLevelCostAllocationConfiguration": "usage is metered per studio",
}
_MAX_STATE_DETAILS: Final = 256


def invalid(field: str, message: str) -> AwsError:
    return AwsError(f"{field}: {message}", code=VALIDATION, status=400)


def camel(name: str) -> str:
    """A project field path in EMR Serverless's spelling (``release_label`` → ``releaseLabel``)."""
    return re.sub(r"_([a-z])", lambda m: m[1].upper(), name)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m[1].lower(), name)


def aws_invalid(error: Invalid | ValidationError) -> AwsError:
    """A project validation error as a ``ValidationException`` in EMR Serverless's names."""
    if isinstance(error, ValidationError):
        fields = validation_fields(list(error.errors()))  # type: ignore[arg-type]
    else:
        fields = error.fields
    if not fields:
        return AwsError(str(error), code=VALIDATION, status=400)
    message = "; ".join(f"{camel(str(f['field']))}: {f['message']}" for f in fields[:5])
    return AwsError(message, code=VALIDATION, status=400)


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(field, "must be an object")
    return value


def _snake_keys(value: Any, field: str) -> dict[str, Any]:
    return {_snake(key): item for key, item in _object(value, field).items()}


def _worker(value: Any, field: str) -> dict[str, Any]:
    config = _snake_keys(value, field)
    disk_type = config.pop("disk_type", None)
    if disk_type not in (None, "STANDARD"):
        raise invalid(
            f"{field}.diskType", f"only STANDARD disks are supported here (got {disk_type!r})"
        )
    return config


def _initial_capacity(value: Any) -> dict[str, Any]:
    field = "initialCapacity"
    capacity: dict[str, Any] = {}
    for worker_type, item in _object(value, field).items():
        config = _snake_keys(item, f"{field}.{worker_type}")
        if "worker_configuration" in config:
            config["worker_configuration"] = _worker(
                config["worker_configuration"], f"{field}.{worker_type}.workerConfiguration"
            )
        capacity[worker_type] = config
    return capacity


def _translate(body: dict[str, Any], *, ignored: frozenset[str]) -> dict[str, Any]:
    """A request body in the project's names; unsupported fields refused by name."""
    fields: dict[str, Any] = {}
    for key, value in body.items():
        if key in ignored or value is None:
            continue
        if key in UNSUPPORTED:
            raise invalid(key, f"is not supported here: {UNSUPPORTED[key]}")
        if key == "architecture":
            if value != ARCHITECTURE:
                raise invalid(key, f"only {ARCHITECTURE} is supported here (got {value!r})")
        elif key == "initialCapacity":
            fields["initial_capacity"] = _initial_capacity(value)
        elif key == "maximumCapacity":
            fields["maximum_capacity"] = _worker(value, key)
        elif key in ("autoStartConfiguration", "autoStopConfiguration", "schedulerConfiguration"):
            fields[_snake(key)] = _snake_keys(value, key)
        else:  # name, releaseLabel, type, tags; anything else is refused by the model
            fields[_snake(key)] = value
    return fields


def create_request(body: dict[str, Any]) -> tuple[ApplicationCreate, str | None]:
    """CreateApplication's body as the project's create request, and its client token."""
    token = body.get("clientToken")
    if token is not None and (
        not isinstance(token, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", token)
    ):
        raise invalid("clientToken", "must be 1 to 64 of A-Z a-z 0-9 . _ -")
    try:
        data = ApplicationCreate.model_validate(
            _translate(body, ignored=frozenset({"clientToken"}))
        )
    except ValidationError as error:
        raise aws_invalid(error) from error
    return data, token


def update_request(body: dict[str, Any]) -> ApplicationUpdate:
    """UpdateApplication's body (an update is idempotent: its client token is not needed)."""
    if "tags" in body:  # not a field of UpdateApplication in EMR Serverless
        raise invalid("tags", "is not a field of UpdateApplication; use TagResource")
    try:
        return ApplicationUpdate.model_validate(
            _translate(body, ignored=frozenset({"clientToken"}))
        )
    except ValidationError as error:
        raise aws_invalid(error) from error


_TAGS: Final = TypeAdapter(Tags)


def tags_request(body: dict[str, Any]) -> dict[str, str]:
    """TagResource's body: its ``tags``, checked as the project checks tags."""
    unknown = sorted(set(body) - {"tags"})
    if unknown:
        raise invalid(unknown[0], "is not a field of TagResource")
    try:
        return dict(_TAGS.validate_python(body.get("tags"), strict=True))
    except ValidationError as error:
        fields = validation_fields(list(error.errors()))  # type: ignore[arg-type]
        where = ".".join(part for part in ("tags", fields[0]["field"]) if part)
        raise invalid(where, fields[0]["message"]) from error


def application_id_of(arn: str, region: str, studio_id: str) -> str:
    """The application an ARN names in the caller's studio (its account) and region."""
    match = re.fullmatch(
        r"arn:aws[a-zA-Z0-9-]*:emr-serverless:([^:]+):(\d{12}):/applications/([0-9A-Za-z-]+)",
        arn,
    )
    if match is None:
        raise invalid("resourceArn", f"must be an EMR Serverless application ARN (got {arn!r})")
    if (match[1], match[2]) != (region, account_id(studio_id)):
        raise AwsError(f"no resource {arn}", code=RESOURCE_NOT_FOUND, status=404)
    return match[3]


def _state(application: ApplicationPublic) -> str:
    return STATES[application.status]


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def summary(application: ApplicationPublic, region: str) -> dict[str, Any]:
    """An ``ApplicationSummary`` (ListApplications)."""
    shape: dict[str, Any] = {
        "id": application.id,
        "name": application.name,
        "arn": application_arn(region, application.studio_id, application.id),
        "releaseLabel": application.release_label,
        "type": application.type,
        "state": _state(application),
        "createdAt": application.created_at.timestamp(),
        "updatedAt": application.updated_at.timestamp(),
        "architecture": ARCHITECTURE,
    }
    if application.status_reason.message:
        shape["stateDetails"] = application.status_reason.message[:_MAX_STATE_DETAILS]
    return shape


def application(app: ApplicationPublic, region: str) -> dict[str, Any]:
    """An ``Application`` (GetApplication, UpdateApplication)."""
    shape = summary(app, region)
    shape["applicationId"] = shape.pop("id")
    shape["initialCapacity"] = {
        worker_type: {
            "workerCount": config.worker_count,
            "workerConfiguration": _without_none(config.worker_configuration.model_dump()),
        }
        for worker_type, config in app.initial_capacity.items()
    }
    if app.maximum_capacity is not None:
        shape["maximumCapacity"] = _without_none(app.maximum_capacity.model_dump())
    shape["tags"] = dict(app.tags)
    shape["autoStartConfiguration"] = {"enabled": app.auto_start_configuration.enabled}
    shape["autoStopConfiguration"] = {
        "enabled": app.auto_stop_configuration.enabled,
        "idleTimeoutMinutes": app.auto_stop_configuration.idle_timeout_minutes,
    }
    shape["schedulerConfiguration"] = {
        "maxConcurrentRuns": app.scheduler_configuration.max_concurrent_runs,
        "queueTimeoutMinutes": app.scheduler_configuration.queue_timeout_minutes,
    }
    return shape
