"""JupyterLab of a workspace, proxied at ``/workspaces/{id}/…`` (HTTP and WebSocket).

Every request is authenticated by the control plane (a bearer token, or the login
cookie a browser sends) and let through only for the workspace's owner and the members
it is shared with. The workspace server trusts what the proxy forwards: its secret and
the user's name. Browser protections are checked here, because the server skips its
own for requests that carry the secret: a request changing something with the cookie
must echo the ``_xsrf`` cookie in ``X-XSRFToken`` (JupyterLab does), and a WebSocket
opened with the cookie must come from this origin.

A stopped workspace starts on the next open: pages answer with a short "starting" page
that reloads itself, API calls with 503 and ``Retry-After``. So does the first request
that finds the server's process gone (before the reconciler noticed): it starts again.

Every path passes the one proxy path rule (:mod:`sparkstudio.api.proxy_paths`) before it
is authorized or looked at, and is forwarded segment by segment as checked. A WebSocket
stays open only while its credentials do: revoking the token (or disabling the user)
closes it within the auth cache's lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request, WebSocket
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from sparkstudio.api.audit_note import note_decision, note_of, note_principal, note_refusal
from sparkstudio.api.cookies import SESSION_COOKIE
from sparkstudio.api.deps import get_auth_cache
from sparkstudio.api.proxy_paths import BadProxyPath, checked_proxy_path, upstream_path
from sparkstudio.auth.actions import Action, studio_resource
from sparkstudio.auth.identity import Principal, grants_in_studio, load_principal
from sparkstudio.auth.policy import Decision, decide
from sparkstudio.db.models import Workspace
from sparkstudio.db.session import Database
from sparkstudio.errors import BadRequest, Forbidden, NotFound, StudioError, Unauthenticated
from sparkstudio.jupyter.identity import SECRET_HEADER, USER_HEADER
from sparkstudio.processes.reach import UNIX, base_and_transport, split_server_url
from sparkstudio.services import workspace_servers as servers
from sparkstudio.workspaces.runtime import WorkspaceRuntime

router = APIRouter(include_in_schema=False)
PREFIX = "/workspaces/{workspace_id}"
# The action the proxy checks (it is not an API operation: no route declares it).
PROXY_ACTION = Action.WORKSPACE_OPEN
XSRF_COOKIE, XSRF_HEADER = "_xsrf", "X-XSRFToken"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
# Request headers that describe this hop or carry our own credentials.
_DROPPED_REQUEST = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
        "te",
        "authorization",
        "cookie",
        "content-length",
        SECRET_HEADER.lower(),
        USER_HEADER.lower(),
    }
)
_DROPPED_RESPONSE = frozenset({"connection", "keep-alive", "transfer-encoding", "server", "date"})
_WS_HANDSHAKE = frozenset(
    {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"}
    | {"sec-websocket-protocol", "origin"}
)
RETRY_SECONDS = 1
RECHECK_SECONDS = 2.0  # how often an open WebSocket's credentials are checked again
TIMEOUT = httpx.Timeout(300.0, connect=5.0)  # uploads and long contents calls


@dataclass(frozen=True)
class Upstream:
    url: str  # the server's URL under its base path (see processes.reach.server_url)
    secret: str
    user: str
    presented: str  # the credentials the request came with (re-checked on WebSockets)


class NotRunning(Exception):
    """The workspace's server is not serving yet (it was asked to start)."""

    def __init__(self, workspace: str, status: str) -> None:
        super().__init__(workspace)
        self.workspace, self.status = workspace, status


def _credentials(conn: HTTPConnection) -> tuple[str | None, bool]:
    """The token presented, and whether it came from the browser's cookie."""
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip(), False
    cookie = conn.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def _check_browser_request(conn: HTTPConnection, method: str, websocket: bool) -> None:
    if websocket:
        origin = conn.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != conn.headers.get("host"):
            raise Forbidden(f"WebSocket from another origin ({origin}) refused")
    elif method not in _SAFE_METHODS:
        cookie = conn.cookies.get(XSRF_COOKIE, "")
        header = conn.headers.get(XSRF_HEADER, "")
        if not cookie or not hmac.compare_digest(cookie.encode(), header.encode()):
            raise Forbidden(f"'{XSRF_HEADER}' must repeat the '{XSRF_COOKIE}' cookie")


def _resolve(
    conn: HTTPConnection, workspace_id: str, method: str, websocket: bool, *, start: bool = True
) -> Upstream:
    """Who is asking, whether they may open the workspace, and where its server is
    (a stopped one is asked to start, with ``start``)."""
    presented, from_cookie = _credentials(conn)
    if presented is None:
        raise Unauthenticated("log in first (or send 'Authorization: Bearer <token>')")
    if from_cookie:
        _check_browser_request(conn, method, websocket)
    database: Database = conn.app.state.database
    runtime: WorkspaceRuntime = conn.app.state.workspaces
    cache = get_auth_cache(conn)  # type: ignore[arg-type]
    with database.session(write=False) as db:
        principal: Principal = cache.principal(presented, lambda: load_principal(db, presented))
        note_principal(conn, principal)
        workspace = db.get(Workspace, workspace_id)
        if workspace is None:
            raise NotFound(f"no workspace {workspace_id}")
        grants = cache.grants(
            principal,
            workspace.studio_id,
            lambda: grants_in_studio(db, principal, workspace.studio_id),
        )
        resource = studio_resource(workspace.studio_id, "workspace", workspace.id)
        decision = decide(
            PROXY_ACTION,
            is_platform_admin=principal.is_platform_admin,
            grants=grants,
            resource=resource,
        )
        hidden = decision is Decision.HIDDEN
        note_decision(conn, PROXY_ACTION.value, resource, workspace.studio_id, hidden=hidden)
        if hidden:
            raise NotFound(f"no workspace {workspace_id}")
        if decision is Decision.DENY:
            raise Forbidden(f"you are not allowed to perform {PROXY_ACTION.value} on {resource}")
        servers.require_user_of(db, workspace, principal)
        state = workspace.server_state
        serving = workspace.status in servers.RUNNING and state is not None
        if serving and workspace.target == servers.TARGET_RUNNING:
            assert state is not None
            return Upstream(workspace.server_url, str(state["secret"]), principal.name, presented)
        status = workspace.status
    if not start:
        raise NotRunning(workspace_id, status)
    with database.transaction() as writer:
        fresh = writer.get(Workspace, workspace_id)
        changed = fresh is not None and servers.request_start(fresh)
    if changed:
        runtime.wake(workspace_id)
    raise NotRunning(workspace_id, status)


def _error(error: StudioError) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=error.status)


def _note_if_denied(conn: HTTPConnection, error: StudioError) -> None:
    """The audit trail records the proxy's denials: 401, 403, and a workspace hidden by 404."""
    note = note_of(conn)
    if note is None:
        return
    if error.status in (401, 403) or (error.status == 404 and note.hidden):
        note.action = note.action or PROXY_ACTION.value  # also when refused before any check
        note_refusal(conn, error)


def _starting(request: Request, stopped: NotRunning) -> Response:
    if "text/html" in request.headers.get("accept", "") and request.method == "GET":
        page = STARTING_PAGE.format(seconds=RETRY_SECONDS, status=stopped.status.lower())
        return HTMLResponse(page, status_code=503, headers={"Retry-After": str(RETRY_SECONDS)})
    return JSONResponse(
        {
            "message": f"workspace {stopped.workspace} is starting; try again in a moment",
            "reason": "WorkspaceStarting",
        },
        status_code=503,
        headers={"Retry-After": str(RETRY_SECONDS)},
    )


def _forwarded_headers(conn: HTTPConnection, upstream: Upstream) -> dict[str, str]:
    headers = {k: v for k, v in conn.headers.items() if k.lower() not in _DROPPED_REQUEST}
    kept_cookies = "; ".join(f"{k}={v}" for k, v in conn.cookies.items() if k != SESSION_COOKIE)
    if kept_cookies:
        headers["cookie"] = kept_cookies  # jupyter's own (_xsrf); never our session
    headers[SECRET_HEADER] = upstream.secret
    headers[USER_HEADER] = upstream.user
    headers["X-Forwarded-Host"] = conn.headers.get("host", "")
    headers["X-Forwarded-Proto"] = conn.url.scheme
    return headers


def _client(request: Request, reach: str) -> tuple[str, httpx.AsyncClient]:
    """A pooled client per way of reaching servers (TCP, or one bridge socket per
    server): a new connection per request costs more than the proxying itself."""
    clients: dict[str, tuple[str, httpx.AsyncClient]] | None = getattr(
        request.app.state, "workspace_proxy_clients", None
    )
    if clients is None:
        clients = {}
        request.app.state.workspace_proxy_clients = clients
    key = reach if reach.startswith(UNIX) else "tcp"
    if key not in clients:
        base, transport = base_and_transport(reach)
        client = httpx.AsyncClient(transport=transport, timeout=TIMEOUT, follow_redirects=False)
        clients[key] = (base if key != "tcp" else "", client)
    base, client = clients[key]
    return (base or reach), client


def _remainder(conn: HTTPConnection, workspace_id: str) -> str:
    """The request's path after the workspace's prefix, checked (see proxy_paths)."""
    raw: bytes = conn.scope.get("raw_path") or conn.url.path.encode()
    try:
        return checked_proxy_path(raw, f"{PREFIX.format(workspace_id=workspace_id)}/")
    except BadProxyPath as error:
        raise BadRequest(f"no such path: {error}", reason="BadPath") from None


@router.api_route(PREFIX, methods=_METHODS)
@router.api_route(PREFIX + "/{path:path}", methods=_METHODS)
async def proxy_http(request: Request, workspace_id: str, path: str = "") -> Response:
    method = request.method
    try:
        remainder = _remainder(request, workspace_id)
        upstream = await run_in_threadpool(_resolve, request, workspace_id, method, False)
    except NotRunning as stopped:
        return _starting(request, stopped)
    except StudioError as error:
        _note_if_denied(request, error)
        return _error(error)
    if method not in _SAFE_METHODS and _is_attachment(remainder):
        refused = Forbidden("attach through the studio: PUT …/workspaces/{id}/attachment")
        _note_if_denied(request, refused)
        return _error(refused)
    reach, base_path = split_server_url(upstream.url)
    base, client = _client(request, reach)
    url = f"{base}{base_path}{upstream_path(remainder)}"
    body = await request.body()
    outgoing = client.build_request(
        method,
        url,
        params=request.url.query,
        headers=_forwarded_headers(request, upstream),
        content=body,
    )
    try:
        answer = await client.send(outgoing, stream=True)
    except httpx.HTTPError as error:
        if isinstance(error, httpx.TransportError) and await _server_lost(request, workspace_id):
            return _starting(request, NotRunning(workspace_id, "stopped"))
        return _error(
            StudioError(
                f"the workspace server does not answer: {error}", reason="Unavailable", status=502
            )
        )
    headers = [
        (k, v) for k, v in answer.headers.multi_items() if k.lower() not in _DROPPED_RESPONSE
    ]
    response = StreamingResponse(
        answer.aiter_raw(), status_code=answer.status_code, background=BackgroundTask(answer.aclose)
    )
    response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return response


async def _server_lost(request: Request, workspace_id: str) -> bool:
    """Whether the server's process is gone; if so its controller starts it again."""
    runtime: WorkspaceRuntime = request.app.state.workspaces
    if not await run_in_threadpool(runtime.controller.server_lost, workspace_id):
        return False
    runtime.wake(workspace_id)
    return True


def _is_attachment(remainder: str) -> bool:
    return remainder.rstrip("/").endswith("sparkstudio/attachment")


@router.websocket(PREFIX + "/{path:path}")
async def proxy_websocket(websocket: WebSocket, workspace_id: str, path: str) -> None:
    try:
        remainder = _remainder(websocket, workspace_id)
        upstream = await run_in_threadpool(_resolve, websocket, workspace_id, "GET", True)
    except (StudioError, NotRunning) as error:
        if isinstance(error, StudioError):
            _note_if_denied(websocket, error)
        await websocket.close(code=1008)  # before accept: the handshake is refused (403)
        return
    reach, base_path = split_server_url(upstream.url)
    location = f"{base_path}{upstream_path(remainder)}"
    if websocket.url.query:
        location += "?" + websocket.url.query
    headers = {
        k: v
        for k, v in _forwarded_headers(websocket, upstream).items()
        if k.lower() not in _WS_HANDSHAKE
    }
    offered = [Subprotocol(p) for p in websocket.scope.get("subprotocols", [])]
    options: dict[str, Any] = {
        "additional_headers": headers,
        "subprotocols": offered or None,
        "max_size": None,
        "ping_interval": None,  # jupyter pings its clients itself
        "compression": None,
        "open_timeout": 15,
    }
    try:
        if reach.startswith(UNIX):
            server = await unix_connect(
                reach.removeprefix(UNIX), f"ws://localhost{location}", **options
            )
        else:
            server = await connect("ws" + reach.removeprefix("http") + location, **options)
    except (OSError, InvalidStatus, TimeoutError):
        await websocket.close(code=1011)
        return
    async with server:
        await websocket.accept(subprotocol=server.subprotocol)
        await _pump(websocket, server, _still_allowed(websocket, workspace_id, upstream))


def _still_allowed(
    websocket: WebSocket, workspace_id: str, upstream: Upstream
) -> Callable[[], Awaitable[bool]]:
    """Whether the WebSocket's credentials still open the workspace (the token is not
    revoked, the user not disabled, the share not withdrawn)."""

    def check() -> bool:
        try:
            again = _resolve(websocket, workspace_id, "GET", True, start=False)
        except (StudioError, NotRunning):
            return False
        return again.presented == upstream.presented

    async def allowed() -> bool:
        return await run_in_threadpool(check)

    return allowed


async def _pump(
    browser: WebSocket, server: ClientConnection, allowed: Callable[[], Awaitable[bool]]
) -> None:
    """Relay messages both ways until either side closes (or the credentials stop
    opening the workspace), then close the other."""

    async def from_browser() -> None:
        while True:
            message = await browser.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                await server.send(message["bytes"])
            elif message.get("text") is not None:
                await server.send(message["text"])

    async def from_server() -> None:
        async for data in server:
            if isinstance(data, bytes):
                await browser.send_bytes(data)
            else:
                await browser.send_text(data)

    async def watch_credentials() -> None:
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            if not await allowed():
                return

    tasks = [
        asyncio.ensure_future(from_browser()),
        asyncio.ensure_future(from_server()),
        asyncio.ensure_future(watch_credentials()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await server.close()
        with contextlib.suppress(Exception, WebSocketDisconnect, ConnectionClosed):
            await browser.close()


STARTING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{seconds}">
<title>Starting workspace…</title>
<style>body{{font:16px system-ui,sans-serif;margin:20vh auto;max-width:32em;color:#333}}</style>
</head><body><h1>Starting your workspace…</h1>
<p>It was {status}; JupyterLab opens here by itself in a few seconds.</p></body></html>
"""
