"""The serverless reconcilers: applications and their job runs, one of each per control plane.

``start`` resumes every application that is not terminated (re-adopting live processes,
or recording why they are gone) and every job run that has not ended; ``stop`` leaves
applications and running jobs for the next start to re-adopt, and ends idle warm runners.
"""

from __future__ import annotations

from collections.abc import Callable

from sparkstudio.backends import load_backend
from sparkstudio.backends.base import Backend
from sparkstudio.db.session import Database
from sparkstudio.processes.isolation import Isolation
from sparkstudio.reconcile import Reconciler
from sparkstudio.runners import ExitWatcher
from sparkstudio.serverless.controller import ApplicationController
from sparkstudio.serverless.jobs import JobRunController
from sparkstudio.serverless.warm_pool import WarmPool, WarmTarget
from sparkstudio.services.applications import live_application_ids
from sparkstudio.services.job_runs import live_job_run_ids
from sparkstudio.settings import Settings


class ApplicationRuntime:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        isolation: Isolation | None = None,
        backends: Callable[[str], Backend] = load_backend,
    ) -> None:
        self.settings, self.database = settings, database
        self.isolation = isolation or Isolation(settings)
        self.pool = WarmPool(
            settings.home / "job-runners",
            settings.serverless_warm_runners,
            settings.home / "logs" / "job-runners",
        )
        self.controller = ApplicationController(
            settings, database, backends, self.isolation, warm=self._keep_warm
        )
        self.reconciler = Reconciler("applications", self.controller.handle)
        self.watcher = ExitWatcher(self.wake_job)
        self.jobs = JobRunController(
            settings, database, self.pool, self.watcher, self.wake_job, self.isolation
        )
        self.job_reconciler = Reconciler("job-runs", self.jobs.handle)
        self._started = False

    def start(self) -> None:
        self.reconciler.start()
        self.job_reconciler.start()
        self.watcher.start()
        self._started = True
        with self.database.session(write=False) as db:
            application_ids = live_application_ids(db)
            job_run_ids = live_job_run_ids(db)
        for application_id in application_ids:
            self.reconciler.wake(application_id)
        for job_run_id in job_run_ids:
            self.job_reconciler.wake(job_run_id)

    def stop(self) -> None:
        if self._started:
            self.job_reconciler.stop()
            self.watcher.stop()
            self.reconciler.stop()
            self.pool.close()

    def wake(self, application_id: str) -> None:
        self.reconciler.wake(application_id)

    def wake_job(self, job_run_id: str) -> None:
        self.job_reconciler.wake(job_run_id)

    def _keep_warm(self, application_id: str, target: WarmTarget | None) -> None:
        """The application controller's word after each look: warm runners, or none."""
        if target is None:
            self.pool.drop(application_id)
        else:
            self.pool.keep_warm(application_id, target)
