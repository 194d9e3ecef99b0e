"""Accessor for notebook schedules: notebook executions started on a cron expression."""

from __future__ import annotations

import builtins
from typing import Any, Literal

from sparkstudio.client.resources import _given, _Resource
from sparkstudio.errors import NotFound
from sparkstudio.schemas.events import EventPublic
from sparkstudio.schemas.notebook_executions import NotebookExecutionPublic
from sparkstudio.schemas.notebook_schedules import NotebookSchedulePublic


class NotebookSchedules(_Resource):
    """Notebook schedules of a studio.

    ``create(studio_id, "nightly", "0 2 * * *", {"uri": "s3://b/report.ipynb"}, "CLUSTER",
    cluster_id, time_zone="Europe/Paris", parameters={"limit": 10})`` runs the notebook at
    02:00 Paris time; ``runs(studio_id, schedule_id)`` is its history.
    """

    def _path(self, studio_id: str, schedule_id: str = "") -> str:
        base = f"/studios/{studio_id}/notebook-schedules"
        return f"{base}/{schedule_id}" if schedule_id else base

    def create(
        self,
        studio_id: str,
        name: str,
        cron: str,
        notebook: dict[str, str],
        target_kind: Literal["CLUSTER", "APPLICATION"],
        target_id: str,
        **fields: Any,
    ) -> NotebookSchedulePublic:
        """A schedule; ``fields`` are the API's other NotebookScheduleCreate fields
        (time_zone, parameters, max_concurrent_runs, missed_run_policy, paused, …)."""
        body = _given(
            name=name,
            cron=cron,
            notebook=notebook,
            target={"kind": target_kind, "id": target_id},
            **fields,
        )
        return self._client.send_model(NotebookSchedulePublic, "POST", self._path(studio_id), body)

    def list(
        self, studio_id: str, *, status: Literal["ACTIVE", "PAUSED"] | None = None
    ) -> builtins.list[NotebookSchedulePublic]:
        """The studio's schedules, oldest first."""
        return list(
            self._client.iterate(NotebookSchedulePublic, self._path(studio_id), status=status)
        )

    def get(self, studio_id: str, schedule_id: str) -> NotebookSchedulePublic:
        return self._client.get_model(NotebookSchedulePublic, self._path(studio_id, schedule_id))

    def get_by_name(self, studio_id: str, name: str) -> NotebookSchedulePublic:
        for schedule in self.list(studio_id):
            if schedule.name == name:
                return schedule
        raise NotFound(f"no notebook schedule named '{name}' in studio {studio_id}")

    def update(self, studio_id: str, schedule_id: str, **fields: Any) -> NotebookSchedulePublic:
        """Change description, cron, time_zone, max_concurrent_runs, missed_run_policy or
        parameters; the next due time is worked out again from now."""
        path = self._path(studio_id, schedule_id)
        return self._client.send_model(NotebookSchedulePublic, "PATCH", path, _given(**fields))

    def pause(self, studio_id: str, schedule_id: str) -> NotebookSchedulePublic:
        path = self._path(studio_id, schedule_id) + "/pause"
        return self._client.send_model(NotebookSchedulePublic, "POST", path)

    def resume(self, studio_id: str, schedule_id: str) -> NotebookSchedulePublic:
        path = self._path(studio_id, schedule_id) + "/resume"
        return self._client.send_model(NotebookSchedulePublic, "POST", path)

    def run_now(self, studio_id: str, schedule_id: str) -> NotebookExecutionPublic:
        """Start a run now (a notebook execution), paused or not."""
        path = self._path(studio_id, schedule_id) + "/run"
        return self._client.send_model(NotebookExecutionPublic, "POST", path)

    def runs(self, studio_id: str, schedule_id: str) -> builtins.list[NotebookExecutionPublic]:
        """Its history: the executions it started, oldest first."""
        path = self._path(studio_id, schedule_id) + "/runs"
        return list(self._client.iterate(NotebookExecutionPublic, path))

    def events(self, studio_id: str, schedule_id: str) -> builtins.list[EventPublic]:
        path = self._path(studio_id, schedule_id) + "/events"
        return list(self._client.iterate(EventPublic, path))

    def delete(self, studio_id: str, schedule_id: str) -> None:
        self._client.request("DELETE", self._path(studio_id, schedule_id))
