"""Accessor for notebook executions: notebooks run headless on a cluster or an application."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Literal

from sparkstudio.client.resources import _given, _Resource
from sparkstudio.errors import StudioError
from sparkstudio.schemas.events import EventPublic
from sparkstudio.schemas.notebook_executions import NotebookExecutionPublic

# Notebook execution statuses (``sparkstudio.lifecycle.NotebookExecutionStatus``) after
# which nothing changes.
NOTEBOOK_EXECUTION_ENDED = frozenset({"FINISHED", "FAILED", "STOPPED"})


class NotebookExecutions(_Resource):
    """Notebook executions of a studio: start, list, describe, stop, events, outputs.

    ``start(studio_id, {"workspace_id": ws, "path": "daily.ipynb"}, "CLUSTER", cluster_id,
    parameters={"day": "2024-01-01"})`` runs a workspace's notebook on a cluster;
    ``output(studio_id, execution_id)`` is the executed notebook once it has ended.
    """

    def _path(self, studio_id: str, execution_id: str = "") -> str:
        base = f"/studios/{studio_id}/notebook-executions"
        return f"{base}/{execution_id}" if execution_id else base

    def start(
        self,
        studio_id: str,
        notebook: dict[str, str],
        target_kind: Literal["CLUSTER", "APPLICATION"],
        target_id: str,
        *,
        name: str | None = None,
        parameters: dict[str, Any] | None = None,
        environment_variables: dict[str, str] | None = None,
        output_location: str | None = None,
        timeout_minutes: int | None = None,
        tags: dict[str, str] | None = None,
    ) -> NotebookExecutionPublic:
        """Run a notebook (``{"workspace_id": …, "path": …}`` or ``{"uri": …}``) on a
        cluster or an application: START_PENDING at first."""
        body = _given(
            name=name,
            notebook=notebook,
            parameters=parameters,
            environment_variables=environment_variables,
            target={"kind": target_kind, "id": target_id},
            output_location=output_location,
            timeout_minutes=timeout_minutes,
            tags=tags,
        )
        return self.create(studio_id, body)

    def create(self, studio_id: str, body: dict[str, Any]) -> NotebookExecutionPublic:
        """Start an execution from a whole request body (the API's NotebookExecutionCreate)."""
        return self._client.send_model(NotebookExecutionPublic, "POST", self._path(studio_id), body)

    def list(
        self,
        studio_id: str,
        *,
        states: str | Collection[str] | None = None,
        notebook: str | None = None,
        target_id: str | None = None,
        tag: tuple[str, str] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> builtins.list[NotebookExecutionPublic]:
        """The studio's executions, oldest first (``notebook``: a workspace path or a URI)."""
        wanted = [states] if isinstance(states, str) else states
        return list(
            self._client.iterate(
                NotebookExecutionPublic,
                self._path(studio_id),
                states=list(wanted) if wanted else None,
                notebook=notebook,
                target_id=target_id,
                tag=f"{tag[0]}={tag[1]}" if tag is not None else None,
                created_after=created_after.isoformat() if created_after else None,
                created_before=created_before.isoformat() if created_before else None,
            )
        )

    def get(self, studio_id: str, execution_id: str) -> NotebookExecutionPublic:
        return self._client.get_model(NotebookExecutionPublic, self._path(studio_id, execution_id))

    def stop(self, studio_id: str, execution_id: str) -> NotebookExecutionPublic:
        path = self._path(studio_id, execution_id) + "/stop"
        return self._client.send_model(NotebookExecutionPublic, "POST", path)

    def events(self, studio_id: str, execution_id: str) -> builtins.list[EventPublic]:
        path = self._path(studio_id, execution_id) + "/events"
        return list(self._client.iterate(EventPublic, path))

    def output(
        self, studio_id: str, execution_id: str, *, format: Literal["ipynb", "html"] = "ipynb"
    ) -> bytes:
        """The executed notebook (or its HTML) as bytes; a 409 until it is written."""
        path = self._path(studio_id, execution_id) + "/output"
        return self._client.get_bytes(path, {"format": format})

    def wait(
        self,
        studio_id: str,
        execution_id: str,
        *,
        timeout: float | None = None,
        poll: float = 1.0,
        on_change: Callable[[NotebookExecutionPublic], None] | None = None,
    ) -> NotebookExecutionPublic:
        """Poll until the execution has ended (FINISHED, FAILED or STOPPED) and return it.

        ``timeout`` (seconds; None: no limit) raises :class:`StudioError` when it passes;
        the execution goes on.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        seen: str | None = None
        while True:
            execution = self.get(studio_id, execution_id)
            if execution.status != seen and on_change is not None:
                on_change(execution)
            seen = execution.status
            if execution.status in NOTEBOOK_EXECUTION_ENDED:
                return execution
            if deadline is not None and time.monotonic() >= deadline:
                raise StudioError(
                    f"notebook execution {execution.id} is still {execution.status} after "
                    f"{timeout:g} s; 'sparkstudio notebook describe {execution.id}' shows why",
                    reason="WaitTimeout",
                    status=408,
                )
            time.sleep(poll)
