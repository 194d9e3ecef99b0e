"""The notebook executions' reconciler: one per control plane.

``start`` resumes every execution that has not ended (one whose process is gone is
recorded as failed, with why); ``stop`` leaves running executions for the next start.
"""

from __future__ import annotations

from sparkstudio.db.session import Database
from sparkstudio.notebooks.controller import ExecutionController
from sparkstudio.reconcile import Reconciler
from sparkstudio.runners import ExitWatcher
from sparkstudio.services.notebook_executions import live_execution_ids
from sparkstudio.settings import Settings


class NotebookRuntime:
    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings, self.database = settings, database
        self.watcher = ExitWatcher(self.wake, interval=0.05)
        self.controller = ExecutionController(settings, database, self.watcher)
        self.reconciler = Reconciler("notebook-executions", self.controller.handle)
        self._started = False

    def start(self) -> None:
        self.reconciler.start()
        self.watcher.start()
        self._started = True
        with self.database.session(write=False) as db:
            execution_ids = live_execution_ids(db)
        for execution_id in execution_ids:
            self.reconciler.wake(execution_id)

    def stop(self) -> None:
        if self._started:
            self.reconciler.stop()
            self.watcher.stop()

    def wake(self, execution_id: str) -> None:
        self.reconciler.wake(execution_id)
