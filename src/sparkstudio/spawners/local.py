"""The ``local`` spawner: each workspace server is a process on this host, in its place.

The server is JupyterLab on jupyter_server, configured through a config file of its
own (``<workdir>/config``) so that nothing secret appears on a command line: it
listens on its place's loopback, serves under the control plane's path for the
workspace, keeps files in the object store through :mod:`sparkstudio.jupyter.contents`,
trusts only the control plane's proxy (:mod:`sparkstudio.jupyter.identity`) and offers
the sparkstudio kernels. In sandbox mode the place is its owner's sandbox in the studio's
network namespace: the server, its kernels and terminals see the workspace's own files
and nothing else of the host.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sparkstudio.jupyter.attachment import ATTACHMENT_FILE_ENV, write_attachment
from sparkstudio.jupyter.identity import SECRET_ENV
from sparkstudio.jupyter.kernelspecs import write_kernelspecs
from sparkstudio.processes.reach import server_url
from sparkstudio.spark import processes
from sparkstudio.spark.processes import ProcessRecord
from sparkstudio.spawners.base import Spawner, SpawnRequest, State

HOST = "127.0.0.1"
# Server extensions installed beside JupyterLab that a workspace does not use: each
# costs start-up time (the language-server scan most of all).
_UNUSED_EXTENSIONS = ("jupyter_lsp", "nbdime", "notebook_shim")


def local_root(request: SpawnRequest) -> Path:
    """The server's root directory: the workspace's files themselves when they are on this
    host (kernels then start beside their notebook, and Git works on the same tree)."""
    if request.contents_url.startswith("file://"):
        return Path(urlsplit(request.contents_url).path)
    return request.workdir / "root"


def server_config(request: SpawnRequest, port: int) -> dict[str, Any]:
    """The workspace server's jupyter configuration (written as JSON)."""
    return {
        "ServerApp": {
            "ip": HOST,
            "port": port,
            "port_retries": 0,
            "open_browser": False,
            "allow_root": True,
            "base_url": request.base_url,
            "root_dir": str(local_root(request)),
            "contents_manager_class": "sparkstudio.jupyter.contents.StoreContentsManager",
            "identity_provider_class": (
                "sparkstudio.jupyter.identity.ControlPlaneIdentityProvider"
            ),
            "kernel_manager_class": "sparkstudio.jupyter.kernels.WorkspaceKernelManager",
            "kernel_websocket_connection_class": (
                "sparkstudio.jupyter.kernels.PromptKernelWebsocketConnection"
            ),
            "jpserver_extensions": {
                "sparkstudio.jupyter.extension": True,
                **dict.fromkeys(_UNUSED_EXTENSIONS, False),
            },
        },
        "StoreContentsManager": {
            "root_url": request.contents_url,
            "storage_options": request.storage_options,
        },
        "IdentityProvider": {"token": ""},
        "LabApp": {
            "news_url": None,  # offline: no news feed, no update check
            "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
            # The configuration folder is read-only to the server: its users' layouts and
            # settings are kept in its runtime folder.
            "workspaces_dir": str(request.workdir / "runtime" / "lab" / "workspaces"),
            "user_settings_dir": str(request.workdir / "runtime" / "lab" / "user-settings"),
        },
    }


# JupyterLab front-end plug-ins a workspace turns off: the news announcements would ask
# every user whether to fetch news from the internet; nbdime's buttons need its server
# extension, which is not loaded (see _UNUSED_EXTENSIONS), so they could only fail.
DISABLED_LAB_PLUGINS = ("@jupyterlab/apputils-extension:announcements", "nbdime-jupyterlab")


def write_page_config(config_dir: Path) -> None:
    """JupyterLab's page configuration (labconfig/page_config.json) in the server's own
    configuration directory."""
    folder = config_dir / "labconfig"
    folder.mkdir(parents=True, exist_ok=True)
    page_config = {"disabledExtensions": dict.fromkeys(DISABLED_LAB_PLUGINS, True)}
    (folder / "page_config.json").write_text(json.dumps(page_config, indent=1))


def server_environment(request: SpawnRequest) -> dict[str, str]:
    """What the workspace server (and so its kernels) is told, besides what its place
    gives every process (PATH, the locale): never the control plane's own environment.
    What the server and kernels need of the control plane comes in
    ``request.environment`` and the variables set here.
    """
    workdir = request.workdir
    env = dict(request.environment)
    env.update(
        {
            "JUPYTER_CONFIG_DIR": str(workdir / "config"),
            "JUPYTER_PATH": str(workdir / "data"),
            "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
            ATTACHMENT_FILE_ENV: str(attachment_path(request)),
            SECRET_ENV: request.secret,
        }
    )
    return env


def attachment_path(request: SpawnRequest) -> Path:
    """Where the server's extension keeps the attachment: in the server's runtime folder."""
    return request.workdir / "runtime" / "attachment.json"


class LocalSpawner(Spawner):
    name = "local"

    def start(self, request: SpawnRequest) -> State:
        # The server's folder and its configuration are the platform's, written afresh at
        # every start and read-only to the server: only ``runtime`` (and, for an object
        # store, ``root``) are the server's to write.
        workdir, place = request.workdir, request.place
        shutil.rmtree(workdir / "config", ignore_errors=True)
        shutil.rmtree(workdir / "data", ignore_errors=True)
        for folder in (workdir, workdir / "config", workdir / "data"):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o755)
        place.own(workdir / "runtime")
        root = local_root(request)
        if root == workdir / "root":
            place.own(root)
        port = place.free_port()
        config_file = workdir / "config" / "jupyter_server_config.json"
        config_file.write_text(json.dumps(server_config(request, port), indent=1))
        write_kernelspecs(workdir / "data")
        write_page_config(workdir / "config")
        for path in (workdir / "config", workdir / "data"):
            _open_to_reading(path)
        write_attachment(request.attachment, attachment_path(request))
        place.give(attachment_path(request))
        argv = [sys.executable, "-m", "sparkstudio.jupyter.launch", f"--config={config_file}"]
        record = place.launch(
            "workspace-server",
            argv,
            server_environment(request),
            request.log_dir / "server.log",
            writable=[workdir / "runtime", root],
            readable=[workdir / "config", workdir / "data"],
            cwd=root,
        )
        url = server_url(place.reach(port).http_url, request.base_url)
        return {"url": url, "process": record.to_json(), "secret": request.secret, "port": port}

    def alive(self, state: State) -> bool:
        return processes.is_alive(ProcessRecord.from_json(state["process"]))

    def stop(self, state: State) -> None:
        # SIGTERM lets jupyter_server shut its kernels down; the group kill catches the rest.
        processes.stop(ProcessRecord.from_json(state["process"]), grace=15.0)

    @staticmethod
    def log_file(state: State) -> Path:
        return Path(state["process"]["log"])


def _open_to_reading(folder: Path) -> None:
    """What the control plane wrote for the server readable by it (whatever the umask)."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
