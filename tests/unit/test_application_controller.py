"""The application controller against a scripted backend: no Spark, every decision visible."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sparkstudio.backends.base import Health
from sparkstudio.db import sealed
from sparkstudio.db.base import utcnow
from sparkstudio.db.migrate import upgrade
from sparkstudio.db.models import Application, Event, Studio
from sparkstudio.db.session import Database
from sparkstudio.lifecycle import APPLICATION, Reason, initialize
from sparkstudio.processes.isolation import Isolation
from sparkstudio.serverless.controller import ApplicationController
from sparkstudio.settings import Settings
from tests.scripted_backend import ScriptedBackend

WORKER = {"cpu": "1 vCPU", "memory": "1 GB"}


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
    yield database
    database.dispose()


@pytest.fixture
def backend() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture
def controller(
    tmp_path: Path, database: Database, backend: ScriptedBackend
) -> ApplicationController:
    settings = Settings(
        home=tmp_path / "home",
        cluster_poll_seconds=0.5,
        scale_in_idle_seconds=3600,
        isolation="single-user",
    )
    return ApplicationController(settings, database, lambda name: backend, Isolation(settings))


def make_application(database: Database, **fields: Any) -> str:
    app = Application(
        id="app-0000000000000001",
        studio_id="st-0000000000000000",
        name="a",
        type="SPARK",
        release_label="spark-4.3",
        network="n",
        backend="scripted",
        created_by="alice",
        initial_capacity={"EXECUTOR": {"worker_count": 1, "worker_configuration": WORKER}},
        maximum_capacity={"cpu": "4 vCPU", "memory": "16 GB"},
        scheduler_configuration={},
        tags={},
        **fields,
    )
    with database.transaction() as db:
        initialize(db, APPLICATION, app, Reason("USER_REQUEST"), "alice")
        app.target = "STARTED"
        db.add(app)
    return app.id


def settle(controller: ApplicationController, application_id: str, looks: int = 10) -> None:
    for _ in range(looks):
        if controller.handle(application_id) is None:
            return


def read(database: Database, application_id: str) -> Application:
    with database.session(write=False) as db:
        app = db.get(Application, application_id)
        assert app is not None
        db.expunge(app)
        return app


def reasons(database: Database, application_id: str) -> list[str]:
    with database.session(write=False) as db:
        events = db.query(Event).filter(Event.resource_id == application_id).order_by(Event.id)
        return [f"{e.to_status}:{e.reason_code}" for e in events]


def test_started_keeps_the_initial_capacity_and_grows_up_to_the_maximum_only(
    controller: ApplicationController, backend: ScriptedBackend, database: Database
) -> None:
    application_id = make_application(database)
    for _ in range(4):  # CREATING -> CREATED -> STARTING (launch) -> STARTED
        controller.handle(application_id)
    app = read(database, application_id)
    assert app.status == "STARTED" and app.workers_running == 1
    (request,) = backend.launched
    # 4 vCPU hold the 1 vCPU driver and 3 executor workers of 1 vCPU.
    assert (request.spec.workers_min, request.spec.workers_max) == (1, 3)
    assert request.spec.driver_memory_mib == 1024

    backend.pending_tasks = 50  # far more than the maximum can run
    for _ in range(4):
        controller.handle(application_id)
    assert read(database, application_id).state == {"workers": 3, "token": "secret"}
    assert "STARTED:SCALED_OUT" in reasons(database, application_id)


def test_auto_stop_releases_every_process_after_the_idle_timeout(
    controller: ApplicationController, backend: ScriptedBackend, database: Database
) -> None:
    application_id = make_application(database, auto_stop_idle_timeout_minutes=1)
    for _ in range(4):
        controller.handle(application_id)
    controller.handle(application_id)
    assert read(database, application_id).status == "STARTED"  # not idle long enough yet
    with database.transaction() as db:
        app = db.get(Application, application_id)
        assert app is not None
        app.last_activity_at = utcnow() - timedelta(minutes=2)
    settle(controller, application_id)
    app = read(database, application_id)
    assert (app.status, app.target, app.status_reason_code) == (
        "STOPPED",
        "STOPPED",
        "IDLE_TIMEOUT",
    )
    assert backend.stopped == [{"workers": 1, "token": "secret"}]
    assert app.state == {"workers": 1} and app.workers_running == 0  # no credentials kept
    assert reasons(database, application_id)[-2:] == [
        "STOPPING:IDLE_TIMEOUT",
        "STOPPED:IDLE_TIMEOUT",
    ]


def test_a_lost_driver_stops_the_application_with_the_reason(
    controller: ApplicationController, backend: ScriptedBackend, database: Database
) -> None:
    application_id = make_application(database)
    for _ in range(4):
        controller.handle(application_id)
    backend.health = Health.FAILED
    settle(controller, application_id)
    app = read(database, application_id)
    assert (app.status, app.status_reason_code) == ("STOPPED", "DRIVER_LOST")


def test_a_restarted_control_plane_readopts_a_started_application(
    tmp_path: Path, controller: ApplicationController, backend: ScriptedBackend, database: Database
) -> None:
    application_id = make_application(database)
    for _ in range(4):
        controller.handle(application_id)
    settings = Settings(home=tmp_path / "home", cluster_poll_seconds=0.5, isolation="single-user")
    again = ApplicationController(settings, database, lambda name: backend, Isolation(settings))
    again.handle(application_id)
    assert reasons(database, application_id)[-1] == "STARTED:READOPTED"
    assert len(backend.launched) == 1  # nothing was launched twice
