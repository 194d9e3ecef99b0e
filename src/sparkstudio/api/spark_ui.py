"""Forwarding to a Spark UI (a driver's live UI, the history server) for the proxies that
serve them: a cluster's pages and a job run's presigned dashboard.

Spark builds its links from the ``X-Forwarded-Context`` header, so pages served under a
prefix link back under it. The request's path passes the one proxy path rule
(:mod:`sparkstudio.api.proxy_paths`) first; the upstream is the caller's choice of
record, never the request's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from fastapi import Request
from fastapi.responses import Response

from sparkstudio.api.proxy_paths import BadProxyPath, checked_proxy_path, upstream_path
from sparkstudio.errors import BadRequest, Unavailable
from sparkstudio.processes.reach import async_client

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


def remainder(request: Request, route_prefix: str) -> str:
    """The checked path after ``route_prefix`` (``…/ui/``, ``…/history/``)."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    try:
        return checked_proxy_path(raw, route_prefix)
    except BadProxyPath as error:
        raise BadRequest(f"no such page: {error}", reason="BadPath") from None


def history_page_of(app_id: str, path: str) -> bool:
    """Whether ``path`` (checked) is one of ``app_id``'s pages of the history server (or
    its shared static assets): the history server serves every studio's applications."""
    allowed = (f"history/{app_id}/", f"api/v1/applications/{app_id}/", "static/")
    return path.startswith(allowed) or path in (
        f"history/{app_id}",
        f"api/v1/applications/{app_id}",
    )


async def forward(request: Request, reach_url: str, path: str, context: str) -> Response:
    """GET ``path`` of the UI at ``reach_url``, served under ``context``."""
    headers = {"X-Forwarded-Context": context, "Accept": request.headers.get("accept", "*/*")}
    base, client = async_client(reach_url, TIMEOUT)
    upstream = f"{base}/{upstream_path(path)}"
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
