"""EMR Serverless job run operations through an unmodified boto3 client, without Spark.

Nothing here starts an application: StartJobRun is exercised on its refusals, and runs
are written straight into the metadata database (as StartJobRun writes them) to check
the answers' shapes, listing and paging. Such runs are never picked up by the job run
controller unless a CancelJobRun wakes them, so their states are the ones written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sparkstudio import lifecycle
from sparkstudio.aws.arns import account_id
from sparkstudio.db.models import JobRun, JobRunAttempt
from sparkstudio.db.session import Database
from sparkstudio.ids import new_id
from sparkstudio.lifecycle import JOB_RUN, Reason
from sparkstudio.server import ControlPlane
from sparkstudio.services.job_runs import TARGET_RUN, attempt_log_prefix
from tests.integration.test_aws_applications import RELEASE, wait_for_state
from tests.integration.test_aws_keys import (
    REGION,
    aws_error,
    create_pair,
    emr_serverless,
    signed_request,
)
from tests.support import BOTH_DATABASES, NewUser, UserClient, add_member, create_studio, unique

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both

ROLE = "arn:aws:iam::123456789012:role/EMRServerlessJobRole"


def spark_submit(lake: str) -> dict[str, Any]:
    """A job whose script and data are in ``lake``."""
    return {
        "entryPoint": f"{lake}/jobs/wordcount.py",
        "entryPointArguments": [f"{lake}/in/", f"{lake}/out/"],
        "sparkSubmitParameters": "--conf spark.executor.cores=1",
    }


# For runs that are refused before their locations are looked at, or written as recorded.
SPARK_SUBMIT = spark_submit("s3://a-bucket")


@dataclass(frozen=True)
class Setup:
    """A developer's boto3 client, their studio, and a CREATED application of it with
    auto-start off (so nothing ever starts it)."""

    emr: Any
    pair: dict[str, Any]
    user: UserClient
    studio: dict[str, Any]
    application_id: str
    lake: str  # the object-store location a platform admin allowed the studio


@pytest.fixture
def setup(
    control_plane: ControlPlane,
    admin: UserClient,
    new_user: NewUser,
    lake: str,
    lake_studio: dict[str, Any],
) -> Setup:
    user, studio = new_user(), lake_studio
    add_member(admin, studio["id"], user=user.name)
    pair = create_pair(user, studio["id"])
    emr = emr_serverless(control_plane, pair)
    application_id = emr.create_application(
        name=unique("jobs"),
        releaseLabel=RELEASE,
        type="SPARK",
        autoStartConfiguration={"enabled": False},
    )["applicationId"]
    wait_for_state(emr, application_id, {"CREATED"})
    return Setup(emr, pair, user, studio, application_id, lake)


def start(setup: Setup, **fields: Any) -> Any:
    request = {
        "applicationId": setup.application_id,
        "executionRoleArn": ROLE,
        "jobDriver": {"sparkSubmit": spark_submit(setup.lake)},
        **fields,
    }
    return setup.emr.start_job_run(**request)


def insert_run(
    database: Database,
    setup: Setup,
    *,
    status: str = "SUBMITTED",
    attempts: int = 1,
    created_at: datetime | None = None,
    **fields: Any,
) -> str:
    """A run of the setup's application, as StartJobRun writes one, in ``status``."""
    run_id = new_id("jr")
    with database.transaction() as db:
        run = JobRun(
            id=run_id,
            application_id=setup.application_id,
            studio_id=setup.studio["id"],
            name=fields.pop("name", ""),
            created_by=setup.user.name,
            execution_role_arn=ROLE,
            release_label=RELEASE,
            entry_point=SPARK_SUBMIT["entryPoint"],
            entry_point_arguments=list(SPARK_SUBMIT["entryPointArguments"]),
            spark_submit_parameters=SPARK_SUBMIT["sparkSubmitParameters"],
            configuration_overrides={},
            tags={},
            execution_timeout_minutes=720,
            max_attempts=max(attempts, 1),
            attempt=attempts,
            log_uri="file:///tmp/sparkstudio-test-logs",
            **fields,
        )
        lifecycle.initialize(db, JOB_RUN, run, Reason("USER_REQUEST", "submitted"), "tester")
        run.target = TARGET_RUN
        run.status = status
        if created_at is not None:
            run.created_at = created_at
        db.add(run)
        db.flush()
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            db.add(
                JobRunAttempt(
                    job_run_id=run_id,
                    attempt=attempt,
                    status=status if last else "FAILED",
                    status_reason_message="" if last else "attempt failed: exit code 1",
                    log_uri=attempt_log_prefix(run, attempt),
                )
            )
    return run_id


def wait_for_run(emr: Any, application_id: str, run_id: str, states: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        run: dict[str, Any] = emr.get_job_run(applicationId=application_id, jobRunId=run_id)[
            "jobRun"
        ]
        if run["state"] in states or time.monotonic() > deadline:
            assert run["state"] in states, run
            return run
        time.sleep(0.2)


# --- StartJobRun's refusals --------------------------------------------------------------


def test_a_run_needs_a_started_application_when_auto_start_is_off(setup: Setup) -> None:
    status, code, message = aws_error(lambda: start(setup))
    assert (status, code) == (400, "ValidationException")
    assert setup.application_id in message and "auto-start is off" in message
    assert setup.emr.list_job_runs(applicationId=setup.application_id)["jobRuns"] == []
    # Nothing was started on the way.
    application = setup.emr.get_application(applicationId=setup.application_id)["application"]
    assert application["state"] == "CREATED"

    setup.emr.delete_application(applicationId=setup.application_id)
    wait_for_state(setup.emr, setup.application_id, {"TERMINATED"})
    status, code, message = aws_error(lambda: start(setup))
    assert (status, code) == (400, "ValidationException") and "TERMINATED" in message

    status, code, _ = aws_error(
        lambda: setup.emr.start_job_run(
            applicationId="app-nosuch",
            executionRoleArn=ROLE,
            jobDriver={"sparkSubmit": SPARK_SUBMIT},
        )
    )
    assert (status, code) == (404, "ResourceNotFoundException")


@pytest.mark.parametrize(
    ("fields", "named", "says"),
    [
        ({"jobDriver": {"hive": {"query": "SELECT 1"}}}, "jobDriver.hive:", "not supported"),
        (
            {"jobDriver": {"sparkSubmit": {"entryPoint": "/jobs/a\nb.py"}}},
            "jobDriver.sparkSubmit.entryPoint:",
            "",
        ),
        ({"mode": "STREAMING"}, "mode:", "only BATCH"),
        ({"retryPolicy": {"maxAttempts": 11}}, "retryPolicy.maxAttempts:", "10"),
        (
            {"retryPolicy": {"maxAttempts": 2, "maxFailedAttemptsPerHour": 5}},
            "retryPolicy.maxFailedAttemptsPerHour:",
            "not supported",
        ),
        ({"executionIamPolicy": {"policy": "{}"}}, "executionIamPolicy:", "not supported"),
        ({"executionRoleArn": "arn:aws:iam::1:user/not-a-role"}, "executionRoleArn:", "role"),
        ({"executionTimeoutMinutes": 2_000_000}, "executionTimeoutMinutes:", ""),
        (
            {
                "configurationOverrides": {
                    "applicationConfiguration": [
                        {"classification": "spark-env", "properties": {"A": "1"}}
                    ]
                }
            },
            "configurationOverrides.applicationConfiguration.0.classification:",
            "spark-defaults",
        ),
        (
            {
                "configurationOverrides": {
                    "monitoringConfiguration": {"cloudWatchLoggingConfiguration": {"enabled": True}}
                }
            },
            "configurationOverrides.monitoringConfiguration.cloudWatchLoggingConfiguration:",
            "not supported",
        ),
        (
            {
                "configurationOverrides": {
                    "monitoringConfiguration": {
                        "s3MonitoringConfiguration": {
                            "logUri": "s3://logs/",
                            "encryptionKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k-1",
                        }
                    }
                }
            },
            "configurationOverrides.monitoringConfiguration.s3MonitoringConfiguration."
            "encryptionKeyArn:",
            "not supported",
        ),
        (
            {
                "configurationOverrides": {
                    "diskEncryptionConfiguration": {"encryptionContext": {"a": "b"}}
                }
            },
            "configurationOverrides.diskEncryptionConfiguration:",
            "not supported",
        ),
        ({"tags": {"bad key!": "v"}}, "tags", ""),
    ],
)
def test_start_refuses_what_is_not_supported_naming_the_member(
    setup: Setup, fields: dict[str, Any], named: str, says: str
) -> None:
    status, code, message = aws_error(lambda: start(setup, **fields))
    assert (status, code) == (400, "ValidationException")
    assert message.startswith(named) and says in message, message


def test_start_needs_its_client_token_and_a_job_driver(
    control_plane: ControlPlane, setup: Setup
) -> None:
    path = f"/applications/{setup.application_id}/jobruns"
    body = b'{"executionRoleArn": "%s", "jobDriver": {"sparkSubmit": {"entryPoint": "/x.py"}}}'
    raw = signed_request(control_plane, setup.pair, "POST", path, body % ROLE.encode())
    assert (raw.status_code, raw.headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert raw.json()["message"].startswith("clientToken: ")
    raw = signed_request(
        control_plane,
        setup.pair,
        "POST",
        path,
        b'{"clientToken": "t-1", "executionRoleArn": "%s"}' % ROLE.encode(),
    )
    assert (raw.status_code, raw.headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert raw.json()["message"].startswith("jobDriver: ")


def test_unsigned_or_badly_signed_requests_learn_nothing(
    control_plane: ControlPlane, setup: Setup
) -> None:
    unsigned = emr_serverless(control_plane, setup.pair, unsigned=True)
    wrong = emr_serverless(control_plane, setup.pair, secret="x" * 40)
    for client, expected in (
        (unsigned, "MissingAuthenticationTokenException"),
        (wrong, "InvalidSignatureException"),
    ):
        for call in (
            lambda c=client: c.list_job_runs(applicationId=setup.application_id),
            lambda c=client: c.get_job_run(applicationId=setup.application_id, jobRunId="jr-x"),
            lambda c=client: c.cancel_job_run(applicationId="app-nosuch", jobRunId="jr-x"),
            lambda c=client: c.start_job_run(
                applicationId=setup.application_id,
                executionRoleArn=ROLE,
                jobDriver={"sparkSubmit": SPARK_SUBMIT},
            ),
        ):
            assert aws_error(call)[:2] == (403, expected)


# --- runs written into the database ------------------------------------------------------


def test_get_job_run_and_its_attempts_answer_emr_serverless_shapes(
    setup: Setup, database: Database
) -> None:
    run_id = insert_run(database, setup, status="RUNNING", attempts=2, name="nightly")
    emr, app = setup.emr, setup.application_id
    account = account_id(setup.studio["id"])
    arn = f"arn:aws:emr-serverless:{REGION}:{account}:/applications/{app}/jobruns/{run_id}"

    run = emr.get_job_run(applicationId=app, jobRunId=run_id)["jobRun"]
    assert isinstance(run["createdAt"], datetime) and isinstance(run["updatedAt"], datetime)
    assert isinstance(run["attemptCreatedAt"], datetime)
    assert isinstance(run["attemptUpdatedAt"], datetime)
    expected = {
        "applicationId": app,
        "jobRunId": run_id,
        "name": "nightly",
        "arn": arn,
        "createdBy": f"arn:aws:iam::{account}:user/{setup.user.name}",
        "executionRole": ROLE,
        "state": "RUNNING",
        "stateDetails": "submitted",
        "releaseLabel": RELEASE,
        "jobDriver": {"sparkSubmit": SPARK_SUBMIT},
        "configurationOverrides": {},
        "tags": {},
        "totalExecutionDurationSeconds": 0,
        "totalResourceUtilization": {"vCPUHour": 0.0, "memoryGBHour": 0.0, "storageGBHour": 0.0},
        "billedResourceUtilization": {"vCPUHour": 0.0, "memoryGBHour": 0.0, "storageGBHour": 0.0},
        "executionTimeoutMinutes": 720,
        "retryPolicy": {"maxAttempts": 2},
        "attempt": 2,
        "mode": "BATCH",
        "queuedDurationMilliseconds": 0,
    }
    assert {key: run[key] for key in expected} == expected
    assert "endedAt" not in run

    first = emr.get_job_run(applicationId=app, jobRunId=run_id, attempt=1)["jobRun"]
    assert (first["attempt"], first["state"]) == (1, "FAILED")
    assert first["stateDetails"] == "attempt failed: exit code 1"
    status, code, message = aws_error(
        lambda: emr.get_job_run(applicationId=app, jobRunId=run_id, attempt=3)
    )
    assert (status, code) == (400, "ValidationException") and message.startswith("attempt:")

    attempts = emr.list_job_run_attempts(applicationId=app, jobRunId=run_id)["jobRunAttempts"]
    assert [(a["attempt"], a["state"]) for a in attempts] == [(1, "FAILED"), (2, "RUNNING")]
    for attempt in attempts:
        assert {k: attempt[k] for k in ("applicationId", "id", "arn", "name", "mode")} == {
            "applicationId": app,
            "id": run_id,
            "arn": arn,
            "name": "nightly",
            "mode": "BATCH",
        }
        assert attempt["jobCreatedAt"] == run["createdAt"]
        assert isinstance(attempt["createdAt"], datetime)
        assert attempt["executionRole"] == ROLE and attempt["releaseLabel"] == RELEASE
        assert attempt["createdBy"] == expected["createdBy"]
    paged = emr.get_paginator("list_job_run_attempts").paginate(
        applicationId=app, jobRunId=run_id, PaginationConfig={"PageSize": 1}
    )
    assert [a["attempt"] for page in paged for a in page["jobRunAttempts"]] == [1, 2]

    # GetDashboardForJobRun: a run with no Spark UI yet is refused by a declared error.
    status, code, message = aws_error(
        lambda: emr.get_dashboard_for_job_run(applicationId=app, jobRunId=run_id)
    )
    assert (status, code) == (400, "ValidationException") and "has no Spark UI" in message


def test_unknown_applications_and_runs_are_not_found(setup: Setup, database: Database) -> None:
    emr, app = setup.emr, setup.application_id
    run_id = insert_run(database, setup)
    for call in (
        lambda: emr.get_job_run(applicationId=app, jobRunId="jr-nosuch"),
        lambda: emr.get_job_run(applicationId="app-nosuch", jobRunId=run_id),
        lambda: emr.cancel_job_run(applicationId=app, jobRunId="jr-nosuch"),
        lambda: emr.cancel_job_run(applicationId="app-nosuch", jobRunId=run_id),
        lambda: emr.list_job_run_attempts(applicationId=app, jobRunId="jr-nosuch"),
        lambda: emr.get_dashboard_for_job_run(applicationId=app, jobRunId="jr-nosuch"),
    ):
        assert aws_error(call)[:2] == (404, "ResourceNotFoundException")
    # ListJobRuns declares no ResourceNotFoundException.
    status, code, message = aws_error(lambda: emr.list_job_runs(applicationId="app-nosuch"))
    assert (status, code) == (400, "ValidationException") and message.startswith("applicationId")


def test_a_run_of_another_studio_is_not_found(
    control_plane: ControlPlane, admin: UserClient, setup: Setup, database: Database
) -> None:
    run_id = insert_run(database, setup)
    other = create_studio(admin)
    add_member(admin, other["id"], user=setup.user.name)
    emr_other = emr_serverless(control_plane, create_pair(setup.user, other["id"]))
    call = lambda: emr_other.get_job_run(applicationId=setup.application_id, jobRunId=run_id)  # noqa: E731
    assert aws_error(call)[:2] == (404, "ResourceNotFoundException")


def test_cancel_ends_a_run_once_and_an_ended_run_is_refused(
    setup: Setup, database: Database
) -> None:
    emr, app = setup.emr, setup.application_id
    run_id = insert_run(database, setup)
    answer = emr.cancel_job_run(applicationId=app, jobRunId=run_id)
    answer.pop("ResponseMetadata")
    assert answer == {"applicationId": app, "jobRunId": run_id}
    cancelled = wait_for_run(emr, app, run_id, {"CANCELLED"})
    assert cancelled["endedAt"] >= cancelled["createdAt"]
    status, code, message = aws_error(
        lambda: emr.cancel_job_run(applicationId=app, jobRunId=run_id)
    )
    assert (status, code) == (400, "ValidationException") and "CANCELLED" in message

    ended = insert_run(database, setup, status="SUCCESS")
    status, code, message = aws_error(lambda: emr.cancel_job_run(applicationId=app, jobRunId=ended))
    assert (status, code) == (400, "ValidationException") and "SUCCESS" in message
    status, code, _ = aws_error(
        lambda: emr.cancel_job_run(
            applicationId=app, jobRunId=ended, shutdownGracePeriodInSeconds=30
        )
    )
    assert (status, code) == (400, "ValidationException")


def test_list_filters_by_state_and_time_and_pages(setup: Setup, database: Database) -> None:
    emr, app = setup.emr, setup.application_id
    long_ago = datetime.now(UTC) - timedelta(days=3)
    old = insert_run(database, setup, status="FAILED", created_at=long_ago)
    runs = {
        insert_run(database, setup, status="SUCCESS"): "SUCCESS",
        insert_run(database, setup, status="SUCCESS"): "SUCCESS",
        insert_run(database, setup, status="SUBMITTED"): "SUBMITTED",
        insert_run(database, setup, status="FAILED"): "FAILED",
    }
    everything = {**runs, old: "FAILED"}

    listed = emr.list_job_runs(applicationId=app)["jobRuns"]
    assert {r["id"]: r["state"] for r in listed} == everything
    summary = next(r for r in listed if r["id"] == old)
    assert summary["arn"].endswith(f":/applications/{app}/jobruns/{old}")
    assert (summary["mode"], summary["type"], summary["attempt"]) == ("BATCH", "SPARK", 1)
    assert summary["executionRole"] == ROLE and summary["releaseLabel"] == RELEASE
    assert isinstance(summary["attemptCreatedAt"], datetime)
    assert "name" not in summary  # no name given: none answered (the model's minimum is 1)

    seen, token, pages = [], None, 0
    while True:
        page = emr.list_job_runs(
            applicationId=app, maxResults=2, **({"nextToken": token} if token else {})
        )
        assert len(page["jobRuns"]) <= 2
        seen += [r["id"] for r in page["jobRuns"]]
        pages += 1
        token = page.get("nextToken")
        if token is None:
            break
    assert sorted(seen) == sorted(everything) and pages == 3
    paginated = emr.get_paginator("list_job_runs").paginate(
        applicationId=app, PaginationConfig={"PageSize": 2}
    )
    assert sorted(r["id"] for p in paginated for r in p["jobRuns"]) == sorted(everything)
    paginated = emr.get_paginator("list_job_runs").paginate(
        applicationId=app, states=["SUCCESS", "SUBMITTED"], PaginationConfig={"PageSize": 1}
    )
    assert sorted(r["id"] for p in paginated for r in p["jobRuns"]) == sorted(
        run for run, state in runs.items() if state in ("SUCCESS", "SUBMITTED")
    )

    failed = emr.list_job_runs(applicationId=app, states=["FAILED"])["jobRuns"]
    assert sorted(r["id"] for r in failed) == sorted(
        [old, *(k for k, v in runs.items() if v == "FAILED")]
    )
    recent = emr.list_job_runs(applicationId=app, createdAtAfter=long_ago + timedelta(days=1))
    assert sorted(r["id"] for r in recent["jobRuns"]) == sorted(runs)
    before = emr.list_job_runs(applicationId=app, createdAtBefore=long_ago + timedelta(days=1))
    assert [r["id"] for r in before["jobRuns"]] == [old]
    assert emr.list_job_runs(applicationId=app, mode="STREAMING")["jobRuns"] == []

    status, code, _ = aws_error(lambda: emr.list_job_runs(applicationId=app, states=["DONE"]))
    assert (status, code) == (400, "ValidationException")
    status, code, message = aws_error(lambda: emr.list_job_runs(applicationId=app, nextToken="x"))
    assert (status, code) == (400, "ValidationException") and message.startswith("nextToken")
