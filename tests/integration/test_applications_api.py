"""Serverless applications through the API, without starting Spark.

Statuses the API cannot reach without Spark (STARTED, STOPPING) are written into the
database directly, the way the reconciler would leave them.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from sparkstudio.db.models import Application
from sparkstudio.db.session import Database
from sparkstudio.errors import Invalid
from sparkstudio.serverless.releases import supported_release_labels
from sparkstudio.services.applications import tag_application, untag_application
from tests.support import (
    BOTH_DATABASES,
    NewUser,
    UserClient,
    add_member,
    create_studio,
    expect,
    expect_error,
    field_names,
    unique,
    wait_for_application,
)

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both

LABEL = next(iter(supported_release_labels()))
SMALL_WORKER = {"cpu": "1 vCPU", "memory": "1 GB", "disk": "20 GB"}


def body(**fields: Any) -> dict[str, Any]:
    return {"name": unique("app"), "release_label": LABEL, **fields}


def create(client: UserClient, studio_id: str, **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = expect(
        client.post(f"/studios/{studio_id}/applications", json=body(**fields)), 201
    )
    return wait_for_application(client, studio_id, created["id"], {"CREATED"})


def set_status(database: Database, application_id: str, status: str, target: str) -> None:
    with database.transaction() as db:
        db.execute(
            update(Application)
            .where(Application.id == application_id)
            .values(status=status, target=target)
        )


def test_an_application_is_created_with_emr_defaults_and_its_capacity_plan(
    admin: UserClient, studio: dict[str, Any]
) -> None:
    initial = {
        "DRIVER": {"worker_count": 1, "worker_configuration": {"cpu": "1", "memory": "2 GB"}},
        "EXECUTOR": {"worker_count": 2, "worker_configuration": {**SMALL_WORKER, "cpu": "2"}},
    }
    maximum = {"cpu": "8 vCPU", "memory": "6144 MB", "disk": "200 GB"}
    created = expect(
        admin.post(
            f"/studios/{studio['id']}/applications",
            json=body(initial_capacity=initial, maximum_capacity=maximum, tags={"team": "a"}),
        ),
        201,
    )
    assert created["status"] == "CREATING" and created["type"] == "SPARK"
    assert created["auto_start_configuration"] == {"enabled": True}
    assert created["auto_stop_configuration"] == {"enabled": True, "idle_timeout_minutes": 15}
    assert created["scheduler_configuration"] == {
        "max_concurrent_runs": 15,
        "queue_timeout_minutes": 360,
    }
    assert created["spark_version"] == supported_release_labels()[LABEL]
    assert created["initial_capacity"]["EXECUTOR"]["worker_configuration"]["cpu"] == "2"
    # Executors of 2 vCPU / 1 GB beside a 1 vCPU / 2 GB driver: 7 vCPU hold 3 of them
    # (the 4 GB of memory left would hold 4).
    assert created["workers"] == {"min": 2, "max": 3, "running": 0}
    ready = wait_for_application(admin, studio["id"], created["id"], {"CREATED"})
    assert ready["status_reason"]["code"] == "CREATED"
    events = expect(admin.get(f"/studios/{studio['id']}/applications/{created['id']}/events"), 200)[
        "items"
    ]
    assert [(e["from_status"], e["to_status"]) for e in events] == [
        (None, "CREATING"),
        ("CREATING", "CREATED"),
    ]


def test_the_release_labels_offered_are_the_ones_an_application_takes(
    admin: UserClient, anon: Any, studio: dict[str, Any]
) -> None:
    offered = expect(admin.get("/release-labels"), 200)
    supported = supported_release_labels()
    assert offered == [{"release_label": k, "spark_version": v} for k, v in supported.items()]
    assert offered, "the installed pyspark runs at least one label"
    label = offered[0]["release_label"]
    body = {"name": unique("app"), "release_label": label}
    created = expect(admin.post(f"/studios/{studio['id']}/applications", json=body), 201)
    assert created["release_label"] == label
    expect_error(anon.get("/release-labels"), 401)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"type": "HIVE"}, "type", "HIVE applications are not supported"),
        ({"type": "PRESTO"}, "type", "'SPARK'"),
        ({"release_label": "emr-7.1.0"}, "release_label", LABEL),
        (
            {
                "initial_capacity": {
                    "GPU": {"worker_count": 1, "worker_configuration": SMALL_WORKER}
                }
            },
            "initial_capacity.GPU",
            "DRIVER, EXECUTOR",
        ),
        (
            {
                "initial_capacity": {
                    "EXECUTOR": {
                        "worker_count": 1,
                        "worker_configuration": {**SMALL_WORKER, "cpu": "two"},
                    }
                }
            },
            "initial_capacity.EXECUTOR.worker_configuration.cpu",
            "'2 vCPU'",
        ),
        (
            {
                "initial_capacity": {
                    "EXECUTOR": {
                        "worker_count": 1,
                        "worker_configuration": {**SMALL_WORKER, "memory": "4 TB"},
                    }
                }
            },
            "initial_capacity.EXECUTOR.worker_configuration.memory",
            "'4096 MB'",
        ),
        (
            {
                "initial_capacity": {
                    "DRIVER": {
                        "worker_count": 1,
                        "worker_configuration": {**SMALL_WORKER, "disk": "5 GB"},
                    }
                }
            },
            "initial_capacity.DRIVER.worker_configuration.disk",
            "20 GB to 200 GB",
        ),
        (
            {
                "initial_capacity": {
                    "DRIVER": {"worker_count": 2, "worker_configuration": SMALL_WORKER}
                }
            },
            "initial_capacity.DRIVER.worker_count",
            "must be 1",
        ),
        (
            {
                "initial_capacity": {
                    "EXECUTOR": {"worker_count": 4, "worker_configuration": SMALL_WORKER}
                },
                "maximum_capacity": {"cpu": "4 vCPU", "memory": "64 GB"},
            },
            "maximum_capacity.cpu",
            "must fit within the maximum capacity",
        ),
        (
            {"maximum_capacity": {"cpu": "8 vCPU", "memory": "lots"}},
            "maximum_capacity.memory",
            "'4 GB'",
        ),
        ({"network": "elsewhere"}, "network", "default"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_input_is_refused_naming_the_field_and_what_is_allowed(
    admin: UserClient, studio: dict[str, Any], fields: dict[str, Any], field: str, words: str
) -> None:
    response = admin.post(f"/studios/{studio['id']}/applications", json=body(**fields))
    error = expect_error(response, 422, "ValidationError")
    assert field_names(error) == [field]
    assert words in error["message"]


def test_names_are_unique_in_a_studio(admin: UserClient, studio: dict[str, Any]) -> None:
    first = create(admin, studio["id"])
    again = admin.post(
        f"/studios/{studio['id']}/applications", json={**body(), "name": first["name"]}
    )
    expect_error(again, 409, "AlreadyExists")


def test_updates_follow_the_state(
    admin: UserClient, studio: dict[str, Any], database: Database
) -> None:
    app = create(admin, studio["id"])
    path = f"/studios/{studio['id']}/applications/{app['id']}"
    executor = {"EXECUTOR": {"worker_count": 2, "worker_configuration": SMALL_WORKER}}
    updated = expect(
        admin.patch(
            path,
            json={
                "initial_capacity": executor,
                "scheduler_configuration": {"max_concurrent_runs": 2},
                "auto_start_configuration": {"enabled": False},
            },
        ),
        200,
    )
    assert updated["workers"]["min"] == 2
    assert updated["scheduler_configuration"]["max_concurrent_runs"] == 2
    assert updated["auto_start_configuration"] == {"enabled": False}
    too_small = admin.patch(path, json={"maximum_capacity": {"cpu": "2", "memory": "8 GB"}})
    assert field_names(expect_error(too_small, 422)) == ["maximum_capacity.cpu"]

    # While it runs, only tags, auto-stop and the maximum capacity may change.
    set_status(database, app["id"], "STARTED", "STOPPED")
    refused = expect_error(admin.patch(path, json={"initial_capacity": executor}), 409)
    assert "STARTED" in refused["message"] and "initial_capacity" in refused["message"]
    mixed = admin.patch(path, json={"release_label": LABEL, "tags": {"a": "b"}})
    assert "release_label" in expect_error(mixed, 409, "InvalidState")["message"]
    running = expect(
        admin.patch(
            path,
            json={
                "tags": {"team": "b"},
                "auto_stop_configuration": {"enabled": True, "idle_timeout_minutes": 5},
                "maximum_capacity": {"cpu": "5 vCPU", "memory": "16 GB"},
            },
        ),
        200,
    )
    assert running["tags"] == {"team": "b"}
    assert running["auto_stop_configuration"]["idle_timeout_minutes"] == 5
    assert running["workers"]["max"] == 4  # (5 vCPU - the driver's 1) / 1 vCPU
    # Its target is STOPPED: the reconciler stops it (nothing of it runs here).
    stopped = wait_for_application(admin, studio["id"], app["id"], {"STOPPED"})
    assert stopped["status_reason"]["code"] == "USER_REQUEST"

    set_status(database, app["id"], "STOPPING", "STOPPED")
    busy = expect_error(admin.patch(path, json={"tags": {}}), 409, "InvalidState")
    assert "STOPPING" in busy["message"]


def test_list_filters_by_state_and_pages(admin: UserClient, database: Database) -> None:
    studio = create_studio(admin)
    apps = [create(admin, studio["id"]) for _ in range(3)]
    set_status(database, apps[1]["id"], "STOPPED", "STOPPED")
    path = f"/studios/{studio['id']}/applications"
    first = expect(admin.get(path, params={"limit": 2}), 200)
    assert [a["id"] for a in first["items"]] == [a["id"] for a in apps[:2]]
    rest = expect(admin.get(path, params={"limit": 2, "next_token": first["next_token"]}), 200)
    assert [a["id"] for a in rest["items"]] == [apps[2]["id"]] and rest["next_token"] is None
    stopped = expect(admin.get(path, params={"states": "STOPPED"}), 200)["items"]
    assert [a["id"] for a in stopped] == [apps[1]["id"]]
    both = expect(admin.get(path, params=[("states", "CREATED"), ("states", "STOPPED")]), 200)
    assert len(both["items"]) == 3
    bad = admin.get(path, params={"states": "RUNNING"})
    error = expect_error(bad, 422)
    assert field_names(error) == ["query.states.0"] and "STOPPED" in error["message"]


def test_delete_only_from_created_or_stopped_then_terminated_for_good(
    admin: UserClient, studio: dict[str, Any], database: Database
) -> None:
    app = create(admin, studio["id"])
    path = f"/studios/{studio['id']}/applications/{app['id']}"
    set_status(database, app["id"], "STARTED", "STARTED")
    refused = expect_error(admin.delete(path), 409, "InvalidState")
    assert "STARTED" in refused["message"] and "stop it first" in refused["message"]

    set_status(database, app["id"], "STOPPED", "STOPPED")
    expect(admin.delete(path), 202)
    gone = wait_for_application(admin, studio["id"], app["id"], {"TERMINATED"})
    assert gone["status_reason"]["code"] == "USER_REQUEST"
    for response in (
        admin.post(f"{path}/start"),
        admin.post(f"{path}/stop"),
        admin.patch(path, json={"tags": {}}),
        admin.delete(path),
    ):
        expect_error(response, 409, "InvalidState")
    # The name is free again only when the record is gone: it stays, TERMINATED.
    listed = expect(admin.get(f"/studios/{studio['id']}/applications"), 200)["items"]
    assert app["id"] in [a["id"] for a in listed]


def test_stopping_what_is_not_running_changes_nothing(
    admin: UserClient, studio: dict[str, Any]
) -> None:
    app = create(admin, studio["id"])
    path = f"/studios/{studio['id']}/applications/{app['id']}"
    stopped = expect(admin.post(f"{path}/stop"), 202)
    assert (stopped["status"], stopped["target"]) == ("CREATED", "STOPPED")


def test_members_use_applications_and_outsiders_see_none(
    admin: UserClient, new_user: NewUser
) -> None:
    studio = create_studio(admin)
    developer, outsider = new_user(), new_user()
    add_member(admin, studio["id"], user=developer.name)
    app = create(developer, studio["id"])
    assert app["created_by"] == developer.name
    path = f"/studios/{studio['id']}/applications/{app['id']}"
    expect(developer.patch(path, json={"tags": {"k": "v"}}), 200)
    expect_error(outsider.get(path), 404, "NotFound")
    other = create_studio(admin)
    expect_error(admin.get(f"/studios/{other['id']}/applications/{app['id']}"), 404, "NotFound")


def test_tags_are_added_and_removed_in_any_state_but_terminated(
    admin: UserClient, studio: dict[str, Any], database: Database
) -> None:
    app = create(admin, studio["id"], tags={"team": "a", "cost": "1"})
    set_status(database, app["id"], "STARTED", "STOPPED")
    with database.transaction() as db:
        row = db.get(Application, app["id"])
        assert row is not None
        tag_application(db, row, {"team": "b", "env": "prod"})
        untag_application(db, row, ["cost", "absent"])
    path = f"/studios/{studio['id']}/applications/{app['id']}"
    assert expect(admin.get(path), 200)["tags"] == {"team": "b", "env": "prod"}
    with database.transaction() as db:
        row = db.get(Application, app["id"])
        assert row is not None
        with pytest.raises(Invalid) as raised:
            tag_application(db, row, {f"k{i}": "v" for i in range(49)})
        assert raised.value.fields[0]["field"] == "tags"


def test_a_studio_is_deleted_only_once_its_applications_are(admin: UserClient) -> None:
    studio = create_studio(admin)
    app = create(admin, studio["id"])
    refused = expect_error(admin.delete(f"/studios/{studio['id']}"), 409, "InUse")
    assert "applications" in refused["message"]
    expect(admin.delete(f"/studios/{studio['id']}/applications/{app['id']}"), 202)
    wait_for_application(admin, studio["id"], app["id"], {"TERMINATED"})
    expect(admin.delete(f"/studios/{studio['id']}"), 204)
