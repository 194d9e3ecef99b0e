"""A hostile member of one studio against another, through the API, without Spark.

The adversary is a DEVELOPER of studio A (with a workspace and applications of A); the
victim is studio B, the platform's home and the host (docs/security.md, "Isolation: what
keeps one studio from another"). Every attempt here goes through the same doors a real
client uses — the API, the AWS wire API, every proxy over raw HTTP — and must be refused
before anything is made or written. Nothing here starts Spark or a workspace server:
applications that take work are given the ``external`` backend in the database (a start
fails at once, harmlessly), runs that must exist are written as a submission writes them,
and clusters are registered Spark Connect endpoints.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text, update

from sparkstudio.db.models import Application, Cluster, JobRun, Workspace
from sparkstudio.db.session import Database
from sparkstudio.doctor import check_isolation
from sparkstudio.server import ControlPlane
from sparkstudio.services import dashboards
from tests.integration.test_aws_keys import aws_error, create_pair, emr_serverless
from tests.integration.test_clusters_api import register_external
from tests.integration.test_job_runs_api import create_application, insert_job_run
from tests.support import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    PASSWORD,
    UserClient,
    add_member,
    anonymous,
    create_group,
    create_studio,
    create_user,
    create_workspace,
    expect,
    expect_error,
    field_names,
    git_remote_in,
    login,
    raw_get,
    running_control_plane,
    studio_folder,
    unique,
    wait_for_cluster,
)

ROLE = "arn:aws:iam::123456789012:role/EMRServerlessJobRole"
SUBMIT = "job_driver.spark_submit"
PARAMETERS = f"{SUBMIT}.spark_submit_parameters"
LOG_URI = "configuration_overrides.monitoring_configuration.s3_monitoring_configuration.log_uri"
PROPERTIES = "configuration_overrides.application_configuration.0.properties"
CLOSED_UI = "http://127.0.0.1:9"  # the discard port: nothing answers there
FAKE_APP_ID = "app-20240101000000-0000"


# --- the world: studio A (the attacker's) and studio B (the victim's) --------------------


@dataclass(frozen=True)
class World:
    plane: ControlPlane
    database: Database
    admin: UserClient  # the platform admin
    hostile: UserClient  # a DEVELOPER of A
    colleague: UserClient  # another DEVELOPER of A
    studio_admin: UserClient  # an ADMIN of A (not a platform admin)
    a: dict[str, Any]
    b: dict[str, Any]
    workspace: dict[str, Any]  # the hostile member's own workspace in A
    refusing: dict[str, Any]  # an application of A that must never take anything here
    accepting: dict[str, Any]  # an application of A that takes work (and cannot start)
    quiet: dict[str, Any]  # an application of A, auto-start off: runs are written in it

    @property
    def home(self) -> Path:
        return self.plane.settings.home

    @property
    def a_folder(self) -> Path:
        return studio_folder(self.a)

    @property
    def b_folder(self) -> Path:
        return studio_folder(self.b)

    @property
    def workspaces(self) -> Path:
        """A's workspace folders (each its user's own)."""
        return self.a_folder / "workspaces"

    def in_a(self, relative: str) -> str:
        """``file://`` of ``relative`` in A's storage, written as given (not quoted: the
        escapes in ``relative`` reach the server as they are)."""
        return f"file://{self.a_folder}/{relative}"

    def in_b(self, relative: str) -> str:
        return f"file://{self.b_folder}/{relative}"

    def runs_path(self, application: dict[str, Any]) -> str:
        return f"/studios/{self.a['id']}/applications/{application['id']}/job-runs"

    @property
    def executions_path(self) -> str:
        return f"/studios/{self.a['id']}/notebook-executions"

    @property
    def repos_path(self) -> str:
        return f"/studios/{self.a['id']}/workspaces/{self.workspace['id']}/repos"


def signed_in(plane: ControlPlane, admin: UserClient, clients: list[UserClient]) -> UserClient:
    """A new user, signed in (closed with the module)."""
    name = unique("user")
    create_user(admin, name)
    client = login(plane.api_url, name, PASSWORD)
    clients.append(client)
    return client


def external_application(admin: UserClient, database: Database, studio_id: str) -> dict[str, Any]:
    """An application with auto-start on whose backend is ``external``: work submitted to it
    is taken (201) and its start fails at once, so no Spark ever runs for it."""
    application = create_application(admin, studio_id, auto_start_configuration={"enabled": True})
    with database.transaction() as db:
        db.execute(
            update(Application)
            .where(Application.id == application["id"])
            .values(backend="external")
        )
    return application


@pytest.fixture(scope="module")
def world(control_plane: ControlPlane, admin: UserClient, database: Database) -> Iterator[World]:
    clients: list[UserClient] = []
    a, b = create_studio(admin), create_studio(admin)
    hostile, colleague, studio_admin, victim = (
        signed_in(control_plane, admin, clients) for _ in range(4)
    )
    add_member(admin, a["id"], user=hostile.name)
    add_member(admin, a["id"], user=colleague.name)
    add_member(admin, a["id"], user=studio_admin.name, role="ADMIN")
    add_member(admin, b["id"], user=victim.name)
    # B's files, which A's member is after.
    for relative in ("jobs/etl.py", "notebooks/report.ipynb", "lib/b.jar"):
        path = studio_folder(b) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# B's\n")
    yield World(
        plane=control_plane,
        database=database,
        admin=admin,
        hostile=hostile,
        colleague=colleague,
        studio_admin=studio_admin,
        a=a,
        b=b,
        workspace=create_workspace(hostile, a["id"]),
        refusing=external_application(admin, database, a["id"]),
        accepting=external_application(admin, database, a["id"]),
        quiet=create_application(admin, a["id"]),
    )
    for client in clients:
        client.close()


def files_under(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    found: dict[str, tuple[int, int]] = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            info = path.lstat()
            found[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return found


@dataclass
class Untouched:
    """What must be as it was after a refusal: no run or execution more, the application
    not auto-started, not a file more or changed in B's storage or A's workspace folders."""

    world: World
    runs: list[str]
    executions: list[str]
    target: str
    b_files: dict[str, tuple[int, int]]
    workspace_files: dict[str, tuple[int, int]]

    @classmethod
    def now(cls, world: World) -> Untouched:
        runs, executions, target = cls._records(world)
        b_files = files_under(world.b_folder)
        return cls(world, runs, executions, target, b_files, files_under(world.workspaces))

    @staticmethod
    def _records(world: World) -> tuple[list[str], list[str], str]:
        runs = expect(world.admin.get(world.runs_path(world.refusing)), 200)["items"]
        executions = expect(world.admin.get(world.executions_path), 200)["items"]
        path = f"/studios/{world.a['id']}/applications/{world.refusing['id']}"
        application = expect(world.admin.get(path), 200)
        return [r["id"] for r in runs], [e["id"] for e in executions], application["target"]

    def check(self) -> None:
        runs, executions, target = self._records(self.world)
        assert runs == self.runs, "a refused run was made"
        assert executions == self.executions, "a refused notebook execution was made"
        assert target == self.target, "a refused request auto-started the application"
        assert files_under(self.world.b_folder) == self.b_files
        assert files_under(self.world.workspaces) == self.workspace_files


def refused(world: World, response: Any, field: str, untouched: Untouched) -> dict[str, Any]:
    """A 422 naming exactly ``field``, and nothing made or written."""
    error = expect_error(response, 422, "ValidationError")
    assert field_names(error) == [field], error
    untouched.check()
    return error


def run_body(entry_point: str, **fields: Any) -> dict[str, Any]:
    parameters = fields.pop("parameters", "")
    driver = {"entry_point": entry_point, "spark_submit_parameters": parameters}
    return {"job_driver": {"spark_submit": driver}, **fields}


def execution_body(world: World, application: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "notebook": {"uri": world.in_a("notebooks/report.ipynb")},
        "target": {"kind": "APPLICATION", "id": application["id"]},
        **fields,
    }


# --- 1, 2. locations a member names ------------------------------------------------------

# notebook.uri values outside A's storage, each built from the world.
NOTEBOOK_SOURCES = {
    "b-storage": lambda w: w.in_b("notebooks/report.ipynb"),
    "b-storage-extra-slashes": lambda w: f"file:///{w.b_folder}//notebooks/report.ipynb",
    "home": lambda w: (w.home / "notes.ipynb").as_uri(),
    "etc": lambda w: "file:///etc/passwd.ipynb",
    "encoded-dots": lambda w: w.in_a(f"%2e%2e/{w.b['id']}/notebooks/report.ipynb"),
    "upper-encoded-dots": lambda w: w.in_a(f"%2E%2E/{w.b['id']}/notebooks/report.ipynb"),
    "dots": lambda w: w.in_a(f"../{w.b['id']}/notebooks/report.ipynb"),
    "double-encoded-dots": lambda w: w.in_a(f"%252e%252e/{w.b['id']}/notebooks/report.ipynb"),
    "nul": lambda w: w.in_a("notebooks/report%00.ipynb"),
    "other-bucket": lambda w: f"s3://{unique('bucket')}/notebooks/report.ipynb",
}


@pytest.mark.parametrize("case", list(NOTEBOOK_SOURCES))
def test_a_notebook_outside_the_studio_is_not_read(world: World, case: str) -> None:
    """A notebook execution whose notebook.uri names B's storage, the home, the host, a
    climb out of A's storage (encoded, raw or double-encoded dots), a NUL or another
    bucket: the platform would read it with its own power."""
    untouched = Untouched.now(world)
    body = execution_body(world, world.refusing)
    body["notebook"]["uri"] = NOTEBOOK_SOURCES[case](world)
    response = world.hostile.post(world.executions_path, json=body)
    refused(world, response, "notebook.uri", untouched)


@pytest.mark.parametrize("case", ["b-storage", "own-workspace-folder", "climb-into-b", "home"])
def test_an_output_location_outside_the_studio_is_not_written(world: World, case: str) -> None:
    """output_location into B, into A's own workspace folder (workspace folders are their
    users' own: the platform never writes there), by climbing, or into the home."""
    location = {
        "b-storage": world.in_b("out"),
        "own-workspace-folder": world.in_a(f"workspaces/{world.workspace['id']}/out"),
        "climb-into-b": world.in_a(f"out/%2e%2e/%2e%2e/{world.b['id']}/out"),
        "home": world.home.as_uri(),
    }[case]
    untouched = Untouched.now(world)
    body = execution_body(world, world.refusing, output_location=location)
    response = world.hostile.post(world.executions_path, json=body)
    refused(world, response, "output_location", untouched)


@pytest.mark.parametrize("name", ["LD_PRELOAD", "PYTHONPATH", "SPARKSTUDIO_ATTACHMENT_FILE"])
def test_environment_variables_that_steer_the_platform_are_refused(world: World, name: str) -> None:
    """A notebook execution's environment variables reach the runner the platform starts:
    LD_PRELOAD, PYTHONPATH or the platform's own variables would run the attacker's code
    or files as the runner."""
    untouched = Untouched.now(world)
    body = execution_body(world, world.refusing, environment_variables={name: "x"})
    response = world.hostile.post(world.executions_path, json=body)
    error = refused(world, response, "environment_variables", untouched)
    assert name in error["message"]


ENTRY_POINTS = {
    "etc-url": lambda w: "file:///etc/passwd",
    "etc-bare-path": lambda w: "/etc/passwd",
    "b-file": lambda w: w.in_b("jobs/etl.py"),
    "b-file-bare-path": lambda w: str(w.b_folder / "jobs/etl.py"),
    "home-database": lambda w: str(w.home / "sparkstudio.db"),
    "home-key": lambda w: (w.home / "secret.key").as_uri(),
    "climb-encoded": lambda w: w.in_a(f"%2e%2e/{w.b['id']}/jobs/etl.py"),
    "climb-raw": lambda w: str(w.a_folder) + f"/../{w.b['id']}/jobs/etl.py",
    "climb-double-encoded": lambda w: w.in_a(f"%252e%252e/{w.b['id']}/jobs/etl.py"),
    "nul": lambda w: w.in_a("jobs/etl.py%00.txt"),
    "other-bucket": lambda w: f"s3a://{unique('bucket')}/jobs/etl.py",
}


@pytest.mark.parametrize("case", list(ENTRY_POINTS))
def test_an_entry_point_outside_the_studio_is_not_read(world: World, case: str) -> None:
    """A job run's entry point is read by the platform (and shipped to the driver): the
    host's files, the home's database and key, B's files, climbs and other buckets."""
    untouched = Untouched.now(world)
    body = run_body(ENTRY_POINTS[case](world))
    response = world.hostile.post(world.runs_path(world.refusing), json=body)
    refused(world, response, f"{SUBMIT}.entry_point", untouched)


SUBMIT_PARAMETERS = {
    "jars-outside": lambda w: "--jars file:///opt/evil.jar",
    "jars-of-b": lambda w: f"--jars {w.in_b('lib/b.jar')}",
    "jars-climb": lambda w: f"--jars {w.in_a('lib/ok.jar')},{w.in_a('%2e%2e/x/b.jar')}",
    "py-files-outside": lambda w: "--py-files /etc/passwd",
    "files-alias-climb": lambda w: f"--files {w.in_a('x.txt')}#..",
    "packages": lambda w: "--packages x",
    "java-options": lambda w: "--conf spark.driver.extraJavaOptions=-Dx=y",
    "java-options-case": lambda w: "--conf spark.Executor.ExtraJavaOPTIONS=-Dx=y",
    "platform-key": lambda w: "--conf spark.sparkstudio.anything=1",
    "connect-token": lambda w: "--conf spark.connect.authenticate.token=x",
    "executor-env": lambda w: "--conf spark.executorEnv.LD_PRELOAD=x",
    "jars-conf": lambda w: "--conf spark.jars=file:///opt/evil.jar",
    "warehouse-in-b": lambda w: f"--conf spark.sql.warehouse.dir={w.in_b('warehouse')}",
}


@pytest.mark.parametrize("case", list(SUBMIT_PARAMETERS))
def test_spark_submit_parameters_that_lend_the_platform_are_refused(
    world: World, case: str
) -> None:
    """spark-submit options and --conf settings that ship files from outside the studio,
    reach a package repository, change how the JVM starts, set the platform's own
    settings (its Connect token) or the executors' environment."""
    untouched = Untouched.now(world)
    parameters = SUBMIT_PARAMETERS[case](world)
    body = run_body(world.in_a("jobs/etl.py"), parameters=parameters)
    response = world.hostile.post(world.runs_path(world.refusing), json=body)
    refused(world, response, PARAMETERS, untouched)


@pytest.mark.parametrize(
    "properties",
    [
        {"spark.jars": "file:///opt/evil.jar"},
        {"spark.submit.pyFiles": "/etc/passwd"},
        {"spark.driver.extraClassPath": "/opt"},
        {"spark.sparkstudio.anything": "1"},
    ],
    ids=["jars", "py-files", "class-path", "platform-key"],
)
def test_spark_defaults_that_lend_the_platform_are_refused(
    world: World, properties: dict[str, str]
) -> None:
    """The same settings given as configuration_overrides' spark-defaults properties."""
    untouched = Untouched.now(world)
    overrides = {
        "application_configuration": [
            {"classification": "spark-defaults", "properties": properties}
        ]
    }
    body = run_body(world.in_a("jobs/etl.py"), configuration_overrides=overrides)
    response = world.hostile.post(world.runs_path(world.refusing), json=body)
    refused(world, response, PROPERTIES, untouched)


@pytest.mark.parametrize("case", ["b-storage", "own-workspace-folder", "home", "other-bucket"])
def test_a_log_location_outside_the_studio_is_not_written(world: World, case: str) -> None:
    """The run's log URI is where the platform writes its logs: into B, a workspace folder,
    the home or another bucket. (It is checked after the application is auto-started:
    the start must be undone with the refusal.)"""
    location = {
        "b-storage": world.in_b("logs"),
        "own-workspace-folder": world.in_a(f"workspaces/{world.workspace['id']}/logs"),
        "home": (world.home / "logs").as_uri(),
        "other-bucket": f"s3://{unique('bucket')}/logs",
    }[case]
    untouched = Untouched.now(world)
    overrides = {"monitoring_configuration": {"s3_monitoring_configuration": {"log_uri": location}}}
    body = run_body(world.in_a("jobs/etl.py"), configuration_overrides=overrides)
    response = world.hostile.post(world.runs_path(world.refusing), json=body)
    refused(world, response, LOG_URI, untouched)


@pytest.fixture(scope="module")
def hostile_emr(world: World) -> Any:
    """The hostile member's boto3 emr-serverless client (an AWS key pair of studio A)."""
    return emr_serverless(world.plane, create_pair(world.hostile, world.a["id"]))


# StartJobRun's entryPoint and logUri (None: none given), and the field the refusal names.
AWS_LOCATIONS = {
    "entry-point-etc": (lambda w: "file:///etc/passwd", lambda w: None, "entryPoint"),
    "entry-point-of-b": (lambda w: w.in_b("jobs/etl.py"), lambda w: None, "entryPoint"),
    "log-uri-of-b": (lambda w: w.in_a("jobs/etl.py"), lambda w: w.in_b("logs"), "logUri"),
}


@pytest.mark.parametrize("case", list(AWS_LOCATIONS))
def test_the_aws_wire_api_refuses_the_same_locations(
    world: World, hostile_emr: Any, case: str
) -> None:
    """StartJobRun through an unmodified boto3 client: entryPoint and logUri outside the
    studio are a ValidationException naming the field, and nothing is made."""
    entry_point, log_uri, field = AWS_LOCATIONS[case]
    untouched = Untouched.now(world)
    request: dict[str, Any] = {
        "applicationId": world.refusing["id"],
        "executionRoleArn": ROLE,
        "jobDriver": {"sparkSubmit": {"entryPoint": entry_point(world)}},
    }
    if log_uri(world) is not None:
        monitoring = {"s3MonitoringConfiguration": {"logUri": log_uri(world)}}
        request["configurationOverrides"] = {"monitoringConfiguration": monitoring}
    status, code, message = aws_error(lambda: hostile_emr.start_job_run(**request))
    assert (status, code) == (400, "ValidationException"), message
    assert field in message, message
    untouched.check()


def test_locations_inside_the_studio_are_taken_normalised(world: World) -> None:
    """The counterpart of the refusals: an entry point, shipped files, a log location, a
    notebook and an output location in A's storage are taken (201), stored decoded once,
    with repeated and trailing slashes gone."""
    a = str(world.a_folder)
    overrides = {
        "monitoring_configuration": {
            "s3_monitoring_configuration": {"log_uri": f"file://{a}//logs/"}
        }
    }
    body = run_body(
        f"{a}/jobs//my%20etl.py",
        parameters=f"--jars {a}/lib/x.jar --conf spark.executor.cores=1",
        configuration_overrides=overrides,
    )
    run = expect(world.hostile.post(world.runs_path(world.accepting), json=body), 201)
    assert run["job_driver"]["spark_submit"]["entry_point"] == f"file://{a}/jobs/my etl.py"
    assert run["log_uri"] == f"file://{a}/logs"

    body = execution_body(world, world.accepting, output_location=f"file://{a}/out//daily/")
    body["notebook"]["uri"] = f"file://{a}/notebooks//report.ipynb"
    execution = expect(world.hostile.post(world.executions_path, json=body), 201)
    assert execution["notebook"]["uri"] == f"file://{a}/notebooks/report.ipynb"
    assert execution["output_location"] == f"file://{a}/out/daily"


# --- 3. a studio's own locations ------------------------------------------------------------

STUDIO_LOCATIONS = {
    "storage-is-the-home": lambda w: ("storage_location", {"storage_location": w.home.as_uri()}),
    "storage-holds-the-home": lambda w: (
        "storage_location",
        {"storage_location": w.home.parent.as_uri()},
    ),
    "storage-is-the-root": lambda w: ("storage_location", {"storage_location": "file:///"}),
    "storage-holds-every-studio": lambda w: (
        "storage_location",
        {"storage_location": (w.home / "store" / "studios").as_uri()},
    ),
    "storage-in-b": lambda w: ("storage_location", {"storage_location": w.in_b("inner")}),
    "allowed-home-logs": lambda w: (
        "allowed_locations[0]",
        {"allowed_locations": [(w.home / "logs").as_uri()]},
    ),
    "allowed-b": lambda w: (
        "allowed_locations[1]",
        {"allowed_locations": [f"s3://{unique('bucket')}/ok", w.in_b("")]},
    ),
}


@pytest.mark.parametrize("case", list(STUDIO_LOCATIONS))
def test_a_studio_s_locations_reach_neither_the_home_nor_another_studio(
    world: World, case: str
) -> None:
    """Even a platform admin cannot give a studio a storage or allowed location that holds
    or lies in the home (its database, key and every studio's default folder) or overlaps
    another studio's: the platform reads and writes there on the studio's behalf."""
    field, fields = STUDIO_LOCATIONS[case](world)
    name = unique("studio")
    response = world.admin.post("/studios", json={"name": name, **fields})
    error = expect_error(response, 422, "ValidationError")
    assert field_names(error) == [field], error
    assert expect(world.admin.get("/studios", params={"name": name}), 200)["items"] == []


def test_a_studio_s_locations_do_not_overlap_another_studio_s_allowed_ones(world: World) -> None:
    """Allowed locations are one studio's too: another studio may not be given the bucket
    that holds them, or a place inside them, nor may an existing studio be moved there."""
    bucket = unique("bucket")
    create_studio(world.admin, allowed_locations=[f"s3://{bucket}/team"])
    for field, fields in (
        ("storage_location", {"storage_location": f"s3://{bucket}"}),
        ("allowed_locations[0]", {"allowed_locations": [f"s3://{bucket}/team/sub"]}),
    ):
        response = world.admin.post("/studios", json={"name": unique("studio"), **fields})
        assert field_names(expect_error(response, 422)) == [field]
    moved = world.admin.patch(
        f"/studios/{world.a['id']}", json={"allowed_locations": [f"s3://{bucket}/team/x"]}
    )
    assert field_names(expect_error(moved, 422)) == ["allowed_locations[0]"]
    assert expect(world.admin.get(f"/studios/{world.a['id']}"), 200)["allowed_locations"] == []


@pytest.mark.parametrize(
    "fields",
    [{"storage_location": "b"}, {"allowed_locations": ["b"]}],
    ids=["storage", "allowed"],
)
def test_only_a_platform_admin_moves_a_studio_s_locations(
    world: World, fields: dict[str, Any]
) -> None:
    """A studio ADMIN may change the studio's description, not where the platform reads
    and writes for it: pointing A at B's storage would lend B's files to A."""
    moved = {
        key: world.in_b("") if value == "b" else [world.in_b("")] for key, value in fields.items()
    }
    path = f"/studios/{world.a['id']}"
    error = expect_error(world.studio_admin.patch(path, json=moved), 403, "AccessDenied")
    assert next(iter(fields)) in error["message"]
    after = expect(world.admin.get(path), 200)
    assert after["storage_location"] == world.a["storage_location"]
    assert after["allowed_locations"] == []
    described = expect(world.studio_admin.patch(path, json={"description": unique("d")}), 200)
    assert described["storage_location"] == world.a["storage_location"]


def test_a_location_a_platform_admin_allowed_is_the_studio_s(world: World) -> None:
    """Once a platform admin allows s3://bucket/shared for A, A's entry points may be
    there (s3a:// stored as s3://); the rest of the bucket stays out of reach."""
    bucket = unique("bucket")
    path = f"/studios/{world.a['id']}"
    allowed = [f"s3://{bucket}/shared"]
    changed = expect(world.admin.patch(path, json={"allowed_locations": allowed}), 200)
    assert changed["allowed_locations"] == allowed
    try:
        body = run_body(f"s3a://{bucket}/shared/jobs/etl.py")
        run = expect(world.hostile.post(world.runs_path(world.accepting), json=body), 201)
        assert run["job_driver"]["spark_submit"]["entry_point"] == (
            f"s3://{bucket}/shared/jobs/etl.py"
        )
        outside = world.hostile.post(
            world.runs_path(world.accepting), json=run_body(f"s3://{bucket}/private/etl.py")
        )
        assert field_names(expect_error(outside, 422)) == [f"{SUBMIT}.entry_point"]
    finally:
        expect(world.admin.patch(path, json={"allowed_locations": []}), 200)


# --- 4. Git ---------------------------------------------------------------------------------

GIT_URLS = {
    "plain-http-to-postgres": ("http://127.0.0.1:5432/x", "http://"),
    "loopback": ("https://127.0.0.1/x", "not public"),
    "localhost": ("https://localhost/x", "public addresses"),
    "private": ("https://10.0.0.1/x", "not public"),
    "decimal-loopback": ("https://2130706433/x", "non-standard form"),
    "loopback-ssh": ("ssh://git@127.0.0.1/x", "not public"),
    "git-protocol": ("git://127.0.0.1/x", "git://"),
    "ext-transport": ("ext::sh -c id", ""),
    "upload-pack-option": ("-uupload-pack=x", ""),
    "option-as-user": ("-uupload-pack@example.com:x", "'-'"),
    "option-as-ssh-host": ("ssh://-oProxyCommand=id/x", "host name"),
}


@pytest.mark.parametrize("case", list(GIT_URLS))
def test_a_git_url_that_reaches_the_platform_s_network_is_refused(world: World, case: str) -> None:
    """The platform's git clones with the platform's network and identity: plain http,
    loopback, localhost, private and numeric addresses, transport helpers that run
    commands and options smuggled as a URL are refused, naming the url."""
    url, words = GIT_URLS[case]
    before = files_under(world.workspaces)
    response = world.hostile.post(world.repos_path, json={"url": url, "name": unique("r")})
    error = expect_error(response, 422)
    assert field_names(error) == ["url"] and words in error["message"], error
    assert expect(world.hostile.get(world.repos_path), 200) == []
    assert files_under(world.workspaces) == before


def test_a_repository_outside_the_studio_is_not_cloned(world: World) -> None:
    """A file:// repository in B's storage, or the platform's mirrors of every linked
    repository (in the home), would be read by the platform's git."""
    for remote in (git_remote_in(world.b_folder / "repos"), (world.home / "git").as_uri()):
        response = world.hostile.post(world.repos_path, json={"url": remote, "name": unique("r")})
        error = expect_error(response, 422)
        assert field_names(error) == ["url"] and "must be under" in error["message"], error
    assert expect(world.hostile.get(world.repos_path), 200) == []


def test_a_repository_in_the_studio_is_checked_out_by_the_owner_s_account(world: World) -> None:
    """A file:// repository in A's storage is linked; its working tree is the workspace
    owner's (their OS account's, not root's), and a pull works."""
    remote = git_remote_in(world.a_folder / "repos")
    name = unique("repo")
    linked = expect(world.hostile.post(world.repos_path, json={"url": remote, "name": name}), 201)
    assert linked["name"] == name
    tree = world.workspaces / world.workspace["id"] / name
    assert (tree / ".git").is_dir()
    owner = pwd.getpwnam(f"ss-{world.hostile.user_id}")
    assert tree.stat().st_uid == owner.pw_uid != 0
    assert (tree / ".git" / "HEAD").stat().st_uid == owner.pw_uid
    expect(world.hostile.post(f"{world.repos_path}/{name}/pull"), 200)
    expect(world.hostile.delete(f"{world.repos_path}/{name}"), 204)


# --- 5. the proxy path rule ----------------------------------------------------------------


@dataclass(frozen=True)
class Proxies:
    """Route prefixes (raw, ids only) of every proxy, for A's hostile member."""

    workspace: str
    bare_ui: str  # a cluster with no Spark UI: the route answers 409, after the path check
    bare_history: str
    ui: str  # a cluster with a Spark UI address (where nothing answers)
    history: str
    dashboard: str  # a job run's presigned dashboard
    forged_dashboard: str  # a dashboard address not made here


@pytest.fixture(scope="module")
def proxies(world: World) -> Proxies:
    a = world.a["id"]
    bare = register_external(world.admin, world.plane, a)
    with_ui = register_external(world.admin, world.plane, a, ui_url=CLOSED_UI)
    for cluster in (bare, with_ui):
        wait_for_cluster(world.admin, a, cluster["id"], {"RUNNING", "WAITING"}, timeout=30)
    deadline = time.monotonic() + 30
    while not expect(world.admin.get(f"/studios/{a}/clusters/{with_ui['id']}"), 200)["ui_path"]:
        assert time.monotonic() < deadline, "the external cluster's UI address was never read"
        time.sleep(0.2)
    with world.database.transaction() as db:  # as if its driver had told its application id
        db.execute(update(Cluster).where(Cluster.id == with_ui["id"]).values(app_id=FAKE_APP_ID))
    run_id = running_run(world)
    token = dashboards.sign(world.plane.settings, run_id)
    clusters = f"/api/v1/studios/{a}/clusters"
    return Proxies(
        workspace=f"/workspaces/{world.workspace['id']}",
        bare_ui=f"{clusters}/{bare['id']}/ui",
        bare_history=f"{clusters}/{bare['id']}/history",
        ui=f"{clusters}/{with_ui['id']}/ui",
        history=f"{clusters}/{with_ui['id']}/history",
        dashboard=f"{dashboards.PREFIX}/{token}",
        forged_dashboard=f"{dashboards.PREFIX}/d1.{run_id}.9999999999.{'A' * 43}",
    )


def running_run(world: World, ui_url: str = CLOSED_UI) -> str:
    """A run of A's quiet application, written as submitted, then set RUNNING on a driver
    of its own whose UI is ``ui_url`` (nothing is started, no controller is woken)."""
    body = run_body(world.in_a("jobs/etl.py"))
    run_id = insert_job_run(world.database, world.plane.settings, world.quiet["id"], body=body)
    with world.database.transaction() as db:
        db.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(status="RUNNING", runtime="CLASSIC", ui_url=ui_url)
        )
    return run_id


BAD_PATHS = {
    "encoded-dots": "static/%2e%2e/%2e%2e/api/v1/applications",
    "mixed-case-encoded-dot": "static/%2E./api/v1/applications",
    "double-encoded-dots": "static/%252e%252e/api/v1/applications",
    "encoded-slash": "static%2f..%2fapi/v1/applications",
    "jetty-parameter": "static/..;/api/v1/applications",
    "nul": "static/x%00/jobs/",
    "raw-dots": "static/../../api/v1/applications",
    "raw-dot": "./api/v1/applications",
}
PROXY_ROUTES = ["workspace", "bare_ui", "bare_history", "ui", "history", "dashboard"]


@pytest.mark.parametrize("path", list(BAD_PATHS))
@pytest.mark.parametrize("route", PROXY_ROUTES)
def test_every_proxy_refuses_a_path_that_climbs(
    world: World, proxies: Proxies, route: str, path: str
) -> None:
    """Encoded, mixed-case, double-encoded and raw dots, an encoded slash, Jetty's '..;'
    and a NUL, sent as raw bytes (no client normalises them), are a 400 from every
    proxy — before anything else is decided on the path (a cluster without a Spark UI
    answers 409, but only for a path that passed)."""
    prefix = getattr(proxies, route)
    status, body = raw_get(world.plane.url, f"{prefix}/{BAD_PATHS[path]}", world.hostile.token)
    assert status == 400, (status, body)
    assert body["reason"] == "BadPath", body


@pytest.mark.parametrize("path", list(BAD_PATHS))
def test_the_workspace_proxy_checks_the_path_before_who_asks(
    world: World, proxies: Proxies, path: str
) -> None:
    """Without credentials, a climbing path into A's workspace is already a 400: the rule
    comes before authentication (a plain path is a 401, and starts nothing)."""
    status, body = raw_get(world.plane.url, f"{proxies.workspace}/{BAD_PATHS[path]}")
    assert status == 400 and body["reason"] == "BadPath", (status, body)
    status, body = raw_get(world.plane.url, f"{proxies.workspace}/lab")
    assert status == 401, (status, body)


@pytest.mark.parametrize(
    "page",
    [
        "api/v1/applications",
        "history/app-20240101000000-0001/jobs/",
        f"api/v1/applications/{FAKE_APP_ID}x",
    ],
    ids=["every-application", "another-application", "a-longer-id"],
)
def test_the_history_proxy_shows_only_the_cluster_s_own_application(
    world: World, proxies: Proxies, page: str
) -> None:
    """The history server serves every studio's applications: through A's cluster only
    that cluster's pages (and static assets) are reachable; the list of all applications
    and another application's pages are a 404, decided before the history server is
    asked."""
    status, body = raw_get(world.plane.url, f"{proxies.history}/{page}", world.hostile.token)
    assert status == 404 and "no page" in body["message"], (status, body)


@pytest.mark.parametrize("path", list(BAD_PATHS))
def test_a_dashboard_address_not_made_here_shows_nothing(
    world: World, proxies: Proxies, path: str
) -> None:
    """/dashboards/<anything>/…: an address not signed here is a 404 whatever follows."""
    status, body = raw_get(world.plane.url, f"{proxies.forged_dashboard}/{BAD_PATHS[path]}")
    assert status == 404 and "not a dashboard address" in body["message"], (status, body)


def climbs(path: str) -> bool:
    """Whether a '.' or '..' segment (also as Jetty reads 'x;params') appears in ``path``
    or in any of its decodings."""
    level = path
    for _ in range(8):
        if any(segment.partition(";")[0] in (".", "..") for segment in level.split("/")):
            return True
        decoded = unquote(level)
        if decoded == level:
            return False
        level = decoded
    return False


DOT = st.sampled_from([".", "%2e", "%2E", "%252e", "%252E", "%25252e"])
NAMES = st.sampled_from(["static", "api", "v1", "applications", "jobs", "lab", "tree", "x"])
SEPARATORS = st.sampled_from(["/", "/", "/", "//", "%2f", "%2F", "%252f"])


@st.composite
def dot_segments(draw: st.DrawFn) -> str:
    dots = "".join(draw(DOT) for _ in range(draw(st.integers(1, 2))))
    return dots + draw(st.sampled_from(["", "", ";", ";x", ";jsessionid=1"]))


@st.composite
def climbing_paths(draw: st.DrawFn) -> str:
    """A path with at least one '.' or '..' segment, in any of the forms a decoder, a
    proxy or Jetty may read as one."""
    segments = [
        *draw(st.lists(NAMES, max_size=3)),
        *draw(st.lists(dot_segments(), min_size=1, max_size=3)),
        *draw(st.lists(NAMES, max_size=3)),
    ]
    segments = draw(st.permutations(segments))
    path = segments[0]
    for segment in segments[1:]:
        path += draw(SEPARATORS) + segment
    return path + draw(st.sampled_from(["", "/"]))


@pytest.mark.parametrize("route", ["workspace", "ui", "history", "dashboard"])
@settings(max_examples=50, deadline=None)
@given(path=climbing_paths())
def test_no_proxy_forwards_a_path_with_a_dot_segment(
    world: World, proxies: Proxies, route: str, path: str
) -> None:
    """Whatever mix of encodings, separators and ';parameters' a path uses, one that has
    a dot segment after any number of decodings is refused (400), never forwarded (200)
    and never a crash (500)."""
    assert climbs(path)
    prefix = getattr(proxies, route)
    status, body = raw_get(world.plane.url, f"{prefix}/{path}", world.hostile.token)
    assert status not in (200, 500), (path, status, body)
    assert status == 400 and body["reason"] == "BadPath", (path, status, body)


# --- 6. single-user mode ------------------------------------------------------------------


@pytest.fixture(scope="module")
def single_user_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A control plane in single-user mode, whose home was made open to everyone."""
    home = tmp_path_factory.mktemp("single-user")
    home.chmod(0o755)
    with running_control_plane(home, "sqlite", isolation="single-user") as plane:
        yield plane


@pytest.fixture(scope="module")
def single_user_admin(single_user_plane: ControlPlane) -> Iterator[UserClient]:
    with login(single_user_plane.api_url, ADMIN_NAME, ADMIN_PASSWORD) as client:
        yield client


def test_single_user_mode_takes_one_person(single_user_admin: UserClient) -> None:
    """Every member's code runs as the control plane's own OS user: a second person in any
    studio (directly or through a group) could read the first one's data, so is refused."""
    admin = single_user_admin
    first, second, third = (create_user(admin, password=None) for _ in range(3))
    studio, other = create_studio(admin), create_studio(admin)
    add_member(admin, studio["id"], user=first["name"])
    add_member(admin, other["id"], user=first["name"])  # the same person, elsewhere
    for studio_id in (studio["id"], other["id"]):
        body = {"user": second["name"], "role": "DEVELOPER"}
        error = expect_error(
            admin.post(f"/studios/{studio_id}/members", json=body), 409, "SingleUserMode"
        )
        assert "SPARKSTUDIO_SINGLE_USER_ACKNOWLEDGED" in error["message"]
    pair = create_group(admin, members=(first["id"], third["id"]))
    body = {"group": pair["name"], "role": "DEVELOPER"}
    expect_error(admin.post(f"/studios/{studio['id']}/members", json=body), 409, "SingleUserMode")
    alone = create_group(admin, members=(first["id"],))  # only the one person again
    add_member(admin, studio["id"], group=alone["name"])
    members = expect(admin.get(f"/studios/{studio['id']}/members"), 200)["items"]
    assert len(members) == 2


def test_single_user_mode_says_so(single_user_plane: ControlPlane) -> None:
    """The platform still serves, and its doctor names the mode and what it means."""
    with anonymous(single_user_plane.api_url) as client:
        assert client.get("/health").status_code == 200
    check = check_isolation(single_user_plane.settings)
    assert check.ok and "SINGLE-USER" in check.detail, check
    assert not single_user_plane.isolation.sandboxed


def test_an_acknowledged_single_user_platform_takes_more_people(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """SPARKSTUDIO_SINGLE_USER_ACKNOWLEDGED=true: the operator took the risk."""
    home = tmp_path_factory.mktemp("acknowledged")
    with (
        running_control_plane(
            home, "sqlite", isolation="single-user", single_user_acknowledged=True
        ) as plane,
        login(plane.api_url, ADMIN_NAME, ADMIN_PASSWORD) as admin,
    ):
        studio = create_studio(admin)
        for _ in range(2):
            add_member(admin, studio["id"], user=create_user(admin, password=None)["name"])


# --- 7. secrets at rest -------------------------------------------------------------------


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_home_is_closed(plane: ControlPlane) -> None:
    home = plane.settings.home
    assert mode_of(home) == 0o700
    assert mode_of(home / "secret.key") == 0o600
    if plane.settings.database_url is None:  # SQLite: the database is a file of the home
        assert mode_of(home / "sparkstudio.db") == 0o600


def test_the_home_and_its_secrets_are_the_platform_s_only(control_plane: ControlPlane) -> None:
    """The home (0700), its SQLite database and its key (0600): no other OS account (a
    studio's, a user's) reads the database, the key or other studios' default folders."""
    check_home_is_closed(control_plane)


def test_a_home_made_open_is_closed_when_the_platform_starts(
    single_user_plane: ControlPlane,
) -> None:
    """Whatever mode the home had (this one was made 0755 before the control plane
    started) and whatever the umask, the platform closes it and its secrets."""
    check_home_is_closed(single_user_plane)


def raw_column(database: Database, table: str, column: str, row_id: str) -> str:
    """A column as stored, read with SQL (no model, no type decoding)."""
    statement = text(f"SELECT {column} FROM {table} WHERE id = :id")  # noqa: S608
    with database.session(write=False) as db:
        value = db.execute(statement, {"id": row_id}).scalar_one()
    return value if isinstance(value, str) else json.dumps(value)


def test_connect_tokens_and_server_secrets_are_sealed_at_rest(world: World) -> None:
    """A cluster's state (its Connect token) and a workspace server's state (its secret)
    are sealed in the database: a dump or a stolen file holds neither."""
    token = f"token-{unique('t')}"
    cluster = register_external(world.admin, world.plane, world.a["id"], token=token)
    stored = raw_column(world.database, "clusters", "state", cluster["id"])
    assert set(json.loads(stored)) == {"sealed"} and token not in stored, stored

    workspace = create_workspace(world.admin, world.a["id"])
    secret = f"secret-{unique('s')}"
    with world.database.transaction() as db:
        row = db.get(Workspace, workspace["id"])
        assert row is not None
        row.server_state = {"secret": secret}
    try:
        stored = raw_column(world.database, "workspaces", "server_state", workspace["id"])
        assert set(json.loads(stored)) == {"sealed"} and secret not in stored, stored
        with world.database.session(write=False) as db:  # and opened by the platform
            row = db.get(Workspace, workspace["id"])
            assert row is not None and row.server_state == {"secret": secret}
    finally:
        with world.database.transaction() as db:
            db.execute(
                update(Workspace).where(Workspace.id == workspace["id"]).values(server_state=None)
            )


# --- 8. workspaces are their owners' -----------------------------------------------------


def test_only_the_owner_or_a_studio_admin_changes_a_workspace(world: World) -> None:
    """A DEVELOPER may not rename or retag a colleague's workspace that is not shared with
    them (renaming would pass it off as theirs); its owner and a studio ADMIN may."""
    workspace = create_workspace(world.colleague, world.a["id"], tags={"team": "a"})
    path = f"/studios/{world.a['id']}/workspaces/{workspace['id']}"
    for change in ({"name": unique("mine")}, {"tags": {"team": "x"}}, {"description": "x"}):
        expect_error(world.hostile.patch(path, json=change), 403, "AccessDenied")
    unchanged = expect(world.admin.get(path), 200)
    assert (unchanged["name"], unchanged["tags"]) == (workspace["name"], {"team": "a"})
    renamed = unique("renamed")
    assert expect(world.colleague.patch(path, json={"name": renamed}), 200)["name"] == renamed
    retagged = expect(world.studio_admin.patch(path, json={"tags": {"team": "b"}}), 200)
    assert retagged["tags"] == {"team": "b"}


# --- 9. what a list shows of runs one may not describe ------------------------------------


def test_a_run_one_may_not_describe_is_listed_as_a_summary(world: World) -> None:
    """A member whose session policy denies job-run:Describe still lists runs, but sees no
    entry point, parameters, configuration or log location of them."""
    reader = signed_in(world.plane, world.admin, [])
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": "*"},
            {"Effect": "Deny", "Action": "job-run:Describe", "Resource": "*"},
        ]
    }
    add_member(world.admin, world.a["id"], user=reader.name, session_policy=policy)
    overrides = {
        "application_configuration": [
            {"classification": "spark-defaults", "properties": {"spark.secret.thing": "x"}}
        ]
    }
    body = run_body(
        world.in_a("jobs/secret-etl.py"),
        parameters="--conf spark.executor.cores=1",
        configuration_overrides=overrides,
    )
    run_id = insert_job_run(world.database, world.plane.settings, world.quiet["id"], body=body)
    path = world.runs_path(world.quiet)
    with reader:
        listed = {run["id"]: run for run in expect(reader.get(path), 200)["items"]}
        summary = listed[run_id]
        assert summary["job_driver"]["spark_submit"] == {
            "entry_point": "",
            "entry_point_arguments": [],
            "spark_submit_parameters": "",
        }
        assert summary["log_uri"] == "" and "secret" not in json.dumps(summary)
        assert summary["status"] == "SUBMITTED"
        expect_error(reader.get(f"{path}/{run_id}"), 403, "AccessDenied")
    full = {run["id"]: run for run in expect(world.hostile.get(path), 200)["items"]}[run_id]
    assert full["job_driver"]["spark_submit"]["entry_point"].endswith("secret-etl.py")


# --- 10. dashboards -----------------------------------------------------------------------


def test_a_dashboard_is_a_presigned_address_of_the_control_plane(
    world: World, hostile_emr: Any
) -> None:
    """The dashboard of a running run (native API and GetDashboardForJobRun) is an
    address under the control plane's /dashboards/, never the driver's own UI address."""
    run_id = running_run(world)
    native = expect(world.hostile.get(f"{world.runs_path(world.quiet)}/{run_id}/dashboard"), 200)
    aws = hostile_emr.get_dashboard_for_job_run(applicationId=world.quiet["id"], jobRunId=run_id)
    plane = urlsplit(world.plane.url)
    for url in (native["url"], aws["url"]):
        parts = urlsplit(url)
        assert (parts.hostname, parts.port) == (plane.hostname, plane.port), url
        assert parts.path.startswith(f"{dashboards.PREFIX}/d1.{run_id}."), url
        assert CLOSED_UI not in url
        # The address itself lets one in (the driver does not answer here: 503, not 404).
        status, body = raw_get(world.plane.url, parts.path)
        assert status == 503 and body["reason"] == "UpstreamUnavailable", (status, body)


def test_a_tampered_or_expired_dashboard_address_is_404(world: World) -> None:
    """An address whose signature was altered, that names another run with a signature of
    this one, or that expired, shows nothing, and says why in words."""
    plane_settings = world.plane.settings
    run_id, other_id = running_run(world), running_run(world)
    good = dashboards.sign(plane_settings, run_id)
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    swapped = good.replace(run_id, other_id)
    expired = dashboards.sign(
        plane_settings, run_id, now=time.time() - 2 * dashboards.LIFETIME_SECONDS
    )
    for token, words in (
        (tampered, "not a dashboard address"),
        (swapped, "not a dashboard address"),
        (expired, "expired"),
    ):
        status, body = raw_get(world.plane.url, f"{dashboards.PREFIX}/{token}/")
        assert status == 404 and words in body["message"], (token, status, body)
    status, _ = raw_get(world.plane.url, f"{dashboards.PREFIX}/{good}/")
    assert status == 503  # the untampered one is let through (to a driver that is not there)
