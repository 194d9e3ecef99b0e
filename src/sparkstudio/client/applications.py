"""Accessor for serverless applications."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Collection
from typing import Any

from sparkstudio.client.resources import _given, _Resource
from sparkstudio.errors import NotFound, StudioError
from sparkstudio.schemas.applications import ApplicationPublic
from sparkstudio.schemas.events import EventPublic


class Applications(_Resource):
    """Serverless applications of a studio: create, update, start, stop, delete.

    Capacities take EMR Serverless's shapes, e.g. ``initial_capacity={"EXECUTOR":
    {"worker_count": 1, "worker_configuration": {"cpu": "1 vCPU", "memory": "1 GB"}}}``.
    """

    def _path(self, studio_id: str, application_id: str = "") -> str:
        base = f"/studios/{studio_id}/applications"
        return f"{base}/{application_id}" if application_id else base

    def create(
        self,
        studio_id: str,
        name: str,
        release_label: str,
        *,
        type: str = "SPARK",
        initial_capacity: dict[str, Any] | None = None,
        maximum_capacity: dict[str, Any] | None = None,
        auto_start_configuration: dict[str, Any] | None = None,
        auto_stop_configuration: dict[str, Any] | None = None,
        scheduler_configuration: dict[str, Any] | None = None,
        network: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ApplicationPublic:
        """Create an application (CREATING, then CREATED); nothing runs until started."""
        body = _given(
            name=name,
            type=type,
            release_label=release_label,
            initial_capacity=initial_capacity,
            maximum_capacity=maximum_capacity,
            auto_start_configuration=auto_start_configuration,
            auto_stop_configuration=auto_stop_configuration,
            scheduler_configuration=scheduler_configuration,
            network=network,
            tags=tags,
        )
        return self._client.send_model(ApplicationPublic, "POST", self._path(studio_id), body)

    def list(
        self, studio_id: str, *, states: str | Collection[str] | None = None
    ) -> builtins.list[ApplicationPublic]:
        wanted = [states] if isinstance(states, str) else states
        return list(
            self._client.iterate(
                ApplicationPublic, self._path(studio_id), states=list(wanted) if wanted else None
            )
        )

    def get(self, studio_id: str, application_id: str) -> ApplicationPublic:
        return self._client.get_model(ApplicationPublic, self._path(studio_id, application_id))

    def get_by_name(self, studio_id: str, name: str) -> ApplicationPublic:
        """The application with this name (the latest one, if several were deleted)."""
        found = [a for a in self.list(studio_id) if a.name == name]
        if not found:
            raise NotFound(f"no application named '{name}' in studio {studio_id}")
        live = [a for a in found if a.status != "TERMINATED"]
        return (live or found)[-1]

    def update(self, studio_id: str, application_id: str, **fields: Any) -> ApplicationPublic:
        """Change fields (``tags=…``, ``maximum_capacity=…``, …); see the API for when."""
        path = self._path(studio_id, application_id)
        return self._client.send_model(ApplicationPublic, "PATCH", path, fields)

    def start(self, studio_id: str, application_id: str) -> ApplicationPublic:
        path = self._path(studio_id, application_id) + "/start"
        return self._client.send_model(ApplicationPublic, "POST", path)

    def stop(self, studio_id: str, application_id: str) -> ApplicationPublic:
        path = self._path(studio_id, application_id) + "/stop"
        return self._client.send_model(ApplicationPublic, "POST", path)

    def delete(self, studio_id: str, application_id: str) -> ApplicationPublic:
        path = self._path(studio_id, application_id)
        return self._client.send_model(ApplicationPublic, "DELETE", path)

    def events(self, studio_id: str, application_id: str) -> builtins.list[EventPublic]:
        path = self._path(studio_id, application_id) + "/events"
        return list(self._client.iterate(EventPublic, path))

    def wait(
        self,
        studio_id: str,
        application_id: str,
        statuses: Collection[str],
        *,
        timeout: float = 600,
        poll: float = 1.0,
        on_change: Callable[[ApplicationPublic], None] | None = None,
    ) -> ApplicationPublic:
        """Poll until the application's status is one of ``statuses`` and return it.

        Raises :class:`StudioError` when it stops or ends instead of reaching them (with
        its status reason), or when ``timeout`` seconds pass.
        """
        deadline = time.monotonic() + timeout
        seen: str | None = None
        wanted = frozenset(statuses)
        while True:
            application = self.get(studio_id, application_id)
            if application.status != seen and on_change is not None:
                on_change(application)
            seen = application.status
            if application.status in wanted:
                return application
            settled = application.status in ("STOPPED", "TERMINATED", "CREATED")
            if settled and application.target not in wanted:
                reason = application.status_reason
                raise StudioError(
                    f"application {application.name} ({application.id}) is "
                    f"{application.status}: {reason.message or reason.code}",
                    reason=reason.code or application.status,
                    status=409,
                )
            if time.monotonic() >= deadline:
                raise StudioError(
                    f"application {application.name} ({application.id}) is still "
                    f"{application.status} after {timeout:g} s; "
                    f"'sparkstudio app describe {application.id}' shows why",
                    reason="WaitTimeout",
                    status=408,
                )
            time.sleep(poll)
