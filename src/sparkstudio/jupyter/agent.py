"""Kernels ask the control plane to change the workspace's attachment (``%attach``).

The call goes to the control plane's workspace agent API with the workspace server's
secret, on behalf of the kernel's user; the control plane checks that user's rights and
pushes the new attachment to the server before it answers.
"""

from __future__ import annotations

import os

import httpx

from sparkstudio.jupyter.identity import SECRET_ENV

API_URL_ENV = "SPARKSTUDIO_API_URL"
WORKSPACE_ENV = "SPARKSTUDIO_WORKSPACE_ID"


class AttachmentRefused(Exception):
    """The control plane said no (or is not there); the message says why."""


def change_attachment(cluster: str | None, user: str) -> None:
    """Attach the workspace to ``cluster`` (a name or id), or detach it when None."""
    api, workspace = os.environ.get(API_URL_ENV), os.environ.get(WORKSPACE_ENV)
    if not api or not workspace:
        raise AttachmentRefused("this kernel does not run in a sparkstudio workspace")
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
        try:
            message = answer.json().get("message", answer.text)
        except ValueError:
            message = answer.text
        raise AttachmentRefused(f"the studio refused: {message}")
