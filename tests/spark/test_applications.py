"""A serverless application on real Spark: warm capacity, a warm driver, nothing left after.

One application with the smallest capacity (a driver and one executor worker of 1 vCPU
and 1 GB) is started, queried, stopped and deleted.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from sparkstudio.backends.local import LocalBackend
from sparkstudio.db.models import Application
from sparkstudio.db.session import Database
from sparkstudio.server import ControlPlane
from sparkstudio.serverless.releases import supported_release_labels
from sparkstudio.services.connect_access import mint_for_user
from sparkstudio.spark import processes
from tests.support import UserClient, expect, unique, wait_for_application

pytestmark = pytest.mark.spark

TINY_WORKER = {"cpu": "1 vCPU", "memory": "1 GB"}


def backend_state(database: Database, application_id: str) -> dict[str, Any]:
    with database.session(write=False) as db:
        application = db.get(Application, application_id)
        assert application is not None and application.state is not None
        return dict(application.state)


def test_an_application_keeps_a_warm_driver_and_stops_every_process(
    control_plane: ControlPlane, admin: UserClient, studio: dict[str, Any], database: Database
) -> None:
    if not database.is_sqlite:
        pytest.skip("the metadata database plays no part in this: it runs once, on SQLite")
    from pyspark.sql import SparkSession

    body = {
        "name": unique("app"),
        "release_label": next(iter(supported_release_labels())),
        "initial_capacity": {
            "DRIVER": {"worker_count": 1, "worker_configuration": TINY_WORKER},
            "EXECUTOR": {"worker_count": 1, "worker_configuration": TINY_WORKER},
        },
        "maximum_capacity": {"cpu": "2 vCPU", "memory": "2 GB"},
    }
    created = expect(admin.post(f"/studios/{studio['id']}/applications", json=body), 201)
    assert created["workers"] == {"min": 1, "max": 1, "running": 0}
    path = f"/studios/{studio['id']}/applications/{created['id']}"
    wait_for_application(admin, studio["id"], created["id"], {"CREATED"})

    began = time.monotonic()
    expect(admin.post(f"{path}/start"), 202)
    started = wait_for_application(admin, studio["id"], created["id"], {"STARTED"}, 180)
    start_seconds = time.monotonic() - began
    assert started["status_reason"]["code"] == "READY"
    assert started["workers"]["running"] == 1
    assert started["started_at"] is not None

    state = backend_state(database, created["id"])
    # Through the platform's Connect front, with a token of the admin's own on the
    # application (as a notebook run gets one): the driver listens in the studio's sandbox.
    token = mint_for_user(control_plane.settings, admin.name, admin.user_id, created["id"])
    front = control_plane.isolation.public_connect_url
    url = f"{front}/;token={token};user_id={admin.name}"
    began = time.monotonic()
    session = SparkSession.builder.remote(url).create()
    try:
        rows = session.range(100_000).selectExpr("id % 10 AS k").groupBy("k").count().collect()
    finally:
        session.stop()
    query_seconds = time.monotonic() - began
    assert len(rows) == 10
    print(
        f"\nstart -> STARTED {start_seconds:.1f} s; first query on the warm driver "
        f"{query_seconds:.2f} s"
    )

    records = LocalBackend.processes(state)
    assert {"master", "worker-0", "driver"} <= {r.role for r in records}
    expect(admin.post(f"{path}/stop"), 202)
    stopped = wait_for_application(admin, studio["id"], created["id"], {"STOPPED"}, 120)
    assert stopped["workers"]["running"] == 0 and stopped["stopped_at"] is not None
    assert [r.pid for r in records if processes.is_alive(r)] == []
    assert "token" not in backend_state(database, created["id"])

    expect(admin.delete(path), 202)
    wait_for_application(admin, studio["id"], created["id"], {"TERMINATED"})
    events = expect(admin.get(f"{path}/events"), 200)["items"]
    moves = [e["to_status"] for e in events if e["from_status"] != e["to_status"]]
    assert moves == [
        "CREATING",
        "CREATED",
        "STARTING",
        "STARTED",
        "STOPPING",
        "STOPPED",
        "TERMINATED",
    ]
