"""Dependencies shared by the routers: database session, caller, authorization.

A route declares its action once, with ``openapi_extra=requires(Action.X)``; the
``authorize`` dependency reads it from the matched route, so a route cannot forget to
be checked and the OpenAPI document shows what each operation needs.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from sparkstudio.api.audit_note import note_decision, note_principal
from sparkstudio.api.cookies import SESSION_COOKIE
from sparkstudio.auth.actions import ACTIONS, Action, Scope, studio_resource
from sparkstudio.auth.cache import AuthCache
from sparkstudio.auth.identity import Principal, authenticate, grants_in_studio, load_principal
from sparkstudio.auth.policy import Decision, decide
from sparkstudio.clusters.runtime import ClusterRuntime
from sparkstudio.console.csrf import CSRF_HEADER, csrf_matches
from sparkstudio.db.models import Studio
from sparkstudio.db.session import Database
from sparkstudio.errors import Forbidden, NotFound
from sparkstudio.notebooks.runtime import NotebookRuntime
from sparkstudio.schemas.common import ID_PATTERN
from sparkstudio.serverless.runtime import ApplicationRuntime
from sparkstudio.services import tokens as token_service
from sparkstudio.settings import Settings
from sparkstudio.workspaces.runtime import WorkspaceRuntime

ACTION_KEY = "x-sparkstudio-action"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def requires(action: Action) -> dict[str, Any]:
    """``openapi_extra`` declaring the action a route performs."""
    return {ACTION_KEY: action.value}


def route_action(request: Request) -> Action:
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    if ACTION_KEY not in extra:
        raise RuntimeError(f"route {getattr(route, 'path', '?')} declares no action")
    return Action(extra[ACTION_KEY])


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> AsyncIterator[Session]:
    """A session for this request; routes that change something commit it themselves.

    Async on purpose: creating a session does no I/O (it connects on first use, in the
    sync code that uses it), and an async generator spares two thread-pool hops.
    """
    session = get_database(request).session(write=request.method not in _READ_METHODS)
    try:
        yield session
    finally:
        session.close()


Db = Annotated[Session, Depends(get_db)]
AppDatabase = Annotated[Database, Depends(get_database)]
AppSettings = Annotated[Settings, Depends(get_settings)]
_bearer = HTTPBearer(auto_error=False, description="A session or API token.")


def get_cluster_runtime(request: Request) -> ClusterRuntime:
    runtime: ClusterRuntime = request.app.state.clusters
    return runtime


Runtime = Annotated[ClusterRuntime, Depends(get_cluster_runtime)]


def get_application_runtime(request: Request) -> ApplicationRuntime:
    runtime: ApplicationRuntime = request.app.state.applications
    return runtime


Applications = Annotated[ApplicationRuntime, Depends(get_application_runtime)]


def get_notebook_runtime(request: Request) -> NotebookRuntime:
    runtime: NotebookRuntime = request.app.state.notebooks
    return runtime


Notebooks = Annotated[NotebookRuntime, Depends(get_notebook_runtime)]


def get_workspace_runtime(request: Request) -> WorkspaceRuntime:
    runtime: WorkspaceRuntime = request.app.state.workspaces
    return runtime


Workspaces = Annotated[WorkspaceRuntime, Depends(get_workspace_runtime)]


def get_auth_cache(request: Request) -> AuthCache:
    cache: AuthCache = request.app.state.auth_cache
    return cache


def get_principal(
    request: Request,
    db: Db,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    presented = credentials.credentials if credentials is not None else None
    if presented is None:
        # Browsers send the login cookie: enough to read; a change also needs the
        # console's CSRF token, which a forged cross-site request cannot know.
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie and (
            request.method in _READ_METHODS
            or csrf_matches(cookie, request.headers.get(CSRF_HEADER))
        ):
            presented = cookie
    if presented is None:
        return authenticate(db, None)  # raises the 401
    principal = get_auth_cache(request).principal(presented, lambda: load_principal(db, presented))
    note_principal(request, principal)
    if principal.needs_touch:
        if request.method in _READ_METHODS:
            with get_database(request).transaction() as writer:
                token_service.touch(writer, principal.token_id)
        else:
            # This request's session already holds the write lock: a second writer
            # would wait on it forever. The touch commits with the request.
            token_service.touch(db, principal.token_id)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


@dataclass(frozen=True)
class Access:
    """What a route gets once the caller is authorized: who, for what, and in which studio."""

    principal: Principal
    action: Action
    studio: Studio | None

    @property
    def actor(self) -> str:
        return self.principal.name

    def require_studio(self) -> Studio:
        if self.studio is None:
            raise RuntimeError(f"{self.action} is not a studio action")
        return self.studio


_KINDS = {
    "studio_id": "studio",
    "workspace_id": "workspace",
    "member_id": "member",
    "user_id": "user",
    "group_id": "group",
    "token_id": "token",
    "cluster_id": "cluster",
    "application_id": "application",
    "job_run_id": "job run",
    "notebook_execution_id": "notebook execution",
}
_ID = re.compile(ID_PATTERN)


def _check_path_ids(request: Request) -> None:
    """An id that is not even well-formed names nothing: 404 before any query.

    (PostgreSQL would refuse some such strings, e.g. with NUL bytes, with an error.)
    """
    for param, value in request.path_params.items():
        if param.endswith("_id") and not _ID.match(value):
            raise NotFound(f"no {_KINDS.get(param, param.removesuffix('_id'))} {value}")


def authorize(request: Request, db: Db, principal: CurrentPrincipal) -> Access:
    _check_path_ids(request)
    action = route_action(request)
    spec = ACTIONS[action]
    studio: Studio | None = None
    resource = ""
    grants = []
    if spec.scope is Scope.STUDIO:
        studio_id = request.path_params["studio_id"]
        studio = db.get(Studio, studio_id)
        if studio is None:
            raise NotFound(f"no studio {studio_id}")
        grants = get_auth_cache(request).grants(
            principal, studio.id, lambda: grants_in_studio(db, principal, studio.id)
        )
        # Item routes name the item as "<kind>_id" (workspace_id, …) or "<kind>_name".
        item = None
        if spec.resource_kind:
            params = request.path_params
            kind = spec.resource_kind.replace("-", "_")  # notebook-execution: notebook_execution_id
            item = params.get(f"{kind}_id") or params.get(f"{kind}_name")
        resource = studio_resource(studio.id, spec.resource_kind, item)
    decision = decide(
        action, is_platform_admin=principal.is_platform_admin, grants=grants, resource=resource
    )
    hidden = decision is Decision.HIDDEN
    note_decision(request, action.value, resource, studio.id if studio else None, hidden=hidden)
    if hidden:
        # A studio the caller does not belong to is indistinguishable from no studio.
        raise NotFound(f"no studio {request.path_params['studio_id']}")
    if decision is Decision.DENY:
        target = resource or "this platform"
        raise Forbidden(f"you are not allowed to perform {action.value} on {target}")
    return Access(principal, action, studio)


Authorized = Annotated[Access, Depends(authorize)]
