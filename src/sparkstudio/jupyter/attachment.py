"""The cluster a workspace is attached to, as its kernels see it.

The control plane pushes the attachment to the workspace server (``PUT
{base_url}sparkstudio/attachment``); the server's extension writes it atomically to the
file named by ``SPARKSTUDIO_ATTACHMENT_FILE``. Kernels read that file before running a
cell: a new ``generation`` means the workspace was attached, detached or switched, and
the kernel re-creates its Spark session (and says so).

A session goes through the platform's Spark Connect front (``connect_url``) with a
short-lived token of the kernel's own user, which the kernel asks the control plane for
(:mod:`sparkstudio.jupyter.agent`); the cluster's own secret never reaches a kernel. A
notebook run's attachment carries its token (``token``): its one user is known.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

ATTACHMENT_FILE_ENV = "SPARKSTUDIO_ATTACHMENT_FILE"
USER_ENV = "SPARKSTUDIO_USER"  # who started the kernel: the Spark Connect user_id
HOW_TO_ATTACH = (
    "attach one from the studio (sparkstudio workspace attach <workspace> <cluster>) "
    "or in this notebook with %attach <cluster name or id>"
)


@dataclass(frozen=True)
class Attachment:
    """A RUNNING or WAITING cluster the workspace uses, or none (with why)."""

    generation: int = 0
    cluster_id: str | None = None
    cluster_name: str = ""
    connect_url: str = ""  # the Connect front as kernels reach it: sc://localhost:port
    reason: str = ""  # why the workspace is detached, when it is
    token: str = ""  # a notebook run's token; a workspace's kernels ask for their own

    @property
    def attached(self) -> bool:
        return self.cluster_id is not None

    def url_for(self, user: str, token: str) -> str:
        """The Spark Connect URL for ``user`` (their own session on the cluster); the
        front sets the session's user from ``token`` whatever ``user_id`` says."""
        if not self.attached:
            raise RuntimeError(self.detached_message())
        if not self.connect_url:
            raise RuntimeError("the workspace server was not told where Spark Connect is")
        user_id = quote(user, safe="")
        return f"{self.connect_url}/;token={quote(token, safe='')};user_id={user_id}"

    def detached_message(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return f"This workspace is not attached to a cluster{why}. To use Spark, {HOW_TO_ATTACH}."

    def describe(self) -> str:
        if self.attached:
            return f"attached to cluster {self.cluster_name} ({self.cluster_id})"
        return "detached" + (f": {self.reason}" if self.reason else "")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Attachment:
        data = json.loads(text)
        return cls(
            generation=int(data.get("generation", 0)),
            cluster_id=data.get("cluster_id") or None,
            cluster_name=str(data.get("cluster_name", "")),
            connect_url=str(data.get("connect_url", "")),
            reason=str(data.get("reason", "")),
            token=str(data.get("token", "")),
        )


def attachment_file() -> Path | None:
    value = os.environ.get(ATTACHMENT_FILE_ENV)
    return Path(value) if value else None


def read_attachment(path: Path | None = None) -> Attachment:
    """The current attachment; detached when there is no file (yet)."""
    path = path or attachment_file()
    if path is None:
        return Attachment(reason="this kernel does not run in a sparkstudio workspace")
    try:
        return Attachment.from_json(path.read_text())
    except FileNotFoundError:
        return Attachment()


def write_attachment(attachment: Attachment, path: Path) -> None:
    """Replace the file atomically: a kernel never reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".attachment-")
    with os.fdopen(handle, "w") as out:
        out.write(attachment.to_json())
    os.replace(temporary, path)
