"""Job runs through the API, the client and the CLI, without starting Spark.

Submitting to an application that is not started, with auto-start off, is refused; runs
the API cannot make without Spark are written into the database as a submission writes
them (the job run controller is not woken, so they stay as written).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from sparkstudio.auth.identity import Principal
from sparkstudio.client import Client
from sparkstudio.db.models import Application, JobRun, Studio
from sparkstudio.db.session import Database
from sparkstudio.errors import Conflict, Invalid
from sparkstudio.schemas.job_runs import JobRunCreate
from sparkstudio.server import ControlPlane
from sparkstudio.serverless import job_logs
from sparkstudio.serverless.releases import supported_release_labels
from sparkstudio.services.applications import TARGET_STARTED
from sparkstudio.services.job_runs import start_job_run
from sparkstudio.settings import Settings
from tests.cli.test_cli import run as run_cli
from tests.cli.test_cluster_cli import Env, _env, _fails, _json
from tests.support import (
    BOTH_DATABASES,
    NewUser,
    UserClient,
    add_member,
    create_studio,
    expect,
    expect_error,
    field_names,
    in_storage,
    unique,
    wait_for_application,
)

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both

LABEL = next(iter(supported_release_labels()))
ENTRY_POINT = "jobs/etl.py"  # in the studio's storage: where its members may name scripts


def entry_point(studio: dict[str, Any]) -> str:
    return in_storage(studio, ENTRY_POINT)


def run_body(studio: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A run of a script in ``studio``'s storage (it need not be there: nothing runs it)."""
    return {"job_driver": {"spark_submit": {"entry_point": entry_point(studio)}}, **fields}


def create_application(client: UserClient, studio_id: str, **fields: Any) -> dict[str, Any]:
    """An application with auto-start off: nothing ever starts it here."""
    body = {
        "name": unique("app"),
        "release_label": LABEL,
        "auto_start_configuration": {"enabled": False},
        **fields,
    }
    created = expect(client.post(f"/studios/{studio_id}/applications", json=body), 201)
    return wait_for_application(client, studio_id, created["id"], {"CREATED"})


def insert_job_run(
    database: Database,
    settings: Settings,
    application_id: str,
    *,
    body: dict[str, Any] | None = None,
    stdout: str | None = None,
    ui_url: str = "",
) -> str:
    """Write a SUBMITTED run as a submission does, without starting the application or
    waking the controller; ``stdout`` becomes its first attempt's log on this host."""
    principal = Principal(
        user_id="", name="admin", is_platform_admin=True, group_ids=frozenset(),
        token_id="", token_kind="session",
    )  # fmt: skip
    with database.transaction() as db:
        application = db.get(Application, application_id)
        assert application is not None
        studio = db.get(Studio, application.studio_id)
        assert studio is not None
        own = {"storage_location": studio.storage_location}
        data = JobRunCreate.model_validate(body or run_body(own))
        target = application.target
        application.target = TARGET_STARTED  # as if started: the submission takes it as is
        run = start_job_run(db, studio, application, data, principal)
        application.target = target
        run.ui_url = ui_url
        job_run_id = run.id
        if stdout is not None:
            folder = job_logs.attempt_dir(settings, run, 1)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "stdout").write_text(stdout)
    return job_run_id


@pytest.fixture
def application(admin: UserClient, studio: dict[str, Any]) -> dict[str, Any]:
    return create_application(admin, studio["id"])


def runs_path(application: dict[str, Any]) -> str:
    return f"/studios/{application['studio_id']}/applications/{application['id']}/job-runs"


# --- submission -------------------------------------------------------------------------


def test_a_stopped_application_without_auto_start_takes_no_run(
    admin: UserClient, studio: dict[str, Any], application: dict[str, Any]
) -> None:
    path = runs_path(application)
    error = expect_error(admin.post(path, json=run_body(studio)), 409, "InvalidState")
    assert "auto-start is off" in error["message"] and application["id"] in error["message"]
    assert expect(admin.get(path), 200) == {"items": [], "next_token": None}
    still = expect(admin.get(path.removesuffix("/job-runs")), 200)
    assert still["status"] == "CREATED" and still["target"] != "STARTED"  # not auto-started


def test_a_deleted_application_takes_no_run(admin: UserClient, studio: dict[str, Any]) -> None:
    app = create_application(admin, studio["id"])
    expect(admin.delete(f"/studios/{studio['id']}/applications/{app['id']}"), 202)
    wait_for_application(admin, studio["id"], app["id"], {"TERMINATED"})
    error = expect_error(admin.post(runs_path(app), json=run_body(studio)), 409, "InvalidState")
    assert "TERMINATED" in error["message"]


Body = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        pytest.param(
            lambda studio: {"job_driver": {"spark_submit": {"entry_point": ""}}},
            "job_driver.spark_submit.entry_point",
            "at least 1",
            id="empty-entry-point",
        ),
        pytest.param(
            lambda studio: run_body(studio, retry_policy={"max_attempts": 0}),
            "retry_policy.max_attempts",
            "1",
            id="no-attempt",
        ),
        pytest.param(
            lambda studio: run_body(studio, retry_policy={"max_attempts": 11}),
            "retry_policy.max_attempts",
            "10",
            id="eleven-attempts",
        ),
        pytest.param(
            lambda studio: run_body(
                studio,
                configuration_overrides={
                    "application_configuration": [
                        {"classification": "spark-env", "properties": {"A": "b"}}
                    ]
                },
            ),
            "configuration_overrides.application_configuration.0.classification",
            "spark-defaults",
            id="other-classification",
        ),
        pytest.param(
            lambda studio: run_body(
                studio,
                configuration_overrides={
                    "monitoring_configuration": {
                        "s3_monitoring_configuration": {"log_uri": "hdfs://logs/"}
                    }
                },
            ),
            "configuration_overrides.monitoring_configuration.s3_monitoring_configuration.log_uri",
            "s3://",
            id="log-uri-scheme",
        ),
        pytest.param(
            lambda studio: run_body(studio, execution_timeout_minutes=-1),
            "execution_timeout_minutes",
            "0",
            id="negative-timeout",
        ),
        pytest.param(
            lambda studio: {
                "job_driver": {
                    "spark_submit": {
                        "entry_point": entry_point(studio),
                        "spark_submit_parameters": "--master local",
                    }
                }
            },
            "job_driver.spark_submit.spark_submit_parameters",
            "--master is set by the platform",
            id="platform-option",
        ),
        pytest.param(
            lambda studio: {"job_driver": {"spark_submit": {"entry_point": "/opt/jobs/etl.py"}}},
            "job_driver.spark_submit.entry_point",
            "must be under",
            id="outside-the-studio",
        ),
        pytest.param(lambda studio: run_body(studio, mode="batch"), "mode", "", id="unknown-field"),
        pytest.param(lambda studio: {}, "job_driver", "", id="no-job-driver"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    admin: UserClient,
    studio: dict[str, Any],
    application: dict[str, Any],
    body: Body,
    field: str,
    words: str,
) -> None:
    response = admin.post(runs_path(application), json=body(studio))
    error = expect_error(response, 422, "ValidationError")
    assert field_names(error) == [field]
    assert field in error["message"] and words in error["message"]
    assert expect(admin.get(runs_path(application)), 200)["items"] == []


def test_spark_defaults_keys_are_spark_properties(
    admin: UserClient, studio: dict[str, Any], application: dict[str, Any]
) -> None:
    overrides = {
        "application_configuration": [
            {"classification": "spark-defaults", "properties": {"executor.memory": "2g"}}
        ]
    }
    body = run_body(studio, configuration_overrides=overrides)
    error = expect_error(admin.post(runs_path(application), json=body), 422, "ValidationError")
    [field] = field_names(error)
    assert field.startswith("configuration_overrides.application_configuration")
    assert "'spark.'" in error["message"] and "executor.memory" in error["message"]


@pytest.mark.parametrize("token", ["", "x" * 65, "has space", "semi;colon"])
def test_a_client_token_is_1_to_64_letters_digits_dashes_underscores_dots(
    admin: UserClient, studio: dict[str, Any], application: dict[str, Any], token: str
) -> None:
    response = admin.post(
        runs_path(application), params={"client_token": token}, json=run_body(studio)
    )
    assert field_names(expect_error(response, 422)) == ["query.client_token"]


# --- reading runs -----------------------------------------------------------------------


def test_a_run_is_described_listed_and_its_attempts_logs_and_events_read(
    admin: UserClient,
    studio: dict[str, Any],
    application: dict[str, Any],
    database: Database,
    control_plane: ControlPlane,
) -> None:
    settings = control_plane.settings
    log_uri = in_storage(studio, "job-logs/etl")
    body = run_body(
        studio,
        name="etl",
        configuration_overrides={
            "application_configuration": [
                {"classification": "spark-defaults", "properties": {"spark.x": "1"}}
            ],
            "monitoring_configuration": {"s3_monitoring_configuration": {"log_uri": log_uri}},
        },
        retry_policy={"max_attempts": 3},
        tags={"team": "data"},
    )
    first = insert_job_run(
        database, settings, application["id"], body=body, stdout="line 1\nline 2\n"
    )
    second = insert_job_run(database, settings, application["id"])
    path = runs_path(application)

    run = expect(admin.get(f"{path}/{first}"), 200)
    assert (run["status"], run["attempt"], run["name"]) == ("SUBMITTED", 1, "etl")
    assert run["retry_policy"] == {"max_attempts": 3} and run["tags"] == {"team": "data"}
    assert run["log_uri"] == log_uri and run["release_label"] == LABEL
    assert run["job_driver"]["spark_submit"]["entry_point"] == entry_point(studio)
    assert run["configuration_overrides"]["application_configuration"][0]["properties"] == {
        "spark.x": "1"
    }
    assert "state" not in run and "client_token" not in run

    listed = expect(admin.get(path), 200)
    assert [r["id"] for r in listed["items"]] == [first, second]
    one = expect(admin.get(path, params={"limit": 1}), 200)
    rest = expect(admin.get(path, params={"limit": 1, "next_token": one["next_token"]}), 200)
    assert [r["id"] for r in one["items"] + rest["items"]] == [first, second]
    assert expect(admin.get(path, params={"states": "RUNNING"}), 200)["items"] == []
    after = expect(admin.get(path, params={"created_after": run["created_at"]}), 200)["items"]
    assert first in [r["id"] for r in after]
    before = {"created_before": "2000-01-01T00:00:00Z"}
    assert expect(admin.get(path, params=before), 200)["items"] == []
    bad = expect_error(admin.get(path, params={"states": "STARTED"}), 422)
    assert field_names(bad) == ["query.states.0"] and "RUNNING" in bad["message"]

    attempts = expect(admin.get(f"{path}/{first}/attempts"), 200)["items"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "SUBMITTED")]
    assert attempts[0]["log_uri"] == (
        f"{log_uri}/applications/{application['id']}/jobs/{first}/attempts/1"
    )

    logs = admin.get(f"{path}/{first}/logs")
    assert logs.status_code == 200 and logs.headers["content-type"].startswith("text/plain")
    assert logs.text == "line 1\nline 2\n"
    assert admin.get(f"{path}/{first}/logs", params={"tail_bytes": 7}).text == "line 2\n"
    for params, field in (
        ({"stream": "syslog"}, "query.stream"),
        ({"tail_bytes": 0}, "query.tail_bytes"),
        ({"tail_bytes": (1 << 20) + 1}, "query.tail_bytes"),
        ({"attempt": 0}, "query.attempt"),
    ):
        assert field_names(expect_error(admin.get(f"{path}/{first}/logs", params=params), 422)) == [
            field
        ]
    later = expect_error(admin.get(f"{path}/{first}/logs", params={"attempt": 2}), 422)
    assert field_names(later) == ["attempt"] and "1 to 1" in later["message"]

    events = expect(admin.get(f"{path}/{first}/events"), 200)["items"]
    assert [(e["from_status"], e["to_status"]) for e in events] == [(None, "SUBMITTED")]


def test_the_dashboard_is_a_presigned_address_while_a_run_runs_or_a_409_before(
    admin: UserClient,
    application: dict[str, Any],
    database: Database,
    control_plane: ControlPlane,
) -> None:
    """The address names the run; what it shows (the live UI, the history) is checked on
    real Spark."""
    settings = control_plane.settings
    path = runs_path(application)
    waiting = insert_job_run(database, settings, application["id"])
    error = expect_error(admin.get(f"{path}/{waiting}/dashboard"), 409, "InvalidState")
    assert "no Spark UI" in error["message"] and "SUBMITTED" in error["message"]

    # A CONNECT run that runs shows its application driver's live UI ...
    with database.transaction() as db:
        db.execute(
            update(JobRun).where(JobRun.id == waiting).values(status="RUNNING", runtime="CONNECT")
        )
        db.execute(
            update(Application)
            .where(Application.id == application["id"])
            .values(ui_url="http://127.0.0.1:4040")
        )
    # ... a spark-submit one its own driver's; each through an address of the control plane's
    # that names the run and is signed (the driver's own address is never given out).
    submitted = insert_job_run(
        database, settings, application["id"], ui_url="http://127.0.0.1:4041"
    )
    with database.transaction() as db:
        db.execute(
            update(JobRun).where(JobRun.id == submitted).values(status="RUNNING", runtime="CLASSIC")
        )
    for run_id in (waiting, submitted):
        url = expect(admin.get(f"{path}/{run_id}/dashboard"), 200)["url"]
        assert url.startswith(f"{control_plane.url}/dashboards/d1.{run_id}."), url
        assert "4040" not in url and "4041" not in url
        forged = url.replace(f"d1.{run_id}.", f"d1.{waiting if run_id != waiting else submitted}.")
        assert httpx.get(forged).status_code in {403, 404}


def test_a_run_is_cancelled_once(
    admin: UserClient,
    application: dict[str, Any],
    database: Database,
    control_plane: ControlPlane,
) -> None:
    job_run_id = insert_job_run(database, control_plane.settings, application["id"])
    path = f"{runs_path(application)}/{job_run_id}"
    cancelled = expect(admin.post(f"{path}/cancel"), 202)
    assert cancelled["id"] == job_run_id
    run = _wait_for_run(admin, path, {"CANCELLED"})
    assert run["status_reason"]["code"] == "USER_REQUEST"
    again = expect_error(admin.post(f"{path}/cancel"), 409, "InvalidState")
    assert "CANCELLED" in again["message"]
    events = expect(admin.get(f"{path}/events"), 200)["items"]
    assert events[-1]["to_status"] == "CANCELLED"


def _wait_for_run(client: UserClient, path: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        run: dict[str, Any] = expect(client.get(path), 200)
        if run["status"] in statuses or time.monotonic() > deadline:
            assert run["status"] in statuses, run
            return run
        time.sleep(0.1)


# --- what is not there ------------------------------------------------------------------


def test_unknown_runs_and_applications_are_404(
    admin: UserClient,
    studio: dict[str, Any],
    application: dict[str, Any],
    database: Database,
    control_plane: ControlPlane,
) -> None:
    path = runs_path(application)
    for suffix in ("", "/attempts", "/logs", "/dashboard", "/events"):
        error = expect_error(admin.get(f"{path}/jr-0000000000000000{suffix}"), 404, "NotFound")
        assert "jr-0000000000000000" in error["message"]
    expect_error(admin.post(f"{path}/jr-0000000000000000/cancel"), 404, "NotFound")
    expect_error(admin.get(f"{path}/not-an-id"), 404, "NotFound")
    studio_id = application["studio_id"]
    missing = f"/studios/{studio_id}/applications/app-0000000000000000/job-runs"
    expect_error(admin.get(missing), 404, "NotFound")
    expect_error(admin.post(missing, json=run_body(studio)), 404, "NotFound")

    # Another studio's application, and a run of another application, are not there.
    other = create_studio(admin)
    elsewhere = f"/studios/{other['id']}/applications/{application['id']}/job-runs"
    expect_error(admin.get(elsewhere), 404, "NotFound")
    expect_error(admin.post(elsewhere, json=run_body(other)), 404, "NotFound")
    job_run_id = insert_job_run(database, control_plane.settings, application["id"])
    sibling = create_application(admin, studio_id)
    expect_error(admin.get(f"{runs_path(sibling)}/{job_run_id}"), 404, "NotFound")
    expect_error(admin.post(f"{runs_path(sibling)}/{job_run_id}/cancel"), 404, "NotFound")


# --- who may ----------------------------------------------------------------------------


def test_members_use_runs_and_outsiders_see_none(
    admin: UserClient, new_user: NewUser, database: Database, control_plane: ControlPlane
) -> None:
    studio = create_studio(admin)
    developer, outsider, reader = new_user(), new_user(), new_user()
    add_member(admin, studio["id"], user=developer.name)
    read_only = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["application:Describe", "job-run:List", "job-run:Describe"],
            }
        ]
    }
    add_member(admin, studio["id"], user=reader.name, session_policy=read_only)
    app = create_application(developer, studio["id"])
    job_run_id = insert_job_run(database, control_plane.settings, app["id"], stdout="ok\n")
    path = runs_path(app)

    # A developer may submit (refused here only because auto-start is off) and read.
    expect_error(developer.post(path, json=run_body(studio)), 409, "InvalidState")
    expect(developer.get(path), 200)
    expect(developer.get(f"{path}/{job_run_id}/attempts"), 200)

    # A member whose policy allows only reads may read, not submit nor cancel.
    assert expect(reader.get(path), 200)["items"][0]["id"] == job_run_id
    assert reader.get(f"{path}/{job_run_id}/logs").text == "ok\n"
    denied = expect_error(reader.post(path, json=run_body(studio)), 403, "AccessDenied")
    assert "job-run:Start" in denied["message"]
    denied = expect_error(reader.post(f"{path}/{job_run_id}/cancel"), 403, "AccessDenied")
    assert "job-run:Cancel" in denied["message"]

    # Outside the studio, nothing of it exists.
    for response in (
        outsider.get(path),
        outsider.get(f"{path}/{job_run_id}"),
        outsider.get(f"{path}/{job_run_id}/logs"),
        outsider.post(path, json=run_body(studio)),
        outsider.post(f"{path}/{job_run_id}/cancel"),
    ):
        error = expect_error(response, 404, "NotFound")
        assert error["message"] == f"no studio {studio['id']}"
    assert expect(admin.get(f"{path}/{job_run_id}"), 200)["status"] == "SUBMITTED"


# --- the client and the CLI -------------------------------------------------------------


def test_the_client_reads_runs_and_reports_refusals(
    admin: UserClient,
    studio: dict[str, Any],
    application: dict[str, Any],
    database: Database,
    control_plane: ControlPlane,
) -> None:
    job_run_id = insert_job_run(
        database, control_plane.settings, application["id"], body=run_body(studio, name="nightly"),
        stdout='{"rows": 3}\n',
    )  # fmt: skip
    studio_id, app_id = application["studio_id"], application["id"]
    with Client(control_plane.url, admin.token) as client:
        with pytest.raises(Conflict) as refused:
            client.job_runs.submit(studio_id, app_id, entry_point(studio), ["--day", "1"], name="x")
        assert "auto-start" in refused.value.message
        with pytest.raises(Invalid) as invalid:
            client.job_runs.submit(studio_id, app_id, entry_point(studio), max_attempts=11)
        assert invalid.value.fields[0]["field"] == "retry_policy.max_attempts"
        runs = client.job_runs.list(studio_id, app_id, states="SUBMITTED")
        assert [r.id for r in runs] == [job_run_id] and runs[0].name == "nightly"
        assert client.job_runs.get(studio_id, app_id, job_run_id).status == "SUBMITTED"
        # A log that happens to be JSON is still text.
        assert client.job_runs.logs(studio_id, app_id, job_run_id) == '{"rows": 3}\n'
        assert [a.attempt for a in client.job_runs.attempts(studio_id, app_id, job_run_id)] == [1]
        with pytest.raises(Conflict):
            client.job_runs.dashboard(studio_id, app_id, job_run_id)
        assert [e.to_status for e in client.job_runs.events(studio_id, app_id, job_run_id)] == [
            "SUBMITTED"
        ]


@pytest.fixture
def admin_env(control_plane: ControlPlane, admin: UserClient, tmp_path: Path) -> Env:
    return _env(control_plane, admin.token, tmp_path / "admin.json")


def test_the_cli_lists_describes_and_reads_logs_by_application_name(
    admin_env: Env,
    admin: UserClient,
    studio: dict[str, Any],
    database: Database,
    control_plane: ControlPlane,
) -> None:
    app = create_application(admin, studio["id"])
    job_run_id = insert_job_run(
        database, control_plane.settings, app["id"], body=run_body(studio, name="daily"),
        stdout="[bold]not markup[/bold]\n",
    )  # fmt: skip
    where = ["-s", studio["name"]]
    refused = _fails(
        ["job", "submit", app["name"], entry_point(studio), "a1", "--conf", "spark.x=1", *where],
        admin_env,
        "auto-start is off",
    )
    assert "InvalidState" in refused.stderr
    script = entry_point(studio)
    _fails(["job", "submit", app["name"], script, "--conf", "novalue", *where], admin_env,
           "'novalue' is not KEY=VALUE", code=2)  # fmt: skip

    listed = run_cli(["job", "list", app["name"], *where], admin_env).stdout
    assert job_run_id in listed and "daily" in listed and "SUBMITTED" in listed
    assert _json(["job", "list", app["id"], "--state", "RUNNING", *where], admin_env) == []
    described = _json(["job", "describe", app["name"], "daily", *where], admin_env)
    assert described["id"] == job_run_id
    logs = run_cli(["job", "logs", app["name"], job_run_id, *where], admin_env).stdout
    assert logs == "[bold]not markup[/bold]\n"
    attempts = _json(["job", "attempts", app["name"], job_run_id, *where], admin_env)
    assert [a["attempt"] for a in attempts] == [1]
    _fails(["job", "dashboard", app["name"], job_run_id, *where], admin_env, "no Spark UI")
    _fails(["job", "describe", app["name"], "absent", *where], admin_env, "no job run named")
