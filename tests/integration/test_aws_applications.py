"""EMR Serverless application operations through an unmodified boto3 client.

Nothing here starts an application (that would launch Spark): StartApplication is
exercised on its refusals only.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from sparkstudio.server import ControlPlane
from tests.integration.test_aws_keys import (
    REGION,
    aws_error,
    create_pair,
    emr_serverless,
    signed_request,
)
from tests.support import (
    BOTH_DATABASES,
    NewUser,
    UserClient,
    add_member,
    create_studio,
    expect,
    unique,
)

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both

RELEASE = "spark-4.3"


@pytest.fixture
def emr(control_plane: ControlPlane, admin: UserClient, new_user: NewUser) -> Any:
    """A boto3 client acting as a developer of a fresh studio."""
    user = new_user()
    studio = create_studio(admin)
    add_member(admin, studio["id"], user=user.name)
    return emr_serverless(control_plane, create_pair(user, studio["id"]))


def wait_for_state(client: Any, application_id: str, states: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        application: dict[str, Any] = client.get_application(applicationId=application_id)[
            "application"
        ]
        if application["state"] in states or time.monotonic() > deadline:
            assert application["state"] in states, application
            return application
        time.sleep(0.2)


def test_create_then_get_answers_emr_serverless_shapes(emr: Any) -> None:
    name = unique("etl")
    created = emr.create_application(
        name=name,
        releaseLabel=RELEASE,
        type="SPARK",
        initialCapacity={
            "DRIVER": {
                "workerCount": 1,
                "workerConfiguration": {"cpu": "1 vCPU", "memory": "2 GB"},
            },
            "EXECUTOR": {
                "workerCount": 2,
                "workerConfiguration": {"cpu": "2 vCPU", "memory": "4 GB", "disk": "30 GB"},
            },
        },
        maximumCapacity={"cpu": "16 vCPU", "memory": "64 GB"},
        autoStopConfiguration={"enabled": True, "idleTimeoutMinutes": 30},
        schedulerConfiguration={"maxConcurrentRuns": 5, "queueTimeoutMinutes": 60},
        architecture="X86_64",
        tags={"team": "data"},
    )
    assert created["name"] == name
    assert created["arn"].startswith(f"arn:aws:emr-serverless:{REGION}:")
    assert created["arn"].endswith(f":/applications/{created['applicationId']}")

    application = wait_for_state(emr, created["applicationId"], {"CREATED"})
    assert isinstance(application["createdAt"], datetime)  # epoch seconds, parsed by botocore
    assert application["updatedAt"] >= application["createdAt"]
    expected = {
        "applicationId": created["applicationId"],
        "name": name,
        "arn": created["arn"],
        "releaseLabel": RELEASE,
        "type": "SPARK",
        "architecture": "X86_64",
        "initialCapacity": {
            "DRIVER": {
                "workerCount": 1,
                "workerConfiguration": {"cpu": "1 vCPU", "memory": "2 GB"},
            },
            "EXECUTOR": {
                "workerCount": 2,
                "workerConfiguration": {"cpu": "2 vCPU", "memory": "4 GB", "disk": "30 GB"},
            },
        },
        "maximumCapacity": {"cpu": "16 vCPU", "memory": "64 GB"},
        "autoStartConfiguration": {"enabled": True},
        "autoStopConfiguration": {"enabled": True, "idleTimeoutMinutes": 30},
        "schedulerConfiguration": {"maxConcurrentRuns": 5, "queueTimeoutMinutes": 60},
        "tags": {"team": "data"},
    }
    assert {key: application[key] for key in expected} == expected

    status, code, _ = aws_error(lambda: emr.get_application(applicationId="app-nosuch"))
    assert (status, code) == (404, "ResourceNotFoundException")


@pytest.mark.parametrize(
    ("fields", "named", "says"),
    [
        ({"type": "HIVE"}, "type:", "HIVE applications are not supported"),
        ({"releaseLabel": "emr-7.1.0"}, "releaseLabel:", RELEASE),
        ({"architecture": "ARM64"}, "architecture:", "only X86_64"),
        (
            {"networkConfiguration": {"subnetIds": ["s-1"]}},
            "networkConfiguration:",
            "not supported",
        ),
        ({"imageConfiguration": {"imageUri": "x"}}, "imageConfiguration:", "not supported"),
        ({"runtimeConfiguration": [{"classification": "spark-defaults"}]}, "runtime", "not supp"),
        (
            {"monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": "s3://b/"}}},
            "monitoringConfiguration:",
            "not supported",
        ),
        (
            {
                "initialCapacity": {
                    "EXECUTOR": {
                        "workerCount": 1,
                        "workerConfiguration": {"cpu": "2 vCPU", "memory": "4 TB"},
                    }
                }
            },
            "initialCapacity.EXECUTOR.workerConfiguration.memory:",
            "4 TB",
        ),
        (
            {"schedulerConfiguration": {"maxConcurrentRuns": 5000}},
            "schedulerConfiguration.maxConcurrentRuns:",
            "1000",
        ),
    ],
)
def test_create_refuses_what_is_not_supported_naming_the_field(
    emr: Any, fields: dict[str, Any], named: str, says: str
) -> None:
    request = {"name": unique("bad"), "releaseLabel": RELEASE, "type": "SPARK", **fields}
    status, code, message = aws_error(lambda: emr.create_application(**request))
    assert (status, code) == (400, "ValidationException")
    assert message.startswith(named) and says in message, message
    assert emr.list_applications()["applications"] == []  # nothing was created


def test_a_client_token_makes_create_idempotent(emr: Any) -> None:
    name = unique("once")
    first = emr.create_application(name=name, releaseLabel=RELEASE, type="SPARK", clientToken="t-1")
    again = emr.create_application(name=name, releaseLabel=RELEASE, type="SPARK", clientToken="t-1")
    assert again == {**first, "ResponseMetadata": again["ResponseMetadata"]}
    status, code, message = aws_error(
        lambda: emr.create_application(
            name=unique("other"), releaseLabel=RELEASE, type="SPARK", clientToken="t-1"
        )
    )
    assert (status, code) == (409, "ConflictException") and "t-1" in message
    # A new token is a new request: the name is then in use.
    status, code, _ = aws_error(
        lambda: emr.create_application(name=name, releaseLabel=RELEASE, type="SPARK")
    )
    assert (status, code) == (409, "ConflictException")
    assert len(emr.list_applications()["applications"]) == 1


def test_list_filters_by_state_and_pages(emr: Any) -> None:
    ids = [
        emr.create_application(name=unique("p"), releaseLabel=RELEASE, type="SPARK")[
            "applicationId"
        ]
        for _ in range(3)
    ]
    for application_id in ids:
        wait_for_state(emr, application_id, {"CREATED"})
    emr.delete_application(applicationId=ids[0])
    wait_for_state(emr, ids[0], {"TERMINATED"})

    seen, token, pages = [], None, 0
    while True:
        page = emr.list_applications(maxResults=1, **({"nextToken": token} if token else {}))
        assert len(page["applications"]) <= 1
        seen += [a["id"] for a in page["applications"]]
        pages += 1
        token = page.get("nextToken")
        if token is None:
            break
    assert sorted(seen) == sorted(ids) and pages >= 3
    paginated = emr.get_paginator("list_applications").paginate(PaginationConfig={"PageSize": 1})
    assert sorted(a["id"] for p in paginated for a in p["applications"]) == sorted(ids)

    created = emr.list_applications(states=["CREATED"])["applications"]
    assert sorted(a["id"] for a in created) == sorted(ids[1:])
    [terminated] = emr.list_applications(states=["TERMINATED"])["applications"]
    assert terminated["id"] == ids[0] and terminated["state"] == "TERMINATED"
    status, code, _ = aws_error(lambda: emr.list_applications(states=["RUNNING"]))
    assert (status, code) == (400, "ValidationException")


def test_update_stop_start_and_delete_follow_the_state_rules(
    control_plane: ControlPlane, admin: UserClient, new_user: NewUser
) -> None:
    user = new_user()
    studio = create_studio(admin)
    add_member(admin, studio["id"], user=user.name)
    pair = create_pair(user, studio["id"])
    emr = emr_serverless(control_plane, pair)
    application_id = emr.create_application(name=unique("u"), releaseLabel=RELEASE, type="SPARK")[
        "applicationId"
    ]
    wait_for_state(emr, application_id, {"CREATED"})
    updated = emr.update_application(
        applicationId=application_id,
        autoStopConfiguration={"enabled": False, "idleTimeoutMinutes": 60},
        maximumCapacity={"cpu": "8 vCPU", "memory": "32 GB"},
    )["application"]
    assert updated["autoStopConfiguration"] == {"enabled": False, "idleTimeoutMinutes": 60}
    assert updated["maximumCapacity"] == {"cpu": "8 vCPU", "memory": "32 GB"}
    got = emr.get_application(applicationId=application_id)["application"]
    assert got["autoStopConfiguration"] == updated["autoStopConfiguration"]

    status, code, message = aws_error(
        lambda: emr.update_application(
            applicationId=application_id, interactiveConfiguration={"livyEndpointEnabled": True}
        )
    )
    assert (status, code) == (400, "ValidationException")
    assert message.startswith("interactiveConfiguration: is not supported here")
    status, code, message = aws_error(
        lambda: emr.update_application(applicationId=application_id, releaseLabel="emr-7.1.0")
    )
    assert (status, code) == (400, "ValidationException") and "releaseLabel" in message

    raw = signed_request(
        control_plane, pair, "PATCH", f"/applications/{application_id}", b'{"tags": {"a": "1"}}'
    )
    assert (raw.status_code, raw.headers["x-amzn-ErrorType"]) == (400, "ValidationException")
    assert raw.json()["message"].startswith("tags: ")

    emr.stop_application(applicationId=application_id)  # nothing runs: nothing to do
    assert emr.get_application(applicationId=application_id)["application"]["state"] == "CREATED"

    emr.delete_application(applicationId=application_id)
    terminated = wait_for_state(emr, application_id, {"TERMINATED"})  # it stays visible
    assert terminated["stateDetails"]
    for call in (
        lambda: emr.update_application(
            applicationId=application_id, autoStartConfiguration={"enabled": False}
        ),
        lambda: emr.start_application(applicationId=application_id),
        lambda: emr.stop_application(applicationId=application_id),
        lambda: emr.delete_application(applicationId=application_id),
    ):
        status, code, message = aws_error(call)
        assert (status, code) == (409, "ConflictException") and "TERMINATED" in message
    for call in (
        lambda: emr.start_application(applicationId="app-nosuch"),
        lambda: emr.delete_application(applicationId="app-nosuch"),
    ):
        assert aws_error(call)[:2] == (404, "ResourceNotFoundException")


def test_tags_round_trip_and_foreign_arns_are_not_found(
    control_plane: ControlPlane, admin: UserClient, new_user: NewUser
) -> None:
    user = new_user()
    studio, other = create_studio(admin), create_studio(admin)
    for each in (studio, other):
        add_member(admin, each["id"], user=user.name)
    emr = emr_serverless(control_plane, create_pair(user, studio["id"]))
    emr_other = emr_serverless(control_plane, create_pair(user, other["id"]))
    arn = emr.create_application(
        name=unique("t"), releaseLabel=RELEASE, type="SPARK", tags={"a": "1"}
    )["arn"]

    emr.tag_resource(resourceArn=arn, tags={"b": "2", "a": "one"})
    assert emr.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "one", "b": "2"}
    emr.untag_resource(resourceArn=arn, tagKeys=["a", "absent"])
    assert emr.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    application_id = arn.rsplit("/", 1)[1]
    assert emr.get_application(applicationId=application_id)["application"]["tags"] == {"b": "2"}
    status, code, message = aws_error(lambda: emr.tag_resource(resourceArn=arn, tags={"b": "x!"}))
    assert (status, code) == (400, "ValidationException") and message.startswith("tags")

    # The same application seen from another studio (another account), or another region.
    for client, foreign in (
        (emr_other, arn),
        (emr, arn.replace(f":{REGION}:", ":eu-west-1:")),
    ):
        for call in (
            lambda c=client, a=foreign: c.list_tags_for_resource(resourceArn=a),
            lambda c=client, a=foreign: c.tag_resource(resourceArn=a, tags={"c": "3"}),
            lambda c=client, a=foreign: c.untag_resource(resourceArn=a, tagKeys=["b"]),
        ):
            assert aws_error(call)[:2] == (404, "ResourceNotFoundException")
    assert emr.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    missing = arn.replace(application_id, "app0000000000000000")
    assert aws_error(lambda: emr.list_tags_for_resource(resourceArn=missing))[:2] == (
        404,
        "ResourceNotFoundException",
    )
    not_an_application = "arn:aws:s3:::a-bucket-with-a-rather-long-name-for-the-arn-length"
    status, code, _ = aws_error(lambda: emr.list_tags_for_resource(resourceArn=not_an_application))
    assert (status, code) == (400, "ValidationException")
    expect(admin.get(f"/studios/{other['id']}"), 200)
