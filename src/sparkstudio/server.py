"""Start the control plane: migrate, bootstrap, serve.

``prepare`` is what every start does before serving; ``ControlPlane`` runs the server in
a background thread on an already-bound socket (so port 0 works and the URL is known
before the first request), for ``sparkstudio up``, the tests and the benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import uvicorn

from sparkstudio.api.app import API_PREFIX, DOCS_URL, OPENAPI_URL, create_app
from sparkstudio.backends import load_backend
from sparkstudio.backends.base import Backend
from sparkstudio.clusters.runtime import ClusterRuntime
from sparkstudio.connect_front import ConnectFront
from sparkstudio.console.routes import CONSOLE
from sparkstudio.db import sealed
from sparkstudio.db.base import utcnow
from sparkstudio.db.migrate import upgrade
from sparkstudio.db.session import Database
from sparkstudio.log_redaction import redact_server_logs
from sparkstudio.notebooks.runtime import NotebookRuntime
from sparkstudio.notebooks.scheduler import Clock
from sparkstudio.processes.isolation import Isolation
from sparkstudio.secrets_box import derived_key
from sparkstudio.serverless.runtime import ApplicationRuntime
from sparkstudio.services.bootstrap import ensure_admin
from sparkstudio.services.connect_access import ConnectAccess, front_key
from sparkstudio.services.templates import ensure_builtin_templates
from sparkstudio.settings import Settings
from sparkstudio.workspaces.runtime import WorkspaceRuntime

log = logging.getLogger("sparkstudio.server")


@dataclass(frozen=True)
class Prepared:
    database: Database
    generated_admin_password: str | None


def prepare(settings: Settings) -> Prepared:
    """Create the home, apply migrations, create the bootstrap admin on first start."""
    settings.ensure_home()
    database = Database(settings.resolved_database_url)
    sealed.use_key(database.engine, derived_key(settings.home, "state-at-rest"))
    upgrade(database.engine)
    settings.close_home()  # the database files exist now: readable by the platform only
    with database.transaction() as db:
        password = ensure_admin(db, settings)
        ensure_builtin_templates(db)
    return Prepared(database, password)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on connections accepted from a
    # socket whose proto is IPPROTO_TCP, and without it every response waits ~40 ms for
    # the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _loopback(host: str) -> str:
    """Where the Connect front listens: the control plane's own address family's loopback
    unless the control plane listens everywhere (then clients elsewhere reach it too)."""
    if host in ("0.0.0.0", "::"):  # noqa: S104
        return "[::]" if host == "::" else "0.0.0.0"  # noqa: S104
    return "127.0.0.1"


class ControlPlane:
    """The control plane serving on a bound socket in a background thread."""

    def __init__(
        self,
        settings: Settings,
        *,
        access_log: bool = False,
        log_level: str = "warning",
        clock: Clock = utcnow,
        backends: Callable[[str], Backend] = load_backend,
    ) -> None:
        """``clock`` is the time the scheduler goes by (tests move it on); ``backends``
        finds the backend a cluster or an application names (tests put a scripted one
        where real Spark is not what they test)."""
        self.settings = settings
        self.prepared = prepare(settings)
        self.socket = bind(settings.host, settings.port)
        host, port = self.socket.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"
        database = self.prepared.database
        self.isolation = Isolation(settings)
        self.connect_access = ConnectAccess(database, self.isolation, backends)
        self.connect_front = ConnectFront(
            front_key(settings),
            upstream=self.connect_access.upstream,
            admit=self.connect_access.admit,
        )
        front_port = self.connect_front.start(f"{_loopback(host)}:{settings.connect_port}")
        self.isolation.serve(
            front_port=front_port, api_url=self.url, public_url=settings.public_url or self.url
        )
        self.clusters = ClusterRuntime(settings, database, self.isolation, backends)
        self.workspaces = WorkspaceRuntime(
            settings, database, settings.public_url or self.url, self.isolation
        )
        self.applications = ApplicationRuntime(settings, database, self.isolation, backends)
        self.notebooks = NotebookRuntime(
            settings, database, self.applications.wake, clock, isolation=self.isolation
        )
        app = create_app(
            settings,
            database,
            self.clusters,
            self.workspaces,
            self.applications,
            self.notebooks,
        )
        config = uvicorn.Config(
            app,
            log_level=log_level,
            access_log=access_log,
            # Behind a TLS-terminating proxy, its X-Forwarded-Proto/-For give the scheme
            # (Secure cookies) and the client address (login throttling).
            proxy_headers=True,
            forwarded_allow_ips=settings.trusted_proxies,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        redact_server_logs()  # after the Config: it configures uvicorn's loggers
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="sparkstudio-server", daemon=True)

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.socket]))

    def start(self) -> ControlPlane:
        self._thread.start()
        while not self.server.started and self._thread.is_alive():
            self._thread.join(0.01)
        if not self.server.started:
            raise RuntimeError("the control plane failed to start; see the log above")
        self.clusters.start()
        self.applications.start()
        self.notebooks.start()
        self.workspaces.start()
        self._write_runtime_file()
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
        # Clusters and workspace servers keep running: the next start re-adopts them.
        self.clusters.stop()
        self.notebooks.stop()
        self.applications.stop()
        self.workspaces.stop()
        self.connect_front.stop()
        self.isolation.stop()
        self.socket.close()
        self.prepared.database.dispose()
        self.runtime_file.unlink(missing_ok=True)

    def wait(self) -> None:
        while self._thread.is_alive():
            self._thread.join(0.5)

    @property
    def runtime_file(self) -> Path:
        return self.settings.home / "run" / "server.json"

    def _write_runtime_file(self) -> None:
        # Lets local tools find a running control plane without guessing its port.
        info = {"url": self.url, "pid": os.getpid()}
        self.runtime_file.write_text(json.dumps(info))

    def banner(self) -> str:
        return (
            f"sparkstudio is running at {self.url}\n"
            f"  console:  {self.url}{CONSOLE}  (sign in there)\n"
            f"  API:      {self.api_url}\n"
            f"  OpenAPI:  {self.url}{OPENAPI_URL}\n"
            f"  API docs: {self.url}{DOCS_URL}\n"
            f"  home:     {self.settings.home}\n"
            f"  Connect:  {self.isolation.public_connect_url} (a per-user token: "
            "sparkstudio cluster connect)\n"
            f"  clusters: {self.clusters_line()}\n"
            f"  users' code: {self.isolation_line()}"
        )

    def isolation_line(self) -> str:
        if self.isolation.sandboxed:
            return "sandboxed per studio (OS identities, bubblewrap, network namespaces)"
        return (
            f"SINGLE-USER mode ({self.isolation.why}): every member's code runs as "
            "this process's OS user and can read everything it can; fit for one person"
        )

    def clusters_line(self) -> str:
        backend = self.settings.cluster_backend
        problem = self.clusters.backend_problem(backend)
        # Clusters are refused (503 with this message) rather than failing later.
        return f"REFUSED: {problem}" if problem else f"{backend} backend ready"

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
