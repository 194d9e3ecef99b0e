"""Kernels ask the control plane to change the workspace's attachment (``%attach``), and
for a Spark Connect token of their user.

The calls go to the control plane's workspace agent API with the workspace server's
secret, on behalf of the kernel's user; the control plane checks that user's rights
(it pushes a new attachment to the server before it answers; it gives a token only to a
user of the workspace who may perform cluster:Connect on the attached cluster).
"""

from __future__ import annotations

import os

import httpx

from sparkstudio.jupyter.identity import SECRET_ENV

API_URL_ENV = "SPARKSTUDIO_API_URL"
WORKSPACE_ENV = "SPARKSTUDIO_WORKSPACE_ID"


class AttachmentRefused(Exception):
    """The control plane said no (or is not there); the message says why."""


def _agent() -> tuple[str, str]:
    api, workspace = os.environ.get(API_URL_ENV), os.environ.get(WORKSPACE_ENV)
    if not api or not workspace:
        raise AttachmentRefused("this kernel does not run in a sparkstudio workspace")
    return api, workspace


def _message(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("message", answer.text))
    except ValueError:
        return answer.text


def connect_token(cluster_id: str, user: str) -> str:
    """A Spark Connect token of ``user`` for the attached cluster ``cluster_id``."""
    api, workspace = _agent()
    try:
        answer = httpx.post(
            f"{api}/workspace-agent/{workspace}/connect-token",
            json={"cluster_id": cluster_id, "user": user},
            headers={"X-Sparkstudio-Secret": os.environ.get(SECRET_ENV, "")},
            timeout=30.0,
        )
    except httpx.HTTPError as error:
        raise AttachmentRefused(f"the studio could not be reached: {error}") from error
    if answer.status_code >= 400:
        raise AttachmentRefused(f"no Spark session: {_message(answer)}")
    return str(answer.json()["token"])


def change_attachment(cluster: str | None, user: str) -> None:
    """Attach the workspace to ``cluster`` (a name or id), or detach it when None."""
    api, workspace = _agent()
    try:
        answer = httpx.put(
            f"{api}/workspace-agent/{workspace}/attachment",
            json={"cluster": cluster, "user": user},
            headers={"X-Sparkstudio-Secret": os.environ.get(SECRET_ENV, "")},
            timeout=30.0,
        )
    except httpx.HTTPError as error:
        raise AttachmentRefused(f"the studio could not be reached: {error}") from error
    if answer.status_code >= 400:
        raise AttachmentRefused(f"the studio refused: {_message(answer)}")
