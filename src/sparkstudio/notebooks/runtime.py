"""Notebook executions and schedules: one reconciler each, per control plane.

``start`` resumes every execution that has not ended (one whose process is gone is
recorded as failed, with why) and looks at every active schedule (a due time passed
while the control plane was down is run or skipped then); ``stop`` leaves running
executions for the next start.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sparkstudio.db.base import utcnow
from sparkstudio.db.session import Database
from sparkstudio.notebooks.controller import ExecutionController
from sparkstudio.notebooks.scheduler import Clock, ScheduleController
from sparkstudio.processes.isolation import Isolation
from sparkstudio.reconcile import Reconciler
from sparkstudio.runners import ExitWatcher
from sparkstudio.services.notebook_executions import live_execution_ids
from sparkstudio.services.notebook_schedules import active_schedule_ids
from sparkstudio.settings import Settings


class NotebookRuntime:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        wake_application: Callable[[str], None],
        clock: Clock = utcnow,
        *,
        isolation: Isolation | None = None,
    ) -> None:
        """``clock`` tells the scheduler (and the API's schedule routes) the time."""
        self.settings, self.database, self.clock = settings, database, clock
        self.wake_application = wake_application
        self.isolation = isolation or Isolation(settings)
        self.watcher = ExitWatcher(self.wake, interval=0.05)
        self.controller = ExecutionController(settings, database, self.watcher, self.isolation)
        self.reconciler = Reconciler("notebook-executions", self.controller.handle)
        grace = timedelta(seconds=settings.schedule_grace_seconds)
        self.scheduler = ScheduleController(database, clock, grace, self.run_started)
        self.schedules = Reconciler("notebook-schedules", self.scheduler.handle, threads=2)
        self._started = False

    def start(self) -> None:
        self.reconciler.start()
        self.schedules.start()
        self.watcher.start()
        self._started = True
        with self.database.session(write=False) as db:
            execution_ids = live_execution_ids(db)
            schedule_ids = active_schedule_ids(db)
        for execution_id in execution_ids:
            self.reconciler.wake(execution_id)
        for schedule_id in schedule_ids:
            self.schedules.wake(schedule_id)

    def stop(self) -> None:
        if self._started:
            self.schedules.stop()
            self.reconciler.stop()
            self.watcher.stop()

    def wake(self, execution_id: str) -> None:
        self.reconciler.wake(execution_id)

    def wake_schedule(self, schedule_id: str) -> None:
        self.schedules.wake(schedule_id)

    def run_started(self, execution_id: str, target_kind: str, target_id: str) -> None:
        """A new execution: run it (an application target may have to start first)."""
        self.wake(execution_id)
        if target_kind == "APPLICATION":
            self.wake_application(target_id)
