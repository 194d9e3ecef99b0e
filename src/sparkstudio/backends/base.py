"""The backend interface.

A backend runs clusters; it never touches the database or HTTP. ``start`` launches and
returns an opaque JSON ``state`` that the control plane stores; every later call gets
that state back, with the **place** the cluster's processes run in (its studio's
sandbox, or the host in single-user mode): a backend launches and reaches processes
through its place, never deciding isolation itself. ``observe`` reports what is true
now (and may return an updated state); the reconciler decides what to do about it.
Failures a user must see are returned as an observation with a reason, not raised.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from sparkstudio.processes.places import Place
from sparkstudio.spark.driver import DriverActivity
from sparkstudio.templates.spec import ClusterSpec

State = dict[str, Any]


class Health(StrEnum):
    STARTING = "STARTING"  # processes launched, the cluster manager not up yet
    BOOTSTRAPPING = "BOOTSTRAPPING"  # workers registering, the driver starting
    READY = "READY"  # Spark Connect answers: usable
    FAILED = "FAILED"  # a process the cluster cannot do without is gone


@dataclass(frozen=True)
class LaunchRequest:
    cluster_id: str
    spec: ClusterSpec
    workdir: Path  # logs and scratch space of this cluster
    event_log_dir: str  # a URI Spark writes event logs to (for the history server)
    place: Place  # where its processes run
    log_dir: Path  # its processes' output: the platform's, out of the place's reach
    storage: Path | None = None  # the studio's file storage its processes may use


@dataclass(frozen=True)
class Endpoints:
    """Where the control plane reaches a cluster: a gRPC target for its Spark Connect
    server (``127.0.0.1:port`` or ``unix:<bridge>``; users reach it through the platform's
    Connect front) and URLs of its UIs (``http://…`` or ``unix:<bridge>``)."""

    connect_url: str
    ui_url: str  # the driver's Spark UI
    master_ui_url: str = ""


@dataclass(frozen=True)
class Observation:
    health: Health
    state: State
    endpoints: Endpoints | None = None
    workers_alive: int = 0
    reason_code: str = ""
    reason_message: str = ""
    # Workers (by name) whose process is gone: the reconciler records and replaces them.
    lost_workers: list[str] = field(default_factory=list)
    # Live workers running no executor: what managed scaling may stop first.
    idle_workers: list[str] = field(default_factory=list)
    activity: DriverActivity | None = None
    managed_workers: bool = True  # False when the workers are not ours to scale


@dataclass(frozen=True)
class Worker:
    """A started worker, for usage metering."""

    name: str
    cores: int
    memory_mib: int


class Backend(ABC):
    """A compute plug-in, registered under the entry-point group ``sparkstudio.backends``."""

    name: ClassVar[str]

    @abstractmethod
    def start(self, request: LaunchRequest) -> State:
        """Launch the cluster's processes and return at once (observe tells readiness)."""

    @abstractmethod
    def observe(self, state: State, place: Place) -> Observation:
        """What is true now; never raises for a cluster that died (FAILED, with a reason)."""

    @abstractmethod
    def scale(
        self, state: State, workers: int, place: Place, *, remove_first: Sequence[str] = ()
    ) -> State:
        """Run ``workers`` live workers; returns the new state.

        Lost workers are dropped from the state and replaced; when scaling in, the
        workers named in ``remove_first`` are stopped before any other.
        """

    @abstractmethod
    def workers(self, state: State) -> list[Worker]:
        """The workers the state holds (alive or not), for metering."""

    def check(self) -> str:
        """Why this backend cannot run clusters on this host ("" when it can)."""
        return ""

    def token(self, state: State) -> str:
        """The secret its Spark Connect server wants ("" when none); it stays inside the
        platform: users present per-user tokens to the platform's Connect front."""
        return str(state.get("token", ""))

    @abstractmethod
    def stop(self, state: State, place: Place) -> None:
        """Stop every process of the cluster; idempotent."""
