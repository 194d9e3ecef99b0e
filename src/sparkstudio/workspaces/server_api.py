"""What the control plane asks of a running workspace server, over its HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx

from sparkstudio.jupyter.attachment import Attachment
from sparkstudio.jupyter.identity import SECRET_HEADER, USER_HEADER

TIMEOUT = httpx.Timeout(5.0, connect=2.0)
CONTROL_PLANE_USER = "sparkstudio"


@dataclass(frozen=True)
class ServerActivity:
    connections: int  # open WebSockets (kernels, terminals) of browsers and clients
    kernels: int
    last_activity: datetime  # the latest API request or kernel message


def _headers(secret: str) -> dict[str, str]:
    return {SECRET_HEADER: secret, USER_HEADER: CONTROL_PLANE_USER}


def activity(url: str, secret: str) -> ServerActivity | None:
    """The server's activity; None while it does not answer."""
    try:
        answer = httpx.get(f"{url}api/status", headers=_headers(secret), timeout=TIMEOUT)
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
    answer = httpx.put(
        f"{url}sparkstudio/attachment",
        content=attachment.to_json(),
        headers={**_headers(secret), "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    answer.raise_for_status()
