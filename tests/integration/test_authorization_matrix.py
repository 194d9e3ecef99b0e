"""Authorization, generated from the action table.

Every operation under the API prefix declares an action (or is one of the few public
routes). Each operation is called by each kind of caller, and the answer must be what
``ACTIONS`` says: allowed callers get a 2xx, a member without the role a 403, a signed-in
user outside the studio a 404 (the studio does not exist for them), non-admins a 403 on
platform operations, and a request without a token a 401.

Session policies narrow a membership; those tests are at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select, update

from sparkstudio.api.app import API_PREFIX, DOCS_URL, OPENAPI_URL
from sparkstudio.api.deps import ACTION_KEY
from sparkstudio.api.routers.workspace_proxy import PROXY_ACTION
from sparkstudio.auth.actions import ACTIONS, Action, Role, Scope
from sparkstudio.db.models import AuditRecord, JobRun
from sparkstudio.db.session import Database
from sparkstudio.server import ControlPlane
from sparkstudio.serverless.releases import supported_release_labels
from sparkstudio.services.audit import last_record_id
from tests.conftest import SparkCluster
from tests.integration.test_job_runs_api import insert_job_run, run_body
from tests.integration.test_notebook_executions_api import insert_execution
from tests.support import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    PASSWORD,
    ROUTES,
    SHARES_THE_SPARK_CLUSTER,
    ApiRoute,
    NewUser,
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
    in_storage,
    login,
    offline_app,
    route_contexts,
    route_table,
    studio_folder,
    unique,
    wait_for_application,
    wait_for_cluster,
)

# Its requests name the session's running cluster: real Spark.
pytestmark = [pytest.mark.spark, SHARES_THE_SPARK_CLUSTER]

USABLE = {"WAITING", "RUNNING"}

# Operations that need no token (method, path under the API prefix). The workspace
# agent's operations are called by kernels with their server's secret, not a user token
# (tests/spark/test_workspaces.py, tests/spark/test_isolation.py). Single sign-on is how a
# caller without a token gets one: listing the providers, the redirect to one, the
# provider's callback (checked by its state, the browser's cookie and the ID token) and
# the CLI's exchange of its one-time code (checked by its PKCE verifier);
# tests/integration/test_sso.py.
PUBLIC_OPERATIONS = {
    ("POST", "/auth/login"),
    ("GET", "/health"),
    ("GET", DOCS_URL.removeprefix(API_PREFIX)),
    ("PUT", "/workspace-agent/{workspace_id}/attachment"),
    ("POST", "/workspace-agent/{workspace_id}/connect-token"),
    ("GET", "/auth/providers"),
    ("GET", "/auth/oidc/{name}/login"),
    ("GET", "/auth/oidc/{name}/callback"),
    ("POST", "/auth/oidc/cli-token"),
}
# Actions checked outside the API's routes: the workspace proxy checks WORKSPACE_OPEN.
PROXY_ACTIONS = {PROXY_ACTION}
# Non-operation routes under the prefix: the OpenAPI document and the docs' static assets.
PUBLIC_PATHS = {OPENAPI_URL, f"{DOCS_URL}/assets"}


# --- the table covers every route -------------------------------------------------------


def test_every_api_route_declares_an_action_or_is_public() -> None:
    undeclared = []
    for context in route_contexts(offline_app()):
        path = str(context.path)
        if not path.startswith(API_PREFIX):
            continue
        if not isinstance(context.route, APIRoute):
            assert path in PUBLIC_PATHS, f"unexpected non-API route {path}"
            continue
        extra = getattr(context, "openapi_extra", None) or {}
        for method in context.methods or ():
            public = (method, path.removeprefix(API_PREFIX)) in PUBLIC_OPERATIONS
            if method != "HEAD" and ACTION_KEY not in extra and not public:
                undeclared.append(f"{method} {path}")
    assert undeclared == [], "routes without an action (add requires(...)) or allow-list them"


def test_every_action_has_a_route() -> None:
    assert {route.action for route in ROUTES} == set(Action) - PROXY_ACTIONS


def test_the_public_routes_need_no_token(control_plane: ControlPlane, anon: httpx.Client) -> None:
    assert expect(anon.get("/health"), 200)["status"] == "ok"
    assert anon.get(DOCS_URL.removeprefix(API_PREFIX)).status_code == 200
    assert httpx.get(control_plane.url + OPENAPI_URL).status_code == 200
    # Login answers on its own terms (not the 401 of a missing token).
    body = expect_error(
        anon.post("/auth/login", json={"username": ADMIN_NAME, "password": "not-it-at-all"}),
        401,
        "LoginFailed",
    )
    assert "password" in body["message"]
    # Single sign-on answers on its own terms too (this platform has no provider).
    assert expect(anon.get("/auth/providers"), 200) == []
    expect_error(anon.get("/auth/oidc/corp/login"), 404, "NotFound")
    expect_error(anon.get("/auth/oidc/corp/callback", params={"state": "x"}), 404, "NotFound")
    code = {"code": "not-a-code", "code_verifier": "v" * 43}
    expect_error(anon.post("/auth/oidc/cli-token", json=code), 401, "InvalidCode")
    # The workspace agent answers only a workspace server's secret.
    ask = {"user": ADMIN_NAME, "cluster_id": "cl-0000000000000000"}
    refused = expect_error(
        anon.post("/workspace-agent/ws-0000000000000000/connect-token", json=ask),
        401,
        "Unauthenticated",
    )
    assert "workspace server" in refused["message"]


def test_the_live_app_serves_the_same_table(control_plane: ControlPlane) -> None:
    live = control_plane.server.config.app
    assert isinstance(live, FastAPI)
    assert route_table(live) == ROUTES


def test_the_openapi_document_shows_each_operations_action(anon: httpx.Client) -> None:
    document = expect(anon.get(OPENAPI_URL.removeprefix(API_PREFIX)), 200)
    for route in ROUTES:
        operation = document["paths"][API_PREFIX + route.openapi_path][route.method.lower()]
        assert operation[ACTION_KEY] == route.action.value, route.id
        assert operation.get("security"), f"{route.id} does not document its bearer token"


def test_the_actions_endpoint_serves_the_table(admin: UserClient) -> None:
    served = {row["action"]: row for row in expect(admin.get("/actions"), 200)}
    assert set(served) == {action.value for action in Action}
    for action, spec in ACTIONS.items():
        assert served[action.value]["scope"] == spec.scope.value
        assert served[action.value]["roles"] == sorted(role.value for role in spec.roles)


# --- every route x every caller ---------------------------------------------------------

CALLERS = ("platform_admin", "studio_admin", "studio_developer", "foreign", "anonymous")


@dataclass
class Caller:
    kind: str
    client: httpx.Client
    name: str | None = None
    password: str | None = None


@pytest.fixture(scope="module")
def callers(control_plane: ControlPlane, admin: UserClient) -> Iterator[dict[str, Caller]]:
    """One caller of each kind; the two members are mapped into each fresh studio."""
    result = {"platform_admin": Caller("platform_admin", admin, ADMIN_NAME, ADMIN_PASSWORD)}
    clients = []
    for kind in ("studio_admin", "studio_developer", "foreign"):
        name = unique(kind.replace("_", "-"))
        create_user(admin, name, password=PASSWORD)
        client = login(control_plane.api_url, name, PASSWORD)
        clients.append(client)
        result[kind] = Caller(kind, client, name, PASSWORD)
    anon_client = anonymous(control_plane.api_url)
    clients.append(anon_client)  # type: ignore[arg-type]
    result["anonymous"] = Caller("anonymous", anon_client)
    yield result
    for client in clients:
        client.close()


class World:
    """The objects one call needs, created fresh and lazily (only what the path names)."""

    def __init__(
        self,
        admin: httpx.Client,
        callers: dict[str, Caller],
        caller: Caller,
        plane: ControlPlane,
        spark: SparkCluster | None = None,
    ) -> None:
        self.admin = admin
        self.callers = callers
        self.caller = caller
        self.plane = plane
        self.spark = spark

    def _members(self, studio: dict[str, Any]) -> dict[str, Any]:
        add_member(self.admin, studio["id"], user=self.callers["studio_admin"].name, role="ADMIN")
        add_member(self.admin, studio["id"], user=self.callers["studio_developer"].name)
        expect(self.admin.put(f"/templates/single-node/shares/{studio['id']}"), 204)
        return studio

    @cached_property
    def studio(self) -> dict[str, Any]:
        if self.spark is not None:  # the studio of the running Spark cluster
            return self._members(self.spark.studio)
        return self._members(create_studio(self.admin))

    @cached_property
    def cluster(self) -> dict[str, Any]:
        """The running Spark cluster, or (for writes) an external endpoint registered here."""
        if self.spark is not None:
            return self.spark.cluster
        created = expect(
            self.admin.post(
                f"/studios/{self.studio['id']}/clusters/external", json=external_body(self)
            ),
            201,
        )
        result: dict[str, Any] = created
        return result

    @cached_property
    def template(self) -> dict[str, Any]:
        """A template of its own, shared with :attr:`studio`."""
        body = template_text(unique("tpl"))
        result: dict[str, Any] = expect(self.admin.post("/templates", json={"body": body}), 201)
        expect(self.admin.put(f"/templates/{result['name']}/shares/{self.studio['id']}"), 204)
        return result

    @cached_property
    def workspace(self) -> dict[str, Any]:
        # Its users (owner, shared members) may start, attach or share it: a member
        # calling owns the one they call on; other callers get the admin's.
        studio = self.studio
        member = self.caller.kind in _CALLER_ROLE
        return create_workspace(self.caller.client if member else self.admin, studio["id"])

    @cached_property
    def member_user(self) -> dict[str, Any]:
        """A user of the studio besides the callers (who cannot log in)."""
        user = create_user(self.admin, password=None)
        add_member(self.admin, self.studio["id"], user=user["name"])
        return user

    @cached_property
    def shared_user(self) -> dict[str, Any]:
        """A member the workspace is shared with (by its owner or the admin)."""
        owner = self.caller.client if self.caller.kind in _CALLER_ROLE else self.admin
        path = f"/studios/{self.studio['id']}/workspaces/{self.workspace['id']}/shares"
        expect(owner.post(path, json={"user": self.member_user["name"]}), 201)
        return self.member_user

    @cached_property
    def git_remote(self) -> str:
        """A bare Git repository with one commit in the studio's storage (file:// ones are
        linked from the studio's locations only), to link to workspaces."""
        return git_remote_in(studio_folder(self.studio) / "repos")

    @cached_property
    def repo(self) -> dict[str, Any]:
        """A repository linked to :attr:`workspace` by its owner."""
        owner = self.caller.client if self.caller.kind in _CALLER_ROLE else self.admin
        path = f"/studios/{self.studio['id']}/workspaces/{self.workspace['id']}/repos"
        result: dict[str, Any] = expect(
            owner.post(path, json={"url": self.git_remote, "name": unique("repo")}), 201
        )
        return result

    @cached_property
    def usable_cluster(self) -> dict[str, Any]:
        """A cluster a workspace may attach to (WAITING or RUNNING)."""
        cluster = self.cluster
        return wait_for_cluster(self.admin, self.studio["id"], cluster["id"], USABLE, 60)

    @cached_property
    def member(self) -> dict[str, Any]:
        """A membership other than the caller's (a user who cannot log in)."""
        user = create_user(self.admin, password=None)
        return add_member(self.admin, self.studio["id"], user=user["name"])

    @cached_property
    def user(self) -> dict[str, Any]:
        return create_user(self.admin, password=None)

    @cached_property
    def group(self) -> dict[str, Any]:
        """A group holding :attr:`user` (so removing them from it can succeed)."""
        return create_group(self.admin, members=(self.user["id"],))

    @cached_property
    def application(self) -> dict[str, Any]:
        """A serverless application, CREATED (nothing of it runs)."""
        path = f"/studios/{self.studio['id']}/applications"
        created = expect(self.admin.post(path, json=application_body()), 201)
        return wait_for_application(self.admin, self.studio["id"], created["id"], {"CREATED"})

    @cached_property
    def job_run(self) -> dict[str, Any]:
        """A run of :attr:`application`, written as a submission writes it (a real one
        would start the application) and shown as a spark-submit run that runs, with a
        log and a live Spark UI to read (the controller is not woken)."""
        database = self.plane.prepared.database
        job_run_id = insert_job_run(
            database,
            self.plane.settings,
            self.application["id"],
            stdout="matrix\n",
            ui_url="http://127.0.0.1:4041",
        )
        with database.transaction() as db:
            db.execute(
                update(JobRun)
                .where(JobRun.id == job_run_id)
                .values(status="RUNNING", runtime="CLASSIC")
            )
        return {"id": job_run_id}

    @cached_property
    def notebook_execution(self) -> dict[str, Any]:
        """A START_PENDING execution on :attr:`application`, written as a start writes it
        (the controller is not woken), with its outputs written (so they can be read)."""
        execution_id = insert_execution(
            self.plane.prepared.database, self.application["id"], outputs=True
        )
        return {"id": execution_id}

    @cached_property
    def notebook_schedule(self) -> dict[str, Any]:
        """A schedule on the registered cluster, due once a year (no run is due here)."""
        path = f"/studios/{self.studio['id']}/notebook-schedules"
        result: dict[str, Any] = expect(self.admin.post(path, json=schedule_body(self)), 201)
        return result

    @cached_property
    def token(self) -> dict[str, Any]:
        """A personal token of the caller (SELF actions act on the caller's own things)."""
        owner = self.caller.client if self.caller.name else self.admin
        result: dict[str, Any] = expect(owner.post("/tokens", json={"name": unique("tok")}), 201)
        return result

    def path_params(self, route: ApiRoute) -> dict[str, str]:
        sources = {
            "studio_id": ("studio", "id"),
            "workspace_id": ("workspace", "id"),
            "member_id": ("member", "id"),
            "user_id": ("user", "id"),
            "group_id": ("group", "id"),
            "token_id": ("token", "id"),
            "cluster_id": ("cluster", "id"),
            "application_id": ("application", "id"),
            "job_run_id": ("job_run", "id"),
            "notebook_execution_id": ("notebook_execution", "id"),
            "notebook_schedule_id": ("notebook_schedule", "id"),
            "template_name": ("template", "name"),
            "user_name": ("shared_user", "name"),
            "repo_name": ("repo", "name"),
        }
        params = {}
        for name in route.params:
            if name == "operation":  # of a linked Git repository
                params[name] = "pull"
                continue
            if name == "path":  # a page of a proxied Spark UI
                app = self.cluster["app_id"]
                params[name] = f"history/{app}/jobs/" if "/history/" in route.path else "jobs/"
                continue
            assert name in sources, f"{route.id}: teach World to make {name}"
            source, key = sources[name]
            params[name] = str(getattr(self, source)[key])
        return params


def template_text(name: str) -> str:
    return (
        f"name: {name}\n"
        "cluster: {workers_min: 1, workers_max: 1, worker_cores: 1, worker_memory_mib: 1024,"
        " executor_cores: 1, executor_memory_mib: 512}\n"
    )


def external_body(world: World) -> dict[str, Any]:
    """An external cluster whose endpoint answers: the control plane's own port (only a
    platform admin may name this host's own addresses)."""
    port = world.plane.url.rsplit(":", 1)[1]
    return {"name": unique("ext"), "connect_url": f"sc://127.0.0.1:{port}"}


def register_body(world: World) -> dict[str, Any]:
    """An external cluster any caller allowed may register: a host of the network (that
    does not resolve here: observing it says so)."""
    return {"name": unique("ext"), "connect_url": "sc://spark.invalid:15002"}


SMALL_SPEC = {
    "workers_min": 1,
    "workers_max": 1,
    "worker_cores": 1,
    "worker_memory_mib": 1024,
    "executor_cores": 1,
    "executor_memory_mib": 512,
}
# Actions that start a real cluster: what they start is terminated right after the call.
LAUNCHES = {Action.CLUSTER_CREATE, Action.CLUSTER_CREATE_FROM_SPEC}


def application_body() -> dict[str, Any]:
    return {"name": unique("app"), "release_label": next(iter(supported_release_labels()))}


@pytest.fixture(scope="module")
def shared_world(
    admin: UserClient,
    callers: dict[str, Caller],
    control_plane: ControlPlane,
    spark_cluster: SparkCluster,
) -> World:
    """One world for all read-only calls (GET never needs a token of the caller's own)."""
    return World(admin, callers, callers["platform_admin"], control_plane, spark_cluster)


# A valid body per action (for the operations that take one), so allowed calls succeed.
def schedule_body(world: World) -> dict[str, Any]:
    """A yearly schedule of a notebook that is not there, on the registered cluster: a run
    started now fails on its own."""
    return {
        "name": unique("sched"),
        "cron": "0 0 1 1 *",
        "notebook": {"uri": in_storage(world.studio, "nonexistent/matrix.ipynb")},
        "target": {"kind": "CLUSTER", "id": world.cluster["id"]},
    }


BODIES: dict[Action, Callable[[World], dict[str, Any]]] = {
    Action.TOKEN_CREATE: lambda w: {"name": unique("tok"), "expires_in_days": 1},
    Action.PASSWORD_CHANGE: lambda w: {  # set the same password again
        "current_password": w.caller.password or "whatever-it-is",
        "new_password": w.caller.password or "whatever-it-is",
    },
    Action.USER_CREATE: lambda w: {"name": unique("user")},
    Action.USER_UPDATE: lambda w: {"display_name": "Renamed"},
    Action.GROUP_CREATE: lambda w: {"name": unique("group")},
    Action.GROUP_UPDATE: lambda w: {"description": "updated"},
    Action.STUDIO_CREATE: lambda w: {"name": unique("studio")},
    Action.STUDIO_UPDATE: lambda w: {"description": "updated"},
    Action.MEMBER_CREATE: lambda w: {
        "user": create_user(w.admin, password=None)["name"],
        "role": "DEVELOPER",
    },
    Action.MEMBER_UPDATE: lambda w: {"role": "ADMIN"},
    Action.WORKSPACE_CREATE: lambda w: {"name": unique("ws")},
    Action.WORKSPACE_UPDATE: lambda w: {"description": "updated", "tags": {"team": "a"}},
    Action.WORKSPACE_ATTACH: lambda w: {"cluster_id": w.usable_cluster["id"]},
    Action.WORKSPACE_SHARE: lambda w: {"user": w.member_user["name"]},
    Action.WORKSPACE_REPOS: lambda w: {"url": w.git_remote, "name": unique("repo")},
    Action.STUDIO_SET_QUOTAS: lambda w: {},
    Action.TEMPLATE_PUBLISH: lambda w: {"body": template_text(unique("tpl"))},
    Action.CLUSTER_CREATE: lambda w: {"name": unique("cl"), "template": "single-node"},
    Action.CLUSTER_CREATE_FROM_SPEC: lambda w: {"name": unique("cl"), "spec": SMALL_SPEC},
    Action.CLUSTER_REGISTER: register_body,
    # The single-node cluster's bounds as they are: allowed calls change nothing.
    Action.CLUSTER_SCALE: lambda w: {"workers_min": 1, "workers_max": 1},
    Action.APPLICATION_CREATE: lambda w: application_body(),
    Action.APPLICATION_UPDATE: lambda w: {"tags": {"team": "a"}},
    # The script need not exist: the run fails on its own once the application is stopped.
    Action.JOB_RUN_START: lambda w: run_body(w.studio),
    # On the registered cluster; the notebook is not there, so it fails on its own.
    Action.NOTEBOOK_EXECUTION_START: lambda w: {
        "notebook": {"uri": in_storage(w.studio, "nonexistent/matrix.ipynb")},
        "target": {"kind": "CLUSTER", "id": w.cluster["id"]},
    },
    Action.NOTEBOOK_SCHEDULE_CREATE: schedule_body,
    Action.NOTEBOOK_SCHEDULE_UPDATE: lambda w: {"description": "updated"},
}


_CALLER_ROLE = {"studio_admin": Role.ADMIN, "studio_developer": Role.DEVELOPER}


def expected_outcome(route: ApiRoute, caller: str) -> int | None:
    """The status the table prescribes; None for "allowed" (any 2xx)."""
    spec = route.spec
    if caller == "anonymous":
        return 401
    if spec.scope is Scope.SELF or caller == "platform_admin":
        return None
    if spec.scope is Scope.PLATFORM:
        return 403
    if caller == "foreign":
        return 404
    return None if _CALLER_ROLE[caller] in spec.roles else 403


@pytest.mark.parametrize("caller_kind", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.id)
def test_route_answers_each_caller_as_the_table_says(
    route: ApiRoute,
    caller_kind: str,
    control_plane: ControlPlane,
    admin: UserClient,
    callers: dict[str, Caller],
    shared_world: World,
    database: Database,
) -> None:
    caller = callers[caller_kind]
    # Reads (and no-op scaling) change nothing: they share one world with a running
    # cluster; every other call gets a fresh one.
    shared = route.method == "GET" or route.action is Action.CLUSTER_SCALE
    world = shared_world if shared else World(admin, callers, caller, control_plane)
    params = world.path_params(route)
    body = BODIES[route.action](world) if route.has_body else None
    client = caller.client
    fresh: UserClient | None = None
    if route.action is Action.SESSION_DELETE and caller.name and caller.password:
        # Logging out revokes the token in use: spend a fresh session on it.
        client = fresh = login(control_plane.api_url, caller.name, caller.password)
    with database.session(write=False) as db:
        recorded_before = last_record_id(db)
    try:
        response = client.request(route.method, route.url(params), json=body)
    finally:
        if fresh is not None:
            fresh.close()
    if route.action is Action.APPLICATION_START and response.status_code == 202:
        # Started for real: stopped right away (its processes, if any, with it).
        expect(admin.post(f"{route.url(params)[: -len('/start')]}/stop"), 202)
    if route.action is Action.JOB_RUN_START and response.status_code == 201:
        # The submission auto-started the application: stopped right away, with the run.
        application = route.url(params).removesuffix("/job-runs")
        expect(admin.post(f"{application}/stop"), 202)
    if route.action is Action.NOTEBOOK_EXECUTION_START and response.status_code == 201:
        # Stopped right away, unless it has already failed (a 409 then).
        stop = admin.post(f"{route.url(params)}/{response.json()['id']}/stop")
        assert stop.status_code in (202, 409), stop.text
    if route.action in LAUNCHES and response.status_code == 201:
        launched = f"/studios/{params['studio_id']}/clusters/{response.json()['id']}"
        expect(admin.delete(launched), 202)

    expected = expected_outcome(route, caller_kind)
    if expected is None:
        assert 200 <= response.status_code < 300, (
            f"{caller_kind} should be allowed {route.action.value}: "
            f"{response.status_code} {response.text} {response.headers.get('location', '')}"
        )
    elif expected == 401:
        expect_error(response, 401, "Unauthenticated")
        assert response.headers["www-authenticate"] == "Bearer"
    elif expected == 403:
        error = expect_error(response, 403, "AccessDenied")
        assert route.action.value in error["message"]
    else:
        error = expect_error(response, 404, "NotFound")
        assert error["message"] == f"no studio {params['studio_id']}"
    assert_audited(database, recorded_before, route, params, caller, response.status_code)


def assert_audited(
    database: Database,
    after_id: int,
    route: ApiRoute,
    params: dict[str, str],
    caller: Caller,
    status: int,
) -> None:
    """The audit trail holds the call if it was denied or changed something, else nothing."""
    with database.session(write=False) as db:
        rows = db.scalars(
            select(AuditRecord).where(
                AuditRecord.id > after_id,
                AuditRecord.method == route.method,
                AuditRecord.path == API_PREFIX + route.url(params),
            )
        ).all()
    denied = status in (401, 403, 404)
    if route.method == "GET" and not denied:
        assert rows == [], f"an allowed read was recorded: {route.id}"
        return
    assert len(rows) == 1, f"{route.id} by {caller.kind} recorded {len(rows)} times"
    record = rows[0]
    outcome = "DENIED" if denied else "SUCCEEDED"
    assert (record.outcome, record.status_code) == (outcome, status), route.id
    assert record.action == route.action.value, route.id
    assert record.actor_name == (caller.name or ""), route.id


# --- session policies -------------------------------------------------------------------


def _deny(action: str, resource: str = "*") -> dict[str, Any]:
    """Everything the role grants except ``action`` on ``resource``.

    A policy narrows by what it Allows (docs/authorization.md), so "all but X" is an
    Allow of everything plus a Deny of X.
    """
    return {
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": action, "Resource": resource},
        ]
    }


def test_a_deny_statement_removes_one_action(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name, session_policy=_deny("workspace:Delete"))
    workspaces = f"/studios/{studio['id']}/workspaces"

    created = expect(developer.post(workspaces, json={"name": unique("ws")}), 201)
    expect(developer.get(workspaces), 200)
    error = expect_error(developer.delete(f"{workspaces}/{created['id']}"), 403, "AccessDenied")
    assert "workspace:Delete" in error["message"]
    expect(admin.get(f"{workspaces}/{created['id']}"), 200)  # still there


def test_a_deny_only_policy_allows_nothing(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    """As documented: a membership allows only what its policy Allows (IAM session policy)."""
    developer = new_user()
    deny_only = {"Statement": [{"Effect": "Deny", "Action": "workspace:Delete", "Resource": "*"}]}
    add_member(admin, studio["id"], user=developer.name, session_policy=deny_only)
    workspaces = f"/studios/{studio['id']}/workspaces"
    expect_error(developer.post(workspaces, json={"name": unique("ws")}), 403, "AccessDenied")
    expect_error(developer.get(workspaces), 403, "AccessDenied")


def test_an_allow_only_policy_grants_nothing_else(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    developer = new_user()
    policy = {
        "Statement": [{"Effect": "Allow", "Action": ["workspace:List", "workspace:Describe"]}]
    }
    add_member(admin, studio["id"], user=developer.name, session_policy=policy)
    workspace = create_workspace(admin, studio["id"])
    workspaces = f"/studios/{studio['id']}/workspaces"

    assert [w["id"] for w in expect(developer.get(workspaces), 200)["items"]] == [workspace["id"]]
    expect(developer.get(f"{workspaces}/{workspace['id']}"), 200)
    expect(developer.get(f"{workspaces}/{workspace['id']}/events"), 200)
    expect_error(developer.post(workspaces, json={"name": unique("ws")}), 403, "AccessDenied")
    expect_error(developer.patch(f"{workspaces}/{workspace['id']}", json={}), 403)
    expect_error(developer.get(f"/studios/{studio['id']}"), 403)  # studio:Describe not allowed
    expect_error(developer.get(f"/studios/{studio['id']}/members"), 403)


def test_an_allow_cannot_grant_more_than_the_role(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    developer = new_user()
    policy = {"Statement": [{"Effect": "Allow", "Action": "*"}]}
    add_member(admin, studio["id"], user=developer.name, session_policy=policy)
    user = create_user(admin, password=None)
    expect_error(
        developer.post(
            f"/studios/{studio['id']}/members", json={"user": user["name"], "role": "ADMIN"}
        ),
        403,
    )
    expect(developer.post(f"/studios/{studio['id']}/workspaces", json={"name": unique("ws")}), 201)


def test_an_explicit_deny_through_a_group_wins_over_a_direct_membership(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    developer = new_user()
    group = create_group(admin, members=(developer.user_id,))
    add_member(admin, studio["id"], user=developer.name, role="ADMIN")  # no policy: everything
    add_member(admin, studio["id"], group=group["name"], session_policy=_deny("workspace:Delete"))
    workspaces = f"/studios/{studio['id']}/workspaces"
    workspace = expect(developer.post(workspaces, json={"name": unique("ws")}), 201)

    expect_error(developer.delete(f"{workspaces}/{workspace['id']}"), 403, "AccessDenied")
    # Leaving the group lifts the deny.
    expect(admin.delete(f"/groups/{group['id']}/members/{developer.user_id}"), 200)
    expect(developer.delete(f"{workspaces}/{workspace['id']}"), 204)


def test_grants_of_several_memberships_add_up(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    """An Allow-only policy on one membership does not narrow another without a policy."""
    developer = new_user()
    group = create_group(admin, members=(developer.user_id,))
    read_only = {"Statement": [{"Effect": "Allow", "Action": "workspace:List"}]}
    add_member(admin, studio["id"], user=developer.name, session_policy=read_only)
    expect_error(
        developer.post(f"/studios/{studio['id']}/workspaces", json={"name": unique("ws")}), 403
    )
    add_member(admin, studio["id"], group=group["name"], role="DEVELOPER")
    expect(developer.post(f"/studios/{studio['id']}/workspaces", json={"name": unique("ws")}), 201)


def test_resource_patterns_name_one_workspace(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    sid = studio["id"]
    developer = new_user()
    # Their own workspaces (only its owner or a studio admin may update a workspace).
    membership = add_member(admin, sid, user=developer.name)
    first, second = create_workspace(developer, sid), create_workspace(developer, sid)
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "workspace:Describe",
                "Resource": f"studio/{sid}/workspace/{first['id']}",
            },
            {
                "Effect": "Allow",
                "Action": "workspace:Update",
                "Resource": f"studio/{sid}/workspace/*",
            },
            {
                "Effect": "Deny",
                "Action": "workspace:Update",
                "Resource": f"studio/{sid}/workspace/{second['id']}",
            },
        ]
    }
    members = f"/studios/{sid}/members/{membership['id']}"
    expect(admin.patch(members, json={"session_policy": policy}), 200)
    workspaces = f"/studios/{sid}/workspaces"

    expect(developer.get(f"{workspaces}/{first['id']}"), 200)
    expect_error(developer.get(f"{workspaces}/{second['id']}"), 403)
    expect(developer.patch(f"{workspaces}/{first['id']}", json={"description": "mine"}), 200)
    error = expect_error(developer.patch(f"{workspaces}/{second['id']}", json={}), 403)
    assert f"studio/{sid}/workspace/{second['id']}" in error["message"]
    # Collection actions name ".../workspace/*", which a one-workspace pattern does not match.
    expect_error(developer.get(workspaces), 403)


def test_a_policy_for_another_studio_grants_nothing_here(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    other = create_studio(admin)
    developer = new_user()
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": "workspace:*", "Resource": f"studio/{other['id']}/*"}
        ]
    }
    add_member(admin, studio["id"], user=developer.name, session_policy=policy)
    expect_error(developer.get(f"/studios/{studio['id']}/workspaces"), 403)


def test_changing_a_policy_takes_effect_at_once(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    developer = new_user()
    member = add_member(admin, studio["id"], user=developer.name)
    workspaces = f"/studios/{studio['id']}/workspaces"
    expect(developer.get(workspaces), 200)

    member_url = f"/studios/{studio['id']}/members/{member['id']}"
    updated = expect(admin.patch(member_url, json={"session_policy": _deny("workspace:List")}), 200)
    assert updated["session_policy"]["Statement"][1]["Effect"] == "Deny"
    expect_error(developer.get(workspaces), 403)

    cleared = expect(admin.patch(member_url, json={"session_policy": None}), 200)
    assert cleared["session_policy"] is None
    expect(developer.get(workspaces), 200)


@pytest.mark.parametrize(
    ("statement", "field", "words"),
    [
        pytest.param(
            {"Effect": "Allow", "Action": "foo:Bar"},
            "session_policy.Statement.0.Action",
            "matches no studio action",
            id="unknown-action",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "token:Create"},
            "session_policy.Statement.0.Action",
            "matches no studio action",
            id="not-a-studio-action",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "workspace:List", "Resource": "arn:x"},
            "session_policy.Statement.0.Resource",
            "is not a resource pattern",
            id="bad-resource",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "workspace:List", "Condition": {}},
            "session_policy.Statement.0.Condition",
            "is not a known field",
            id="unknown-field",
        ),
        pytest.param(
            {"Effect": "Maybe", "Action": "workspace:List"},
            "session_policy.Statement.0.Effect",
            "Allow",
            id="bad-effect",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": []},
            "session_policy.Statement.0.Action",
            "at least 1",
            id="no-action",
        ),
    ],
)
def test_an_invalid_policy_is_refused_naming_the_field(
    admin: UserClient,
    studio: dict[str, Any],
    statement: dict[str, Any],
    field: str,
    words: str,
) -> None:
    user = create_user(admin, password=None)
    body = {"user": user["name"], "role": "DEVELOPER", "session_policy": {"Statement": [statement]}}
    error = expect_error(admin.post(f"/studios/{studio['id']}/members", json=body), 422)
    assert field_names(error) == [field]
    assert words in error["fields"][0]["message"]
    assert field in error["message"]
    # Nothing was created.
    members = expect(admin.get(f"/studios/{studio['id']}/members"), 200)["items"]
    assert user["id"] not in [m["principal_id"] for m in members]


def test_an_invalid_policy_is_refused_on_update_too(
    admin: UserClient, studio: dict[str, Any]
) -> None:
    user = create_user(admin, password=None)
    member = add_member(admin, studio["id"], user=user["name"])
    policy = {"Statement": [{"Effect": "Deny", "Action": "workspace:List"}], "Extra": 1}
    error = expect_error(
        admin.patch(
            f"/studios/{studio['id']}/members/{member['id']}", json={"session_policy": policy}
        ),
        422,
    )
    assert field_names(error) == ["session_policy.Extra"]
