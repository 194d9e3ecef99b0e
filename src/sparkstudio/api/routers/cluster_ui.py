"""The live Spark UI of a cluster's driver and its page in the history server, proxied.

Spark builds its links from the ``X-Forwarded-Context`` header, so pages served under
``…/clusters/{id}/ui/`` link back under the same prefix and every request passes
through the control plane's authentication and authorization (cookie or bearer token).
The history server serves every cluster's application: only this cluster's pages (and
the shared static assets) are reachable through this cluster's route. Paths pass the one
proxy path rule (:mod:`sparkstudio.api.proxy_paths`) before anything is decided on them,
and the upstream address is built from the cluster's record, never from the request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from sparkstudio.api import spark_ui as ui_proxy
from sparkstudio.api.deps import Authorized, Db, Runtime, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.errors import Conflict, NotFound, Unavailable
from sparkstudio.lifecycle import CLUSTER_ENDED
from sparkstudio.services import clusters as service

API_PREFIX = "/api/v1"

router = APIRouter(
    prefix="/studios/{studio_id}/clusters/{cluster_id}",
    tags=["clusters"],
    responses=ERROR_RESPONSES,
)


@dataclass(frozen=True)
class Proxied:
    prefix: str  # the path this cluster's pages are served under, without a trailing /
    ui_url: str
    app_id: str
    ended: bool


def proxied_cluster(
    studio_id: str, cluster_id: str, request: Request, access: Authorized, db: Db
) -> Proxied:
    cluster = service.get_cluster_or_404(db, access.require_studio(), cluster_id)
    # Built from the ids, as the path rule wants: the request's path is checked against it.
    prefix = f"{API_PREFIX}/studios/{cluster.studio_id}/clusters/{cluster.id}"
    return Proxied(prefix, cluster.ui_url, cluster.app_id, cluster.status in CLUSTER_ENDED)


Cluster = Annotated[Proxied, Depends(proxied_cluster)]


def _checked(kind: str) -> Callable[[str, str, Request], str]:
    """A dependency checking the path under ``…/{kind}/`` before anything else (it is
    declared first: the path rule comes before authorization and the cluster's state)."""

    def remainder(studio_id: str, cluster_id: str, request: Request) -> str:
        prefix = f"{API_PREFIX}/studios/{studio_id}/clusters/{cluster_id}/{kind}/"
        return ui_proxy.remainder(request, prefix)

    return remainder


UiPath = Annotated[str, Depends(_checked("ui"))]
HistoryPath = Annotated[str, Depends(_checked("history"))]


@router.get("/ui/{path:path}", openapi_extra=requires(Action.CLUSTER_VIEW_UI))
async def spark_ui(
    studio_id: str,
    cluster_id: str,
    path: str,
    remainder: UiPath,
    request: Request,
    cluster: Cluster,
) -> Response:
    """The cluster driver's live Spark UI (jobs, stages, SQL, executors, Connect)."""
    if cluster.ended:
        raise Conflict(
            f"cluster {cluster_id} has ended; its pages are in the history server at "
            f"{cluster.prefix}/history/",
            reason="InvalidState",
        )
    if not cluster.ui_url:
        raise Conflict(f"cluster {cluster_id} has no Spark UI yet", reason="InvalidState")
    return await ui_proxy.forward(request, cluster.ui_url, remainder, f"{cluster.prefix}/ui")


@router.get("/history/{path:path}", openapi_extra=requires(Action.CLUSTER_VIEW_UI))
async def spark_history(
    studio_id: str,
    cluster_id: str,
    path: str,
    remainder: HistoryPath,
    request: Request,
    cluster: Cluster,
    runtime: Runtime,
) -> Response:
    """This cluster's application in the Spark history server (also after it ended)."""
    if runtime.history is None:
        raise Unavailable("the history server is turned off (SPARKSTUDIO_HISTORY_SERVER)")
    if not cluster.app_id:
        raise Conflict(
            f"cluster {cluster_id} has not started its Spark application yet", reason="InvalidState"
        )
    app = cluster.app_id
    if remainder == "":
        return RedirectResponse(f"{cluster.prefix}/history/history/{app}/jobs/")
    if not ui_proxy.history_page_of(app, remainder):
        raise NotFound(f"no page {remainder} of cluster {cluster_id} in the history server")
    history = runtime.history
    base = await run_in_threadpool(history.url)  # starts it when it is not running
    await run_in_threadpool(history.wait_ready)
    return await ui_proxy.forward(request, base, remainder, f"{cluster.prefix}/history")
