"""The sparkstudio extension of the workspace server.

It receives the workspace's attachment from the control plane (``PUT
{base_url}sparkstudio/attachment``) and keeps it where kernels read it. The proxy lets
users read it but never change it: attaching goes through the control plane, which
checks the cluster's studio, network and state first.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from sparkstudio.jupyter.attachment import Attachment, attachment_file, read_attachment
from sparkstudio.jupyter.attachment import write_attachment as store_attachment


class AttachmentHandler(APIHandler):
    @web.authenticated
    def get(self) -> None:
        attachment = read_attachment()
        self.finish(
            json.dumps(
                {
                    "generation": attachment.generation,
                    "cluster_id": attachment.cluster_id,
                    "cluster_name": attachment.cluster_name,
                    "attached": attachment.attached,
                    "reason": attachment.reason,
                }
            )
        )

    @web.authenticated
    def put(self) -> None:
        path = attachment_file()
        if path is None:
            raise web.HTTPError(500, "the server was started without an attachment file")
        try:
            attachment = Attachment.from_json(self.request.body.decode())
        except (ValueError, TypeError) as error:
            raise web.HTTPError(400, f"not an attachment: {error}") from None
        store_attachment(attachment, path)
        self.set_status(204)
        self.finish()


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "sparkstudio.jupyter.extension"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    base_url = serverapp.web_app.settings["base_url"]
    route = url_path_join(base_url, "sparkstudio", "attachment")
    serverapp.web_app.add_handlers(".*$", [(route, AttachmentHandler)])
