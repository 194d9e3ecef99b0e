"""The applications' reconciler: one per control plane, beside the clusters' one.

``start`` resumes every application that is not terminated (re-adopting live processes,
or recording why they are gone); ``stop`` leaves applications running for the next
start to re-adopt.
"""

from __future__ import annotations

from sparkstudio.backends import load_backend
from sparkstudio.db.session import Database
from sparkstudio.reconcile import Reconciler
from sparkstudio.serverless.controller import ApplicationController
from sparkstudio.services.applications import live_application_ids
from sparkstudio.settings import Settings


class ApplicationRuntime:
    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings, self.database = settings, database
        self.controller = ApplicationController(settings, database, load_backend)
        self.reconciler = Reconciler("applications", self.controller.handle)
        self._started = False

    def start(self) -> None:
        self.reconciler.start()
        self._started = True
        with self.database.session(write=False) as db:
            for application_id in live_application_ids(db):
                self.reconciler.wake(application_id)

    def stop(self) -> None:
        if self._started:
            self.reconciler.stop()

    def wake(self, application_id: str) -> None:
        self.reconciler.wake(application_id)
