"""Notebook executions through the API, the client and the CLI, without starting Spark.

Executions the API cannot run without Spark are written into the database as a start
writes them, on an application that is not started (the execution controller is not
woken, so they stay as written); their outputs are files written here.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import update

from sparkstudio.auth.identity import Principal
from sparkstudio.client import Client
from sparkstudio.db.models import Application, NotebookExecution, Studio
from sparkstudio.db.session import Database
from sparkstudio.errors import Conflict, Invalid
from sparkstudio.schemas.notebook_executions import NotebookExecutionCreate
from sparkstudio.server import ControlPlane
from sparkstudio.services.applications import TARGET_STARTED
from sparkstudio.services.notebook_executions import start_execution
from tests.cli.test_cli import run as run_cli
from tests.cli.test_cluster_cli import Env, _env, _fails, _json
from tests.integration.test_clusters_api import register_external
from tests.integration.test_job_runs_api import create_application
from tests.support import (
    BOTH_DATABASES,
    UserClient,
    create_studio,
    create_workspace,
    expect,
    expect_error,
    field_names,
    in_storage,
    wait_for_cluster,
)

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both

NOTEBOOK = "reports/daily.ipynb"  # in the studio's storage: where its members may name sources
OUTSIDE = "s3://notebooks/reports/daily.ipynb"  # a place no studio was allowed
MISSING_CLUSTER = "cl-0000000000000000"
NOTEBOOK_JSON = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def notebook_uri(studio: dict[str, Any]) -> str:
    return in_storage(studio, NOTEBOOK)


def execution_body(
    studio: dict[str, Any], target_id: str, kind: str = "APPLICATION", **fields: Any
) -> dict[str, Any]:
    """An execution of a notebook in ``studio``'s storage (it need not be there)."""
    target = {"kind": kind, "id": target_id}
    return {"notebook": {"uri": notebook_uri(studio)}, "target": target, **fields}


def executions_path(studio_id: str) -> str:
    return f"/studios/{studio_id}/notebook-executions"


def insert_execution(
    database: Database,
    application_id: str,
    *,
    body: dict[str, Any] | None = None,
    outputs: bool = False,
) -> str:
    """Write a START_PENDING execution on an application as a start does, without starting
    the application or waking the controller; with ``outputs``, its executed notebook and
    HTML are written in its studio's storage and named on the row."""
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
        data = NotebookExecutionCreate.model_validate(body or execution_body(own, application_id))
        target = application.target
        application.target = TARGET_STARTED  # as if started: the start takes it as is
        execution = start_execution(db, studio, data, principal)
        application.target = target
        execution_id = execution.id
        if outputs:
            folder = Path(urlsplit(studio.storage_location).path) / "outputs" / execution_id
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "daily.ipynb").write_text(json.dumps(NOTEBOOK_JSON))
            (folder / "daily.html").write_text("<html><body>ran</body></html>")
            execution.output_notebook_uri = (folder / "daily.ipynb").as_uri()
            execution.output_html_uri = (folder / "daily.html").as_uri()
    return execution_id


def set_columns(database: Database, execution_id: str, **values: Any) -> None:
    with database.transaction() as db:
        db.execute(
            update(NotebookExecution).where(NotebookExecution.id == execution_id).values(**values)
        )


@pytest.fixture
def application(admin: UserClient, studio: dict[str, Any]) -> dict[str, Any]:
    return create_application(admin, studio["id"])


# --- starting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param(
            {
                "notebook": {
                    "workspace_id": "ws-0000000000000000",
                    "path": "a.ipynb",
                    "uri": OUTSIDE,
                }
            },
            "notebook",
            id="both-sources",
        ),
        pytest.param({"notebook": {}}, "notebook", id="no-source"),
        pytest.param(
            {"notebook": {"workspace_id": "ws-0000000000000000"}}, "notebook", id="no-path"
        ),
        pytest.param(
            {"notebook": {"workspace_id": "ws-0000000000000000", "path": "report.py"}},
            "notebook",
            id="path-not-a-notebook",
        ),
        pytest.param({"notebook": {"uri": "s3://notebooks/x.txt"}}, "notebook", id="uri-no-ipynb"),
        pytest.param({"parameters": {"1st": 1}}, "parameters", id="bad-parameter-name"),
        pytest.param(
            {"environment_variables": {"MY-VAR": "x"}},
            "environment_variables",
            id="bad-env-name",
        ),
        pytest.param(
            {"target": {"kind": "KUBERNETES", "id": "x"}}, "target.kind", id="unknown-target"
        ),
        pytest.param({"output_location": "hdfs://out/"}, "output_location", id="bad-scheme"),
        pytest.param({"timeout_minutes": -1}, "timeout_minutes", id="negative-timeout"),
        pytest.param({"mode": "batch"}, "mode", id="unknown-field"),
        pytest.param({"notebook": {"uri": OUTSIDE}}, "notebook.uri", id="outside-the-studio"),
        pytest.param(
            {"output_location": "s3://outputs/runs/"}, "output_location", id="output-elsewhere"
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    admin: UserClient,
    studio: dict[str, Any],
    application: dict[str, Any],
    fields: dict[str, Any],
    field: str,
) -> None:
    body = execution_body(studio, application["id"]) | fields
    error = expect_error(
        admin.post(executions_path(application["studio_id"]), json=body), 422, "ValidationError"
    )
    names = field_names(error)
    assert names and all(name == field or name.startswith(field + ".") for name in names), names
    assert expect(admin.get(executions_path(application["studio_id"])), 200)["items"] == []


@pytest.mark.parametrize("path", ["../x.ipynb", "a/../../x.ipynb", "/etc/x.ipynb", "a//x.ipynb"])
def test_a_workspace_path_stays_inside_the_workspace(
    admin: UserClient, studio: dict[str, Any], application: dict[str, Any], path: str
) -> None:
    studio_id = application["studio_id"]
    workspace = create_workspace(admin, studio_id)
    body = execution_body(
        studio, application["id"], notebook={"workspace_id": workspace["id"], "path": path}
    )
    error = expect_error(admin.post(executions_path(studio_id), json=body), 422, "ValidationError")
    assert field_names(error) == ["notebook.path"] and "'..'" in error["message"]


def test_unknown_targets_and_sources_are_404(
    admin: UserClient, studio: dict[str, Any], application: dict[str, Any]
) -> None:
    studio_id = application["studio_id"]
    path = executions_path(studio_id)
    for body, missing in (
        (execution_body(studio, MISSING_CLUSTER, "CLUSTER"), MISSING_CLUSTER),
        (execution_body(studio, "app-0000000000000000"), "app-0000000000000000"),
        (
            execution_body(
                studio,
                application["id"],
                notebook={"workspace_id": "ws-0000000000000000", "path": "a.ipynb"},
            ),
            "ws-0000000000000000",
        ),
    ):
        error = expect_error(admin.post(path, json=body), 404, "NotFound")
        assert missing in error["message"]
    # Another studio's application is not there either.
    other = create_studio(admin)
    error = expect_error(
        admin.post(executions_path(other["id"]), json=execution_body(other, application["id"])), 404
    )
    assert application["id"] in error["message"]
    assert expect(admin.get(path), 200)["items"] == []


def test_targets_that_cannot_run_a_notebook_are_409(
    admin: UserClient,
    studio: dict[str, Any],
    application: dict[str, Any],
    control_plane: ControlPlane,
) -> None:
    studio_id = application["studio_id"]
    path = executions_path(studio_id)
    # An application that is stopped, with auto-start off.
    error = expect_error(admin.post(path, json=execution_body(studio, application["id"])), 409)
    assert error["reason"] == "InvalidState" and "auto-start is off" in error["message"]
    # A cluster that has ended.
    cluster = register_external(admin, control_plane, studio_id)
    wait_for_cluster(admin, studio_id, cluster["id"], {"WAITING"}, 30)
    expect(admin.delete(f"/studios/{studio_id}/clusters/{cluster['id']}"), 202)
    wait_for_cluster(admin, studio_id, cluster["id"], {"TERMINATED"}, 30)
    body = execution_body(studio, cluster["id"], "CLUSTER")
    error = expect_error(admin.post(path, json=body), 409, "InvalidState")
    assert "TERMINATED" in error["message"]
    assert expect(admin.get(path), 200)["items"] == []


# --- reading ----------------------------------------------------------------------------


def test_an_execution_is_described_and_its_events_read(
    admin: UserClient, studio: dict[str, Any], application: dict[str, Any], database: Database
) -> None:
    body = execution_body(
        studio,
        application["id"],
        name="daily",
        parameters={"day": "2024-01-01", "limit": 10, "flags": [True, None]},
        environment_variables={"API_KEY": "s3cret-value"},
        output_location=in_storage(studio, "outputs/runs/"),
        timeout_minutes=30,
        tags={"team": "data"},
    )
    execution_id = insert_execution(database, application["id"], body=body)
    path = f"{executions_path(application['studio_id'])}/{execution_id}"

    found = expect(admin.get(path), 200)
    assert (found["status"], found["name"], found["created_by"]) == (
        "START_PENDING", "daily", "admin"
    )  # fmt: skip
    uri = notebook_uri(studio)
    assert found["notebook"] == {"workspace_id": None, "path": None, "uri": uri}
    assert found["parameters"] == {"day": "2024-01-01", "limit": 10, "flags": [True, None]}
    assert found["environment_variable_names"] == ["API_KEY"]
    assert "s3cret-value" not in json.dumps(found)  # values are never shown
    assert found["target"] == {"kind": "APPLICATION", "id": application["id"]}
    assert found["output_location"] == in_storage(studio, "outputs/runs")
    assert (found["timeout_minutes"], found["tags"]) == (30, {"team": "data"})
    assert (found["output_notebook_uri"], found["output_html_uri"]) == ("", "")
    assert "state" not in found and "environment" not in found

    events = expect(admin.get(f"{path}/events"), 200)["items"]
    assert [(e["from_status"], e["to_status"]) for e in events] == [(None, "START_PENDING")]
    assert events[0]["reason"]["code"] == "USER_REQUEST"


def test_the_default_output_location_is_the_studios_storage(
    admin: UserClient, application: dict[str, Any], database: Database
) -> None:
    execution_id = insert_execution(database, application["id"])
    found = expect(admin.get(f"{executions_path(application['studio_id'])}/{execution_id}"), 200)
    studio = expect(admin.get(f"/studios/{application['studio_id']}"), 200)
    storage = studio["storage_location"].rstrip("/")
    assert found["output_location"] == f"{storage}/notebook-executions"


def test_listing_filters_by_state_notebook_target_tag_and_time_with_pages(
    admin: UserClient, studio: dict[str, Any], application: dict[str, Any], database: Database
) -> None:
    studio_id = application["studio_id"]
    other_app = create_application(admin, studio_id)
    path = executions_path(studio_id)
    other_uri = in_storage(studio, "other.ipynb")
    first = insert_execution(
        database, application["id"],
        body=execution_body(studio, application["id"], tags={"team": "data", "tier": "gold"}),
    )  # fmt: skip
    second = insert_execution(
        database, application["id"],
        body=execution_body(studio, application["id"], notebook={"uri": other_uri},
                            tags={"team": "data"}),
    )  # fmt: skip
    third = insert_execution(
        database, other_app["id"],
        body=execution_body(studio, other_app["id"], tags={"team": "ml"}),
    )  # fmt: skip
    set_columns(database, second, status="RUNNING")
    set_columns(database, third, status="FAILED")
    times = {
        first: datetime(2024, 1, 1, tzinfo=UTC),
        second: datetime(2024, 2, 1, tzinfo=UTC),
        third: datetime(2024, 3, 1, tzinfo=UTC),
    }
    for execution_id, created in times.items():
        set_columns(database, execution_id, created_at=created)

    def ids(**params: Any) -> list[str]:
        return [e["id"] for e in expect(admin.get(path, params=params), 200)["items"]]

    assert ids() == [first, second, third]
    assert ids(states="START_PENDING") == [first]
    assert ids(states=["RUNNING", "FAILED"]) == [second, third]
    assert ids(notebook=notebook_uri(studio)) == [first, third]
    assert ids(notebook=other_uri) == [second]
    assert ids(notebook=in_storage(studio, "none.ipynb")) == []
    assert ids(target_id=other_app["id"]) == [third]
    assert ids(tag="team=data") == [first, second]
    assert ids(tag="tier=gold") == [first]
    assert ids(tag="team=") == []
    assert ids(tag="team=data", states="RUNNING") == [second]
    assert ids(created_after="2024-01-15T00:00:00Z") == [second, third]
    assert ids(created_before="2024-02-01T00:00:00Z") == [first, second]
    assert ids(created_after="2024-01-15T00:00:00Z", created_before="2024-02-15T00:00:00Z") == [
        second
    ]

    # Pages, with and without a tag filter.
    for params in ({}, {"tag": "team=data"}):
        seen, token = [], None
        while True:
            paging = {"limit": 1} | ({"next_token": token} if token else {})
            page = expect(admin.get(path, params={**params, **paging}), 200)
            assert len(page["items"]) <= 1
            seen += [e["id"] for e in page["items"]]
            token = page["next_token"]
            if token is None:
                break
        assert seen == ids(**params)

    for params, field in (
        ({"states": "STARTED"}, "query.states.0"),
        ({"tag": "team"}, "query.tag"),
        ({"tag": "=data"}, "query.tag"),
        ({"limit": 0}, "query.limit"),
        ({"created_after": "yesterday"}, "query.created_after"),
    ):
        error = expect_error(admin.get(path, params=params), 422, "ValidationError")
        assert field_names(error) == [field], params


def test_outputs_are_a_409_until_written_then_downloaded(
    admin: UserClient, application: dict[str, Any], database: Database
) -> None:
    studio_id = application["studio_id"]
    pending = insert_execution(database, application["id"])
    for kind in ("ipynb", "html"):
        error = expect_error(
            admin.get(f"{executions_path(studio_id)}/{pending}/output", params={"format": kind}),
            409,
            "InvalidState",
        )
        assert kind in error["message"] and "START_PENDING" in error["message"]
    bad = expect_error(
        admin.get(f"{executions_path(studio_id)}/{pending}/output", params={"format": "pdf"}), 422
    )
    assert field_names(bad) == ["query.format"]

    done = insert_execution(database, application["id"], outputs=True)
    set_columns(database, done, status="FINISHED")
    output = f"{executions_path(studio_id)}/{done}/output"
    notebook = admin.get(output)
    assert notebook.status_code == 200, notebook.text
    assert notebook.headers["content-type"] == "application/x-ipynb+json"
    assert 'filename="daily.ipynb"' in notebook.headers["content-disposition"]
    assert notebook.json() == NOTEBOOK_JSON
    html = admin.get(output, params={"format": "html"})
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert 'filename="daily.html"' in html.headers["content-disposition"]
    assert html.text == "<html><body>ran</body></html>"

    # Named on the row, but not (or no longer) there: a 409 too.
    found = expect(admin.get(f"{executions_path(studio_id)}/{done}"), 200)
    Path(urlsplit(found["output_html_uri"]).path).unlink()
    expect_error(admin.get(output, params={"format": "html"}), 409, "InvalidState")


# --- stopping ---------------------------------------------------------------------------


def _wait_for(client: UserClient, path: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        found: dict[str, Any] = expect(client.get(path), 200)
        if found["status"] in statuses or time.monotonic() > deadline:
            assert found["status"] in statuses, found
            return found
        time.sleep(0.1)


def test_a_pending_execution_is_stopped_once(
    admin: UserClient, application: dict[str, Any], database: Database
) -> None:
    execution_id = insert_execution(database, application["id"])
    path = f"{executions_path(application['studio_id'])}/{execution_id}"
    stopping = expect(admin.post(f"{path}/stop"), 202)
    assert stopping["id"] == execution_id
    assert stopping["status"] in {"STOP_PENDING", "STOPPING", "STOPPED"}
    stopped = _wait_for(admin, path, {"STOPPED"})
    assert stopped["status_reason"]["code"] == "USER_REQUEST"
    again = expect_error(admin.post(f"{path}/stop"), 409, "InvalidState")
    assert "STOPPED" in again["message"]
    events = expect(admin.get(f"{path}/events"), 200)["items"]
    assert [e["to_status"] for e in events] == [
        "START_PENDING", "STOP_PENDING", "STOPPING", "STOPPED"
    ]  # fmt: skip


def test_unknown_executions_are_404(
    admin: UserClient, application: dict[str, Any], database: Database
) -> None:
    studio_id = application["studio_id"]
    path = executions_path(studio_id)
    missing = "ne-0000000000000000"
    for suffix in ("", "/events", "/output"):
        error = expect_error(admin.get(f"{path}/{missing}{suffix}"), 404, "NotFound")
        assert missing in error["message"]
    expect_error(admin.post(f"{path}/{missing}/stop"), 404, "NotFound")
    error = expect_error(admin.get(f"{path}/not-an-id"), 404, "NotFound")
    assert error["message"] == "no notebook execution not-an-id"
    # Another studio's execution is not there.
    execution_id = insert_execution(database, application["id"])
    other = create_studio(admin)
    expect_error(admin.get(f"{executions_path(other['id'])}/{execution_id}"), 404, "NotFound")
    expect_error(admin.post(f"{executions_path(other['id'])}/{execution_id}/stop"), 404)


# --- the client and the CLI -------------------------------------------------------------


def test_the_client_starts_reads_and_downloads(
    admin: UserClient,
    studio: dict[str, Any],
    application: dict[str, Any],
    database: Database,
    control_plane: ControlPlane,
) -> None:
    studio_id, app_id = application["studio_id"], application["id"]
    done = insert_execution(
        database, app_id, body=execution_body(studio, app_id, name="nightly"), outputs=True
    )
    uri = notebook_uri(studio)
    with Client(control_plane.url, admin.token) as client:
        executions = client.notebook_executions
        with pytest.raises(Conflict) as refused:
            executions.start(studio_id, {"uri": uri}, "APPLICATION", app_id)
        assert "auto-start" in refused.value.message
        with pytest.raises(Invalid) as invalid:
            executions.start(studio_id, {"uri": uri}, "APPLICATION", app_id, parameters={"a-b": 1})
        assert invalid.value.fields[0]["field"].startswith("parameters")
        listed = executions.list(studio_id, states="START_PENDING", tag=None)
        assert [e.id for e in listed] == [done] and listed[0].name == "nightly"
        assert executions.list(studio_id, target_id=app_id, notebook=uri)[0].id == done
        assert executions.get(studio_id, done).status == "START_PENDING"
        assert json.loads(executions.output(studio_id, done)) == NOTEBOOK_JSON
        assert b"ran" in executions.output(studio_id, done, format="html")
        assert [e.to_status for e in executions.events(studio_id, done)] == ["START_PENDING"]
        stopped = executions.wait(studio_id, executions.stop(studio_id, done).id, timeout=30)
        assert stopped.status == "STOPPED"
        with pytest.raises(Conflict):
            executions.stop(studio_id, done)


@pytest.fixture
def admin_env(control_plane: ControlPlane, admin: UserClient, tmp_path: Path) -> Env:
    return _env(control_plane, admin.token, tmp_path / "admin.json")


def test_the_cli_lists_describes_downloads_and_stops(
    admin_env: Env,
    admin: UserClient,
    studio: dict[str, Any],
    database: Database,
    tmp_path: Path,
) -> None:
    app = create_application(admin, studio["id"])
    execution_id = insert_execution(
        database, app["id"],
        body=execution_body(studio, app["id"], name="daily", tags={"team": "a"}), outputs=True,
    )  # fmt: skip
    uri = notebook_uri(studio)
    where = ["-s", studio["name"]]
    refused = _fails(
        ["notebook", "run", uri, "--application", app["name"], "-p", "day=1", *where],
        admin_env,
        "auto-start is off",
    )
    assert "InvalidState" in refused.stderr
    _fails(["notebook", "run", uri, "--application", app["name"], "-p", "novalue",
            *where], admin_env, "'novalue' is not KEY=VALUE", code=2)  # fmt: skip
    _fails(["notebook", "run", uri, *where], admin_env, "--application", code=2)
    _fails(["notebook", "run", "daily.ipynb", "--application", app["name"], *where], admin_env,
           "--workspace", code=2)  # fmt: skip

    listed = run_cli(["notebook", "list", *where], admin_env).stdout
    assert execution_id in listed and "daily" in listed and "START_PENDING" in listed
    assert _json(["notebook", "list", "--state", "RUNNING", *where], admin_env) == []
    tagged = _json(["notebook", "list", "--tag", "team=a", "--target", app["id"], *where],
                   admin_env)  # fmt: skip
    assert [e["id"] for e in tagged] == [execution_id]
    assert _json(["notebook", "describe", "daily", *where], admin_env)["id"] == execution_id
    events = _json(["notebook", "events", execution_id, *where], admin_env)
    assert [e["to_status"] for e in events] == ["START_PENDING"]

    target = tmp_path / "got.ipynb"
    run_cli(["notebook", "download", execution_id, "-o", str(target), *where], admin_env)
    assert json.loads(target.read_text()) == NOTEBOOK_JSON
    html = run_cli(["notebook", "download", execution_id, "--html", "-o", "-", *where], admin_env)
    assert html.stdout == "<html><body>ran</body></html>"

    stopped = _json(["notebook", "stop", execution_id, "--wait", *where], admin_env)
    assert stopped["status"] == "STOPPED"
    # Without --json, --wait shows each state change with its reason.
    other = insert_execution(database, app["id"])
    shown = run_cli(["notebook", "stop", other, "--wait", *where], admin_env).stdout
    assert "STOP_PENDING  stop requested by admin" in shown and "STOPPING" in shown
    assert f"Notebook execution {other} is STOPPED." in shown
    _fails(["notebook", "stop", execution_id, *where], admin_env, "STOPPED")
    _fails(["notebook", "describe", "absent", *where], admin_env, "no notebook execution named")


def test_cli_parameters_are_json_when_they_parse() -> None:
    from sparkstudio.cli.notebook import parse_parameters

    assert parse_parameters(["n=42", "f=1.5", "b=true", "l=[1, 2]", "s=text", 'q="7"', "e="]) == {
        "n": 42, "f": 1.5, "b": True, "l": [1, 2], "s": "text", "q": "7", "e": ""
    }  # fmt: skip
