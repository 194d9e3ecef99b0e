"""A backend whose workers are numbers: controllers' decisions tested without Spark."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sparkstudio.backends import load_backend
from sparkstudio.backends.base import (
    Backend,
    Endpoints,
    Health,
    LaunchRequest,
    Observation,
    State,
    Worker,
)
from sparkstudio.processes.places import Place
from sparkstudio.spark.driver import DriverActivity


class ScriptedBackend(Backend):
    """Workers are numbers in the state; health and activity are what the test sets."""

    name = "scripted"

    def __init__(self) -> None:
        self.health = Health.READY
        self.pending_tasks = 0
        self.launched: list[LaunchRequest] = []
        self.stopped: list[State] = []
        self.during_look: Callable[[], None] | None = None  # what happens while it looks

    def start(self, request: LaunchRequest) -> State:
        self.launched.append(request)
        return {"workers": max(request.spec.workers_min, 1), "token": "secret"}

    def observe(self, state: State, place: Place) -> Observation:
        if self.during_look is not None:
            self.during_look()
        if self.health is Health.FAILED:
            return Observation(
                Health.FAILED, state, reason_code="DRIVER_LOST", reason_message="gone"
            )
        activity = DriverActivity("app-1", 0, 0, 0, 0, self.pending_tasks)
        endpoints = Endpoints("sc://localhost:1", "http://127.0.0.1:2")
        return Observation(self.health, state, endpoints, state["workers"], activity=activity)

    def scale(
        self, state: State, workers: int, place: Place, *, remove_first: Sequence[str] = ()
    ) -> State:
        return {**state, "workers": workers}

    def workers(self, state: State) -> list[Worker]:
        return [Worker(f"worker-{i}", 1, 1024) for i in range(state.get("workers", 0))]

    def stop(self, state: State, place: Place) -> None:
        self.stopped.append(state)


def scripted_spark(scripted: ScriptedBackend | None = None) -> Callable[[str], Backend]:
    """Backends for a control plane whose tests are not about Spark: what the ``local``
    backend would run (clusters, applications) is scripted, so no JVM starts; every other
    backend is the real one."""
    local = scripted or ScriptedBackend()

    def backend(name: str) -> Backend:
        return local if name == "local" else load_backend(name)

    return backend
