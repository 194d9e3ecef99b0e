"""What the API needs of workspace servers: wake the reconciler, push attachments.

One ``WorkspaceRuntime`` per control plane. ``start`` resumes every workspace that has
a server or wants one (re-adopting live servers); ``stop`` leaves servers running:
the next start re-adopts them, and idle ones still stop at their timeout.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from sparkstudio.db.models import Workspace
from sparkstudio.db.session import Database
from sparkstudio.errors import Unavailable
from sparkstudio.jupyter.attachment import Attachment
from sparkstudio.processes.isolation import Isolation
from sparkstudio.reconcile import Reconciler
from sparkstudio.services.workspace_servers import TARGET_RUNNING
from sparkstudio.settings import Settings
from sparkstudio.spawners import load_spawner
from sparkstudio.workspaces.controller import WorkspaceController


class WorkspaceRuntime:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        public_url: str,
        isolation: Isolation | None = None,
    ) -> None:
        self.settings, self.database = settings, database
        self.public_url = public_url.rstrip("/")
        self.isolation = isolation or Isolation(settings)
        self.controller = WorkspaceController(settings, database, load_spawner, self.isolation)
        self.reconciler = Reconciler("workspaces", self.controller.handle)
        self._started = False

    def start(self) -> None:
        self.reconciler.start()
        self._started = True
        with self.database.session(write=False) as db:
            ids = db.scalars(
                select(Workspace.id).where(
                    or_(Workspace.server_url != "", Workspace.target == TARGET_RUNNING)
                )
            ).all()
        for workspace_id in ids:
            self.reconciler.wake(workspace_id)

    def stop(self) -> None:
        if self._started:
            self.reconciler.stop()

    def wake(self, workspace_id: str) -> None:
        self.reconciler.wake(workspace_id)

    def push(self, workspace_id: str, attachment: Attachment) -> None:
        """Tell a running server now; the reconciler retries when it cannot be told."""
        if not self.controller.push(workspace_id, attachment):
            self.reconciler.wake(workspace_id, 1.0)

    def require_spawner(self) -> None:
        problem = load_spawner(self.settings.workspace_spawner).check()
        if problem:
            raise Unavailable(problem, reason="SpawnerUnavailable")
