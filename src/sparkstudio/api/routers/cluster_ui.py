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

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from sparkstudio.api.deps import Authorized, Db, Runtime, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.api.proxy_paths import BadProxyPath, checked_proxy_path, upstream_path
from sparkstudio.auth.actions import Action
from sparkstudio.errors import BadRequest, Conflict, NotFound, Unavailable
from sparkstudio.lifecycle import CLUSTER_ENDED
from sparkstudio.processes.reach import async_client
from sparkstudio.services import clusters as service

router = APIRouter(
    prefix="/studios/{studio_id}/clusters/{cluster_id}",
    tags=["clusters"],
    responses=ERROR_RESPONSES,
)
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
SELF_REDIRECTS = 5
# Response headers that describe the upstream connection, not the content.
_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "server",
        "date",
    }
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
    path = request.url.path
    marker = f"/clusters/{cluster.id}"
    prefix = path[: path.index(marker) + len(marker)]
    return Proxied(prefix, cluster.ui_url, cluster.app_id, cluster.status in CLUSTER_ENDED)


Cluster = Annotated[Proxied, Depends(proxied_cluster)]


def _remainder(request: Request, route_prefix: str) -> str:
    """The checked path after ``route_prefix`` (``…/ui/``, ``…/history/``)."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    try:
        return checked_proxy_path(raw, route_prefix)
    except BadProxyPath as error:
        raise BadRequest(f"no such page: {error}", reason="BadPath") from None


async def _forward(request: Request, reach_url: str, remainder: str, context: str) -> Response:
    headers = {"X-Forwarded-Context": context, "Accept": request.headers.get("accept", "*/*")}
    base, client = async_client(reach_url, TIMEOUT)
    upstream = f"{base}/{upstream_path(remainder)}"
    try:
        async with client:
            for _ in range(SELF_REDIRECTS):
                answer = await client.get(upstream, params=request.query_params, headers=headers)
                # The history server answers the first request for an application with a
                # redirect to the same page once it has loaded it: load, then serve.
                if not (answer.is_redirect and _location(answer, context) == request.url.path):
                    break
    except httpx.HTTPError as error:
        raise Unavailable(
            f"the Spark UI does not answer: {error}", reason="UpstreamUnavailable"
        ) from None
    kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
    if "location" in kept:
        kept["location"] = _location(answer, context)
    return Response(answer.content, status_code=answer.status_code, headers=kept)


def _location(answer: httpx.Response, context: str) -> str:
    """Spark may redirect to its own address: keep only the path, under our prefix."""
    location = urlsplit(str(answer.headers.get("location", "")))
    path: str = location.path if location.path.startswith(context) else context + location.path
    return path + (f"?{location.query}" if location.query else "")


@router.get("/ui/{path:path}", openapi_extra=requires(Action.CLUSTER_VIEW_UI))
async def spark_ui(
    studio_id: str, cluster_id: str, path: str, request: Request, cluster: Cluster
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
    remainder = _remainder(request, f"{cluster.prefix}/ui/")
    return await _forward(request, cluster.ui_url, remainder, f"{cluster.prefix}/ui")


@router.get("/history/{path:path}", openapi_extra=requires(Action.CLUSTER_VIEW_UI))
async def spark_history(
    studio_id: str,
    cluster_id: str,
    path: str,
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
    remainder = _remainder(request, f"{cluster.prefix}/history/")
    if remainder == "":
        return RedirectResponse(f"{cluster.prefix}/history/history/{app}/jobs/")
    allowed = (f"history/{app}/", f"api/v1/applications/{app}/", "static/")
    exact = (f"history/{app}", f"api/v1/applications/{app}")
    if not (remainder.startswith(allowed) or remainder in exact):
        raise NotFound(f"no page {remainder} of cluster {cluster_id} in the history server")
    history = runtime.history
    base = await run_in_threadpool(history.url)  # starts it when it is not running
    await run_in_threadpool(history.wait_ready)
    return await _forward(request, base, remainder, f"{cluster.prefix}/history")
