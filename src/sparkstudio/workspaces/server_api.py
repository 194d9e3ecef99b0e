"""What the control plane asks of a running workspace server, over its HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx

from sparkstudio.jupyter.attachment import Attachment
from sparkstudio.jupyter.identity import SECRET_HEADER, USER_HEADER
from sparkstudio.processes.reach import split_server_url, sync_client

TIMEOUT = httpx.Timeout(5.0, connect=2.0)
CONTROL_PLANE_USER = "sparkstudio"


@dataclass(frozen=True)
class ServerActivity:
    connections: int  # open WebSockets (kernels, terminals) of browsers and clients
    kernels: int
    last_activity: datetime  # the latest API request or kernel message


def _headers(secret: str) -> dict[str, str]:
    return {SECRET_HEADER: secret, USER_HEADER: CONTROL_PLANE_USER}


def _call(method: str, url: str, path: str, secret: str, body: str | None = None) -> httpx.Response:
    """``path`` (relative to the server's base path) of the server at ``url``."""
    reach, base_path = split_server_url(url)
    base, client = sync_client(reach, TIMEOUT)
    headers = _headers(secret)
    if body is not None:
        headers["Content-Type"] = "application/json"
    with client:
        return client.request(method, f"{base}{base_path}{path}", headers=headers, content=body)


def activity(url: str, secret: str) -> ServerActivity | None:
    """The server's activity; None while it does not answer."""
    try:
        answer = _call("GET", url, "api/status", secret)
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    status = answer.json()
    return ServerActivity(
        connections=int(status.get("connections", 0)),
        kernels=int(status.get("kernels", 0)),
        last_activity=datetime.fromisoformat(status["last_activity"]),
    )


def push_attachment(url: str, secret: str, attachment: Attachment) -> None:
    """Tell the server (and so its kernels) which cluster the workspace uses now."""
    answer = _call("PUT", url, "sparkstudio/attachment", secret, attachment.to_json())
    answer.raise_for_status()
