"""What the API needs of running clusters: wake the reconciler, check backends, proxies.

One ``ClusterRuntime`` per control plane: it owns the reconciler threads, the cluster
controller and the shared history server. ``start`` resumes every cluster that is not
terminated (re-adopting live processes); ``stop`` leaves clusters running (the next
start re-adopts them) and stops the history server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache

from sparkstudio.backends import load_backend
from sparkstudio.backends.base import Backend
from sparkstudio.clusters.controller import ClusterController
from sparkstudio.db.session import Database
from sparkstudio.errors import Unavailable
from sparkstudio.processes.isolation import Isolation
from sparkstudio.reconcile import Reconciler
from sparkstudio.services.clusters import live_cluster_ids
from sparkstudio.settings import Settings
from sparkstudio.spark.history import HistoryServer

log = logging.getLogger("sparkstudio.clusters")


class ClusterRuntime:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        isolation: Isolation | None = None,
        backends: Callable[[str], Backend] = load_backend,
    ) -> None:
        self.settings, self.database, self.backends = settings, database, backends
        self.isolation = isolation or Isolation(settings)
        self.history = (
            HistoryServer(settings.home / "run", settings.event_log_dir)
            if settings.history_server
            else None
        )
        self.controller = ClusterController(
            settings, database, backends, self.history, self.isolation
        )
        self.reconciler = Reconciler("clusters", self.controller.handle)
        self._started = False

    def start(self) -> None:
        self.reconciler.start()
        self._started = True
        with self.database.session(write=False) as db:
            for cluster_id in live_cluster_ids(db):
                self.reconciler.wake(cluster_id)

    def stop(self) -> None:
        if self._started:
            self.reconciler.stop()
        if self.history is not None:
            self.history.stop()

    def live_count(self) -> int:
        with self.database.session(write=False) as db:
            return len(live_cluster_ids(db))

    def wake(self, cluster_id: str) -> None:
        self.reconciler.wake(cluster_id)

    def require_backend(self, name: str) -> str:
        """``name`` if its backend can run clusters here; a 503 saying why otherwise."""
        problem = self.backend_problem(name)
        if problem:
            raise Unavailable(problem, reason="BackendUnavailable")
        return name

    def backend_problem(self, name: str) -> str:
        return _problem(self.backends, name)


@cache
def _problem(backends: Callable[[str], Backend], name: str) -> str:
    # Checked once per process: finding Java runs `java -version`.
    return backends(name).check()
