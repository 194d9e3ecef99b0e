"""What a spawner does: start, watch and stop one workspace server (jupyter_server + JupyterLab).

A spawner never touches the database or HTTP routes: it receives a :class:`SpawnRequest`
and returns an opaque JSON ``state`` that the caller stores and hands back. The server
it starts must serve JupyterLab under ``request.base_url`` and trust only requests that
carry ``request.secret`` (the control plane's proxy adds it; users never see it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkstudio.jupyter.attachment import Attachment
from sparkstudio.processes.places import Place

State = dict[str, Any]


@dataclass(frozen=True)
class SpawnRequest:
    workspace_id: str
    base_url: str  # the path the control plane serves it under, e.g. /workspaces/ws-…/
    secret: str  # the proxy presents it on every request; kernels use it to call back
    workdir: Path  # the server's own directory: config, kernel specs, logs, attachment
    contents_url: str  # where the workspace's files live: file://… or s3://…
    place: Place  # where the server and its kernels run, as whom
    log_dir: Path  # the server's output: the platform's, out of the place's reach
    storage_options: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)  # for the server and its kernels
    attachment: Attachment = field(default_factory=Attachment)  # what kernels start with


class Spawner(ABC):
    """Runs workspace servers somewhere (this host, a container, a pod)."""

    name: str

    @abstractmethod
    def start(self, request: SpawnRequest) -> State:
        """Start the server; returns once it is started (not necessarily answering).

        The state must hold ``url``: where the control plane reaches the server, ending
        with ``request.base_url`` (``http://…`` or ``unix:<socket>#<base_url>``, see
        :mod:`sparkstudio.processes.reach`). Raises if it cannot start (having stopped what
        it began).
        """

    @abstractmethod
    def alive(self, state: State) -> bool:
        """Whether the server's process (or container) still exists."""

    @abstractmethod
    def stop(self, state: State) -> None:
        """Stop the server and its kernels; raise if something survives (retried)."""

    def check(self) -> str:
        """Why this spawner cannot start servers here ("" when it can)."""
        return ""

    @staticmethod
    def url(state: State) -> str:
        return str(state["url"])
