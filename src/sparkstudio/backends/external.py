"""The ``external`` backend: a Spark Connect endpoint that runs elsewhere (bring your own Spark).

Registering one stores its address (and token); sparkstudio checks that it answers,
hands its address to studio members and reads its driver's UI for activity, but never
starts, scales or stops it: terminating an external cluster only forgets it.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

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
from sparkstudio.spark.driver import read_activity

DEFAULT_CONNECT_PORT = 15002
TIMEOUT_SECONDS = 2.0


def connect_address(url: str) -> tuple[str, int]:
    """``sc://host:port/;…`` → (host, port)."""
    parts = urlsplit(url.split("/;", 1)[0].replace("sc://", "http://", 1))
    return parts.hostname or "", parts.port or DEFAULT_CONNECT_PORT


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT_SECONDS):
            return True
    except OSError:
        return False


class ExternalBackend(Backend):
    name = "external"

    def start(self, request: LaunchRequest) -> State:
        raise NotImplementedError("external clusters are registered, not started")

    def observe(self, state: State, place: Place) -> Observation:
        host, port = connect_address(state["connect_url"])
        endpoints = Endpoints(connect_url=f"{host}:{port}", ui_url=state.get("ui_url", ""))
        if not _answers(host, port):
            return Observation(
                Health.FAILED,
                state,
                endpoints,
                reason_code="ENDPOINT_UNREACHABLE",
                reason_message=f"the Spark Connect endpoint {host}:{port} does not answer",
                managed_workers=False,
            )
        activity = read_activity(endpoints.ui_url) if endpoints.ui_url else None
        return Observation(Health.READY, state, endpoints, activity=activity, managed_workers=False)

    def scale(
        self, state: State, workers: int, place: Place, *, remove_first: Sequence[str] = ()
    ) -> State:
        return state

    def workers(self, state: State) -> list[Worker]:
        return []

    def stop(self, state: State, place: Place) -> None:
        """Nothing to stop: the endpoint is not ours."""
