"""The workspace server's kernel manager: kernels know who started them.

A PySpark kernel opens its Spark Connect session as the user who started it; the
user comes from the request (see :mod:`sparkstudio.jupyter.identity`).
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.services.kernels.connection.channels import (
    ZMQChannelsWebsocketConnection,
)
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

from sparkstudio.jupyter.attachment import USER_ENV
from sparkstudio.jupyter.identity import current_user_name


class WorkspaceKernelManager(AsyncMappingKernelManager):
    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        user = current_user_name.get()
        if user:
            env = dict(kwargs.get("env") or os.environ)
            env[USER_ENV] = user
            kwargs["env"] = env
        kernel_id: str = await super().start_kernel(*args, **kwargs)
        return kernel_id


class PromptKernelWebsocketConnection(ZMQChannelsWebsocketConnection):
    """Kernel WebSockets with TCP_NODELAY.

    A reply is several small frames (busy, execute_input, result, idle, reply); with
    Nagle's algorithm on, the later ones wait for the client's delayed ACK, about 40 ms
    on Linux, on every cell.
    """

    def connect(self) -> Any:
        self.websocket_handler.set_nodelay(True)
        return super().connect()
