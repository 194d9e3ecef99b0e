"""The cluster controller's idle ending against a scripted backend: no Spark, every step seen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from sparkstudio.clusters.controller import ClusterController
from sparkstudio.db import sealed
from sparkstudio.db.base import utcnow
from sparkstudio.db.migrate import upgrade
from sparkstudio.db.models import Cluster, Studio
from sparkstudio.db.session import Database
from sparkstudio.lifecycle import CLUSTER, Reason, initialize
from sparkstudio.processes.isolation import Isolation
from sparkstudio.settings import Settings
from tests.scripted_backend import ScriptedBackend

CLUSTER_ID = "cl-0000000000000001"
SPEC = {
    "worker_cores": 1,
    "worker_memory_mib": 1024,
    "executor_cores": 1,
    "executor_memory_mib": 512,
}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    sealed.use_key(database.engine, bytes(32))
    upgrade(database.engine)
    with database.transaction() as db:
        db.add(
            Studio(
                id="st-0000000000000000",
                name="s",
                storage_location=(tmp_path / "storage").as_uri(),
                networks=["n"],
            )
        )
        db.flush()  # the cluster refers to it
        cluster = Cluster(
            id=CLUSTER_ID,
            studio_id="st-0000000000000000",
            name="c",
            owner_name="alice",
            network="n",
            backend="scripted",
            spec=SPEC,
            workers_min=1,
            workers_max=1,
            idle_timeout_seconds=3600,
        )
        initialize(db, CLUSTER, cluster, Reason("USER_REQUEST"), "alice")
        cluster.target = "RUNNING"
        db.add(cluster)
    yield database
    database.dispose()


@pytest.fixture
def backend() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture
def controller(tmp_path: Path, database: Database, backend: ScriptedBackend) -> ClusterController:
    settings = Settings(home=tmp_path / "home", cluster_poll_seconds=0.5, isolation="single-user")
    controller = ClusterController(
        settings, database, lambda name: backend, None, Isolation(settings)
    )
    for _ in range(3):  # launch, then the first look finds it usable
        controller.handle(CLUSTER_ID)
    assert read(database).status == "WAITING"
    return controller


def read(database: Database) -> Cluster:
    with database.session(write=False) as db:
        cluster = db.get(Cluster, CLUSTER_ID)
        assert cluster is not None
        db.expunge(cluster)
        return cluster


def quiet_for(database: Database, seconds: float) -> None:
    with database.transaction() as db:
        cluster = db.get(Cluster, CLUSTER_ID)
        assert cluster is not None
        cluster.last_activity_at = utcnow() - timedelta(seconds=seconds)


def touch(database: Database) -> None:
    """What the workspace controller does for a notebook connected to the cluster."""
    quiet_for(database, 0)


def test_a_cluster_quiet_for_its_idle_timeout_ends_cleanly(
    controller: ClusterController, backend: ScriptedBackend, database: Database
) -> None:
    quiet_for(database, 3500)
    controller.handle(CLUSTER_ID)
    assert read(database).target == "RUNNING"  # not idle long enough yet
    quiet_for(database, 3601)
    controller.handle(CLUSTER_ID)  # decides to end it
    controller.handle(CLUSTER_ID)  # ends it
    cluster = read(database)
    assert (cluster.status, cluster.status_reason_code) == ("TERMINATED", "IDLE_TIMEOUT")
    assert backend.stopped == [{"workers": 1, "token": "secret"}]


def test_a_notebook_touching_the_cluster_during_the_look_keeps_it(
    controller: ClusterController, backend: ScriptedBackend, database: Database
) -> None:
    """The look saw an hour of quiet, but a connected notebook touched it meanwhile."""
    quiet_for(database, 3601)
    backend.during_look = lambda: touch(database)
    controller.handle(CLUSTER_ID)
    backend.during_look = None
    controller.handle(CLUSTER_ID)
    cluster = read(database)
    assert (cluster.status, cluster.target) == ("WAITING", "RUNNING")
    assert utcnow() - cluster.last_activity_at < timedelta(minutes=1)
    assert backend.stopped == []
