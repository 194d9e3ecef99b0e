"""The control plane's ASGI application."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle  # type: ignore[import-untyped]
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from sparkstudio import __version__
from sparkstudio.api import errors
from sparkstudio.api.audit_trail import AuditTrail
from sparkstudio.api.query_values import reject_repeated_query_values
from sparkstudio.api.routers import (
    applications,
    audit,
    cluster_ui,
    clusters,
    dashboards,
    groups,
    job_runs,
    members,
    notebook_executions,
    notebook_schedules,
    session,
    sso,
    studios,
    templates,
    tokens,
    users,
    workspace_agent,
    workspace_proxy,
    workspaces,
)
from sparkstudio.auth.cache import AuthCache
from sparkstudio.auth.oidc import OidcProviders
from sparkstudio.auth.throttle import LoginThrottle
from sparkstudio.aws import emr_serverless
from sparkstudio.clusters.runtime import ClusterRuntime
from sparkstudio.console.routes import CONSOLE
from sparkstudio.console.routes import assets as console_assets
from sparkstudio.console.routes import router as console_router
from sparkstudio.db.session import Database
from sparkstudio.notebooks.runtime import NotebookRuntime
from sparkstudio.serverless.runtime import ApplicationRuntime
from sparkstudio.settings import Settings
from sparkstudio.workspaces.runtime import WorkspaceRuntime

API_PREFIX = "/api/v1"
OPENAPI_URL = f"{API_PREFIX}/openapi.json"
DOCS_URL = f"{API_PREFIX}/docs"
_SWAGGER_ASSETS = Path(swagger_ui_bundle.swagger_ui_path)


class Health(BaseModel):
    status: str
    version: str


def create_app(
    settings: Settings,
    database: Database,
    runtime: ClusterRuntime,
    workspaces_runtime: WorkspaceRuntime | None = None,
    applications_runtime: ApplicationRuntime | None = None,
    notebooks_runtime: NotebookRuntime | None = None,
) -> FastAPI:
    app = FastAPI(
        title="sparkstudio",
        version=__version__,
        summary="A self-hosted studio for interactive analytics on Apache Spark.",
        openapi_url=OPENAPI_URL,
        docs_url=None,  # served below from local assets: no CDN
        redoc_url=None,
        dependencies=[Depends(reject_repeated_query_values)],
    )
    app.state.settings = settings
    app.state.database = database
    app.state.auth_cache = AuthCache(settings.auth_cache_seconds)
    app.state.login_throttle = LoginThrottle.from_settings(settings)
    app.state.clusters = runtime
    app.state.workspaces = workspaces_runtime or WorkspaceRuntime(settings, database, "")
    app.state.applications = applications_runtime or ApplicationRuntime(settings, database)
    app.state.notebooks = notebooks_runtime or NotebookRuntime(
        settings, database, app.state.applications.wake
    )
    app.state.oidc_providers = OidcProviders(settings.oidc_providers)
    # Users, tokens, groups and memberships change only through writes: drop the cache
    # as soon as any write commits, before its response is sent.
    database.on_write_commit(app.state.auth_cache.invalidate)
    errors.install(app)
    app.add_middleware(
        AuditTrail,
        database=database,
        api_prefix=API_PREFIX,
        proxy_prefix="/workspaces",
        aws_prefix="/aws",
    )

    # Routers are included into the app directly: each level of nesting adds a pass of
    # route matching to every request.
    routers = (session, users, groups, studios, members, workspaces, tokens, templates)
    for module in (
        *routers,
        clusters,
        cluster_ui,
        applications,
        job_runs,
        notebook_executions,
        notebook_schedules,
        workspace_agent,
        audit,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(workspaces.leftovers_router, prefix=API_PREFIX)
    app.include_router(applications.releases_router, prefix=API_PREFIX)
    app.include_router(sso.router, prefix=API_PREFIX)  # single sign-on: public routes
    app.include_router(sso.pages)  # /login
    app.include_router(workspace_proxy.router)  # /workspaces/{id}/…: JupyterLab
    app.include_router(dashboards.router)  # /dashboards/<signed>/…: job runs' Spark UIs
    app.include_router(emr_serverless.router)  # /aws/emr-serverless: boto3, the AWS CLI

    @app.get(f"{API_PREFIX}/health", tags=["session"])
    async def health() -> Health:
        """Liveness; needs no token."""
        return Health(status="ok", version=__version__)

    app.mount(f"{DOCS_URL}/assets", StaticFiles(directory=_SWAGGER_ASSETS), name="swagger-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title="sparkstudio API",
            swagger_js_url=f"{DOCS_URL}/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_URL}/assets/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_URL}/assets/favicon-32x32.png",
        )

    # The console: its assets first (the page route takes every other console address).
    app.mount(f"{CONSOLE}/static", console_assets, name="console-assets")
    app.include_router(console_router)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse(CONSOLE, 303)

    return app
