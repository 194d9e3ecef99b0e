"""Job runs' presigned dashboards: ``/dashboards/<signed address>/…``.

The address itself is the credential (EMR's presigned dashboard URL): it names one run
and expires within the hour. It shows that run's Spark UI — the live UI of the driver it
runs on, or its application's pages on the history server once it ended — through the
one proxy path rule; no Spark UI listens where a browser could reach it otherwise.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from sparkstudio.api import spark_ui
from sparkstudio.api.deps import AppSettings, Db, Runtime
from sparkstudio.db.models import Application, JobRun
from sparkstudio.errors import Conflict, NotFound
from sparkstudio.services import dashboards
from sparkstudio.services import job_runs as service

router = APIRouter(prefix=dashboards.PREFIX, include_in_schema=False)


@router.get("/{token}/{path:path}")
async def job_run_dashboard(
    token: str, path: str, request: Request, db: Db, settings: AppSettings, runtime: Runtime
) -> Response:
    try:
        run_id = dashboards.verify(settings, token)
    except dashboards.BadDashboard as error:
        raise NotFound(str(error)) from None
    run = db.get(JobRun, run_id)
    application = db.get(Application, run.application_id) if run is not None else None
    if run is None or application is None:
        raise NotFound(f"no job run {run_id}")
    context = f"{dashboards.PREFIX}/{token}"
    remainder = spark_ui.remainder(request, f"{context}/")
    live = service.live_ui(run, application)
    if live:
        return await spark_ui.forward(request, live, remainder, context)
    history = runtime.history
    if not run.spark_app_id or history is None:
        raise Conflict(f"job run {run.id} has no Spark UI to show", reason="InvalidState")
    app = run.spark_app_id
    if remainder == "":
        return RedirectResponse(f"{context}/history/{app}/jobs/")
    if not spark_ui.history_page_of(app, remainder):
        raise NotFound(f"no page {remainder} of job run {run.id}")
    base = await run_in_threadpool(history.url)
    await run_in_threadpool(history.wait_ready)
    return await spark_ui.forward(request, base, remainder, context)
