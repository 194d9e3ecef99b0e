"""Helpers shared by the tests: running a control plane, and small HTTP helpers.

Everything here talks to a real control plane over real HTTP; the helpers only save
typing (a unique name, the expected status, the usual request body).
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from psycopg import sql
from sqlalchemy import select
from sqlalchemy.engine import make_url

from sparkstudio.api.app import API_PREFIX, create_app
from sparkstudio.api.deps import ACTION_KEY
from sparkstudio.auth.actions import ACTIONS, Action, ActionSpec
from sparkstudio.backends import load_backend
from sparkstudio.backends.base import Backend
from sparkstudio.clusters.runtime import ClusterRuntime
from sparkstudio.db.models import Application, Cluster, Workspace
from sparkstudio.db.session import Database
from sparkstudio.lifecycle import CLUSTER_ENDED, Reason, WorkspaceStatus
from sparkstudio.server import ControlPlane
from sparkstudio.services.clusters import request_termination
from sparkstudio.services.workspace_servers import request_stop
from sparkstudio.settings import Settings
from tests.s3 import REGION, S3Server

ADMIN_NAME = "admin"
ADMIN_PASSWORD = f"admin-{secrets.token_hex(8)}"
PASSWORD = "correct-horse-battery-staple"
TIMEOUT = httpx.Timeout(60.0)

PG_ADMIN_URL = os.environ.get(
    "SPARKSTUDIO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

# The metadata databases a control plane of the tests can run on, by name.
BACKENDS = {
    "sqlite": pytest.param("sqlite", id="sqlite"),
    "postgresql": pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
}
DEFAULT_DATABASES = ("sqlite",)
# What exercises the database layer runs on both: ``pytestmark = BOTH_DATABASES``.
BOTH_DATABASES = pytest.mark.databases("sqlite", "postgresql")
# Tests of the session's ``spark_cluster`` run in one parallel worker (tests/conftest.py):
# the cluster starts once.
SHARES_THE_SPARK_CLUSTER = pytest.mark.xdist_group("shares-the-spark-cluster")


def unique(prefix: str) -> str:
    """A name no other test uses (lower case, so it is also a valid user name)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- control planes ---------------------------------------------------------------------


@contextmanager
def throwaway_postgres_database() -> Iterator[str]:
    """Create ``sparkstudio_test_<hex>`` on the test PostgreSQL; yield its SQLAlchemy URL."""
    admin_url = make_url(PG_ADMIN_URL).set(drivername="postgresql")
    conninfo = admin_url.render_as_string(hide_password=False)
    name = f"sparkstudio_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as error:
        message = (
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({error}); "
            "start it or deselect with -m 'not postgres'"
        )
        if os.environ.get("CI"):  # CI must test both databases: never skip silently there
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield admin_url.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def plane_settings(
    home: Path, database_url: str | None, s3: S3Server | None = None, **overrides: Any
) -> Settings:
    """The settings of a test control plane: quick looks, a free port, a known admin."""
    # Every test client comes from 127.0.0.1: the tests' failed logins would add up to
    # the per-address limit (tests/integration/test_sessions.py tests that limit).
    overrides.setdefault("login_failures_per_address_before_delay", 10_000)
    return Settings(
        home=home,
        port=0,
        admin_password=ADMIN_PASSWORD,
        database_url=database_url,
        # Quick looks and short scale-in delay keep the Spark tests short.
        cluster_poll_seconds=0.5,
        scale_in_idle_seconds=10,
        workspace_poll_seconds=0.5,
        s3_endpoint_url=s3.endpoint_url if s3 is not None else None,
        **overrides,
    )


@contextmanager
def running_control_plane(
    home: Path,
    backend: str,
    *,
    access_log: bool = False,
    s3: S3Server | None = None,
    backends: Callable[[str], Backend] = load_backend,
    **settings_overrides: Any,
) -> Iterator[ControlPlane]:
    """A control plane on a free port with a fresh SQLite or PostgreSQL metadata database.

    ``settings_overrides`` are more settings (e.g. ``oidc_providers``); ``backends``: see
    ``tests.scripted_backend.scripted_spark``.
    """
    if s3 is not None:  # workspace servers inherit the credentials from the environment
        os.environ.setdefault("AWS_ACCESS_KEY_ID", s3.access_key_id)
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", s3.secret_access_key)
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    with ExitStack() as stack:
        database_url = None
        if backend == "postgresql":
            database_url = stack.enter_context(throwaway_postgres_database())
        settings = plane_settings(home, database_url, s3, **settings_overrides)
        plane = ControlPlane(settings, access_log=access_log, backends=backends).start()
        # Last: the OS accounts and network namespaces the tests' studios were given.
        stack.callback(plane.isolation.remove_everything_made)
        stack.callback(plane.stop)  # runs before the database is dropped
        stack.callback(end_every_cluster, plane)  # no JVM outlives the tests
        stack.callback(stop_every_application, plane)
        stack.callback(stop_every_workspace, plane)  # runs first: kernels use the clusters
        yield plane


def _wait_until_none_left(
    database: Database,
    model: Any,
    ids: list[str],
    still: Any,
    *,
    timeout: float,
    poll: float,
    what: str,
) -> None:
    """Poll until none of ``ids`` matches ``still`` (a SQL condition on ``model``)."""
    deadline = time.monotonic() + timeout
    while ids and time.monotonic() < deadline:
        time.sleep(poll)
        with database.session(write=False) as db:
            ids = list(db.scalars(select(model.id).where(model.id.in_(ids), still)))
    assert not ids, f"{what}: {ids}"


def stop_every_workspace(plane: ControlPlane, timeout: float = 60.0) -> None:
    """Stop every workspace server of ``plane`` and wait until all are stopped."""
    database = plane.prepared.database
    with database.transaction() as db:
        running = db.scalars(
            select(Workspace).where(
                (Workspace.server_url != "") | (Workspace.target != WorkspaceStatus.STOPPED)
            )
        ).all()
        for workspace in running:
            request_stop(db, workspace, Reason("USER_REQUEST", "the test session ended"), "tests")
        ids = [workspace.id for workspace in running]
    for workspace_id in ids:
        plane.workspaces.wake(workspace_id)
    serving = (Workspace.server_url != "") | (Workspace.status != WorkspaceStatus.STOPPED)
    _wait_until_none_left(
        database,
        Workspace,
        ids,
        serving,
        timeout=timeout,
        poll=0.2,
        what="workspace servers still running",
    )


def _poll_status(
    client: httpx.Client,
    path: str,
    what: str,
    statuses: set[str],
    timeout: float,
    pause: float,
    ended: Collection[str] = (),
) -> dict[str, Any]:
    """GET ``path`` until its status is one of ``statuses``; fail on one of ``ended``."""
    deadline = time.monotonic() + timeout
    while True:
        item: dict[str, Any] = expect(client.get(path), 200)
        if item["status"] in statuses:
            return item
        assert item["status"] not in ended and time.monotonic() < deadline, (
            f"{what} is {item['status']} ({item['status_reason']}), waiting for {statuses}"
        )
        time.sleep(pause)


def wait_for_workspace(
    client: httpx.Client,
    studio_id: str,
    workspace_id: str,
    statuses: set[str],
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Poll the workspace until its status is one of ``statuses``."""
    path = f"/studios/{studio_id}/workspaces/{workspace_id}"
    return _poll_status(client, path, f"workspace {workspace_id}", statuses, timeout, pause=0.1)


def end_every_cluster(plane: ControlPlane, timeout: float = 180.0) -> None:
    """Terminate every cluster of ``plane`` that has not ended, and wait until all have."""
    database = plane.prepared.database
    with database.transaction() as db:
        live = db.scalars(select(Cluster).where(Cluster.status.not_in(CLUSTER_ENDED))).all()
        for cluster in live:
            request_termination(cluster, "USER_REQUEST", "the test session ended")
        ids = [cluster.id for cluster in live]
    for cluster_id in ids:
        plane.clusters.wake(cluster_id)
    _wait_until_none_left(
        database,
        Cluster,
        ids,
        Cluster.status.not_in(CLUSTER_ENDED),
        timeout=timeout,
        poll=0.5,
        what="clusters still not terminated",
    )


def stop_every_application(plane: ControlPlane, timeout: float = 120.0) -> None:
    """Stop every application of ``plane`` that runs, and wait until none does."""
    database = plane.prepared.database
    running = ("STARTING", "STARTED", "STOPPING")
    with database.transaction() as db:
        live = db.scalars(
            select(Application).where(
                Application.status.in_(running) | (Application.target == "STARTED")
            )
        ).all()
        for application in live:
            application.target = "STOPPED"
        ids = [application.id for application in live]
    for application_id in ids:
        plane.applications.wake(application_id)
    _wait_until_none_left(
        database,
        Application,
        ids,
        Application.status.in_(running),
        timeout=timeout,
        poll=0.5,
        what="applications still running",
    )


def wait_for_application(
    client: httpx.Client,
    studio_id: str,
    application_id: str,
    statuses: set[str],
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Poll the application until its status is one of ``statuses``."""
    path = f"/studios/{studio_id}/applications/{application_id}"
    what = f"application {application_id}"
    return _poll_status(client, path, what, statuses, timeout, pause=0.1, ended={"TERMINATED"})


def wait_for_cluster(
    client: httpx.Client,
    studio_id: str,
    cluster_id: str,
    statuses: set[str],
    timeout: float = 240.0,
) -> dict[str, Any]:
    """Poll the cluster until its status is one of ``statuses``; fail on a wrong ending."""
    path = f"/studios/{studio_id}/clusters/{cluster_id}"
    ended = {s.value for s in CLUSTER_ENDED}
    what = f"cluster {cluster_id}"
    return _poll_status(client, path, what, statuses, timeout, pause=0.5, ended=ended)


def cluster_events(client: httpx.Client, studio_id: str, cluster_id: str) -> list[dict[str, Any]]:
    page = expect(client.get(f"/studios/{studio_id}/clusters/{cluster_id}/events?limit=1000"), 200)
    items: list[dict[str, Any]] = page["items"]
    return items


# --- clients ----------------------------------------------------------------------------


class UserClient(httpx.Client):
    """An ``httpx.Client`` signed in as one user (bearer token), based at the API root."""

    def __init__(self, api_url: str, *, user: dict[str, Any], password: str, token: str) -> None:
        super().__init__(
            base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        )
        self.user = user
        self.password = password
        self.token = token

    @property
    def name(self) -> str:
        return str(self.user["name"])

    @property
    def user_id(self) -> str:
        return str(self.user["id"])


class NewUser(Protocol):
    """The ``new_user`` fixture: create a user with a password and sign them in."""

    def __call__(
        self, name: str | None = None, *, password: str = PASSWORD, platform_admin: bool = False
    ) -> UserClient: ...


def anonymous(api_url: str) -> httpx.Client:
    return httpx.Client(base_url=api_url, timeout=TIMEOUT)


def login(api_url: str, name: str, password: str) -> UserClient:
    with anonymous(api_url) as client:
        body = expect(
            client.post("/auth/login", json={"username": name, "password": password}), 200
        )
    return UserClient(api_url, user=body["user"], password=password, token=body["token"])


def raw_get(base_url: str, raw_path: str, token: str | None = None) -> tuple[int, Any]:
    """GET ``raw_path`` exactly as written: no client normalises it first (httpx removes
    '.' and '..' segments), so the server sees the encoded and the raw dots a browser, curl
    or an attacker may send. Returns the status and the JSON body (the text if not JSON)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        connection.request("GET", raw_path, headers=headers)
        response = connection.getresponse()
        content = response.read().decode("utf-8", "replace")
    finally:
        connection.close()
    try:
        return response.status, json.loads(content)
    except ValueError:
        return response.status, content


def expect(response: httpx.Response, status: int) -> Any:
    """Assert the status (showing the body if it differs); return the JSON body, if any."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url} -> {response.status_code}, "
        f"expected {status}: {response.text}"
    )
    return response.json() if response.content else None


def expect_error(
    response: httpx.Response, status: int, reason: str | None = None
) -> dict[str, Any]:
    """Assert an error response of the documented shape; return its body."""
    body: dict[str, Any] = expect(response, status)
    assert response.headers["content-type"] == "application/json"
    allowed = {"message", "reason", "fields"} if status == 422 else {"message", "reason"}
    assert {"message", "reason"} <= body.keys() <= allowed, body
    assert isinstance(body["message"], str) and body["message"]
    if reason is not None:
        assert body["reason"] == reason, body
    if status == 422:
        assert body["fields"], body
    return body


def field_names(body: dict[str, Any]) -> list[str]:
    return [str(field["field"]) for field in body.get("fields", [])]


# --- objects ----------------------------------------------------------------------------


def create_user(
    admin: httpx.Client, name: str | None = None, *, password: str | None = PASSWORD, **fields: Any
) -> dict[str, Any]:
    """Create a user; ``password=None`` makes one who cannot log in (and costs no hashing)."""
    body: dict[str, Any] = {"name": name or unique("user"), **fields}
    if password is not None:
        body["password"] = password
    result: dict[str, Any] = expect(admin.post("/users", json=body), 201)
    return result


def create_group(
    admin: httpx.Client, name: str | None = None, *, members: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Create a group and add the users with the given ids."""
    group: dict[str, Any] = expect(
        admin.post("/groups", json={"name": name or unique("group")}), 201
    )
    for user_id in members:
        group = expect(admin.put(f"/groups/{group['id']}/members/{user_id}"), 200)
    return group


def create_studio(admin: httpx.Client, name: str | None = None, **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = expect(
        admin.post("/studios", json={"name": name or unique("studio"), **fields}), 201
    )
    return result


def add_member(
    client: httpx.Client,
    studio_id: str,
    *,
    user: str | None = None,
    group: str | None = None,
    role: str = "DEVELOPER",
    session_policy: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Map a user or group (by name) to a studio with a role and optional session policy."""
    body: dict[str, Any] = {"role": role}
    if user is not None:
        body["user"] = user
    if group is not None:
        body["group"] = group
    if session_policy is not None:
        body["session_policy"] = session_policy
    result: dict[str, Any] = expect(client.post(f"/studios/{studio_id}/members", json=body), 201)
    return result


def create_workspace(
    client: httpx.Client, studio_id: str, name: str | None = None, **fields: Any
) -> dict[str, Any]:
    result: dict[str, Any] = expect(
        client.post(
            f"/studios/{studio_id}/workspaces", json={"name": name or unique("ws"), **fields}
        ),
        201,
    )
    return result


def git_remote_in(folder: Path) -> str:
    """A bare Git repository with one commit under ``folder`` (a studio's storage, where a
    file:// repository may be linked from); its file:// URL."""
    folder.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="git-", dir=folder))
    for args in (
        ["init", "--bare", "-q", "--initial-branch=main", str(root / "origin.git")],
        ["clone", "-q", str(root / "origin.git"), str(root / "work")],
        ["-C", str(root / "work"), "commit", "-q", "--allow-empty", "-m", "first"],
        ["-C", str(root / "work"), "push", "-q", "origin", "HEAD:main"],
    ):
        identity = ["-c", "user.name=Tests", "-c", "user.email=tests@example.com"]
        subprocess.run(["git", *identity, *args], check=True, capture_output=True)
    return (root / "origin.git").as_uri()


def studio_folder(studio: dict[str, Any]) -> Path:
    """A studio's file storage on this host."""
    return Path(urlsplit(studio["storage_location"]).path)


def in_storage(studio: dict[str, Any], relative: str) -> str:
    """An address in the studio's own storage, where its members may name locations (what
    is there need not exist for a request that only records it)."""
    return f"{studio['storage_location'].rstrip('/')}/{relative.lstrip('/')}"


def studio_dir(plane: ControlPlane, studio: dict[str, Any], *parts: str) -> Path:
    """A folder of the studio's file storage that its Spark processes may read and write
    (its account's, as a folder a member's job made would be), made with its parents."""
    root = plane.isolation.studio_storage(studio["id"], studio["storage_location"])
    assert root is not None, "the studio's storage is not a folder of this host"
    place = plane.isolation.studio_place(studio["id"])
    folder = root
    for part in parts:
        folder = folder / part
        place.own(folder)
    return folder


def studio_file(plane: ControlPlane, studio: dict[str, Any], relative: str, text: str) -> Path:
    """A file of the studio's storage (a script, data) as a member leaves it there: the
    studio's Spark processes read it (it is the studio account's)."""
    *folders, name = relative.split("/")
    path = studio_dir(plane, studio, *folders) / name
    path.write_text(text)
    plane.isolation.studio_place(studio["id"]).give(path)
    return path


# --- the route table --------------------------------------------------------------------


@dataclass(frozen=True)
class ApiRoute:
    """One operation of the API and the action it declares."""

    method: str
    path: str  # relative to the API root, e.g. "/studios/{studio_id}"
    action: Action
    has_body: bool
    params: tuple[str, ...]

    @property
    def spec(self) -> ActionSpec:
        return ACTIONS[self.action]

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def openapi_path(self) -> str:
        """The path as OpenAPI writes it (``{path}``, not the route's ``{path:path}``)."""
        return self.path.replace(":path}", "}")

    def url(self, params: dict[str, str]) -> str:
        return self.openapi_path.format(**params)


def route_contexts(app: FastAPI) -> list[RouteContext]:
    """Every route of ``app`` with its effective path (routers included, prefixes applied)."""
    return list(iter_route_contexts(app.routes))


def route_table(app: FastAPI) -> list[ApiRoute]:
    """Every operation of the API (under its prefix: not the AWS adapters, which are
    signed with SigV4) that declares an action, in the app's order."""
    routes = []
    for context in route_contexts(app):
        if not isinstance(context.route, APIRoute) or not str(context.path).startswith(API_PREFIX):
            continue
        extra = context.openapi_extra or {}
        if ACTION_KEY not in extra:
            continue
        for method in sorted(context.methods or ()):
            routes.append(
                ApiRoute(
                    method=method,
                    path=str(context.path).removeprefix(API_PREFIX),
                    action=Action(extra[ACTION_KEY]),
                    has_body=context.body_field is not None,
                    params=tuple(context.param_convertors),
                )
            )
    return routes


def offline_app() -> FastAPI:
    """The app as ``create_app`` builds it, for collection time (no database is opened)."""
    database = Database("sqlite://")
    try:
        settings = Settings(home=Path("/nonexistent/sparkstudio-tests"))
        return create_app(settings, database, ClusterRuntime(settings, database))
    finally:
        database.dispose()


ROUTES: list[ApiRoute] = route_table(offline_app())
