"""AWS access key pairs and the SigV4-authenticated ``/aws/emr-serverless`` endpoint.

Pairs are created through the API and used by an unmodified boto3 ``emr-serverless``
client pointed at the running control plane, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import botocore
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from sqlalchemy import select, update

from sparkstudio.aws.sigv4 import MISMATCH_MESSAGE
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import ApiToken, AuditRecord
from sparkstudio.db.session import Database
from sparkstudio.server import ControlPlane
from sparkstudio.services.audit import last_record_id
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
)

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both

REGION = "us-east-1"
ACCESS_KEY_ID = re.compile(r"SSAK[A-Z2-7]{16}")
SECRET_ACCESS_KEY = re.compile(r"[A-Za-z0-9+/]{40}")


def create_pair(user: UserClient, studio: str, **fields: Any) -> dict[str, Any]:
    body = {"name": unique("aws"), "aws": True, "studio": studio, **fields}
    created: dict[str, Any] = expect(user.post("/tokens", json=body), 201)
    return created


def emr_serverless(
    plane: ControlPlane, pair: dict[str, Any], *, secret: str | None = None, unsigned: bool = False
) -> Any:
    config = Config(
        retries={"total_max_attempts": 1},
        signature_version=botocore.UNSIGNED if unsigned else None,
    )
    return boto3.client(
        "emr-serverless",
        endpoint_url=f"{plane.url}/aws/emr-serverless",
        region_name=REGION,
        aws_access_key_id=pair["access_key_id"],
        aws_secret_access_key=secret or pair["secret_access_key"],
        config=config,
    )


def aws_error(call: Callable[[], Any]) -> tuple[int, str, str]:
    """The HTTP status, AWS error code and message of a call that must fail."""
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    status = int(response["ResponseMetadata"]["HTTPStatusCode"])
    return status, str(response["Error"]["Code"]), str(response["Error"]["Message"])


def signed_request(
    plane: ControlPlane, pair: dict[str, Any], method: str, path: str, body: bytes = b""
) -> httpx.Response:
    """A request botocore signs for emr-serverless, to any path under the endpoint."""
    url = f"{plane.url}/aws/emr-serverless{path}"
    request = AWSRequest(method=method, url=url, data=body)
    credentials = Credentials(pair["access_key_id"], pair["secret_access_key"])
    SigV4Auth(credentials, "emr-serverless", REGION).add_auth(request)
    return httpx.request(method, url, headers=dict(request.headers.items()), content=body)


@pytest.fixture
def member(admin: UserClient, new_user: NewUser) -> tuple[UserClient, dict[str, Any]]:
    """A user and a fresh studio they are a developer of."""
    user = new_user()
    studio = create_studio(admin)
    add_member(admin, studio["id"], user=user.name)
    return user, studio


# --- key pairs --------------------------------------------------------------------------


def test_a_pair_is_shown_once_and_its_secret_is_kept_only_encrypted(
    member: tuple[UserClient, dict[str, Any]], database: Database
) -> None:
    user, studio = member
    pair = create_pair(user, studio["name"], expires_in_days=30)  # by name or by id
    assert ACCESS_KEY_ID.fullmatch(pair["access_key_id"])
    assert SECRET_ACCESS_KEY.fullmatch(pair["secret_access_key"])
    assert (pair["kind"], pair["studio_id"]) == ("AWS_KEY", studio["id"])
    assert "token" not in pair

    listing = user.get("/tokens")
    [listed] = expect(listing, 200)["items"]
    assert (listed["id"], listed["access_key_id"]) == (pair["id"], pair["access_key_id"])
    assert "secret_access_key" not in listed
    assert pair["secret_access_key"] not in listing.text

    with database.session(write=False) as db:
        row = db.get(ApiToken, pair["id"])
        assert row is not None
        stored = [str(getattr(row, c.name)) for c in ApiToken.__table__.columns]
    assert row.secret_encrypted and row.secret_hash == ""
    assert not any(pair["secret_access_key"] in value for value in stored)


def test_a_pair_needs_a_studio_the_user_belongs_to(
    admin: UserClient, member: tuple[UserClient, dict[str, Any]]
) -> None:
    user, studio = member
    other = create_studio(admin)
    for ref in (other["id"], other["name"], "no-such-studio"):
        body = {"name": "k", "aws": True, "studio": ref}
        expect_error(user.post("/tokens", json=body), 404, "NotFound")
    error = expect_error(user.post("/tokens", json={"name": "k", "aws": True}), 422)
    assert field_names(error) == ["studio"]
    error = expect_error(user.post("/tokens", json={"name": "k", "studio": studio["id"]}), 422)
    assert field_names(error) == ["studio"]
    error = expect_error(
        user.post("/tokens", json={"name": "k", "aws": True, "studio": studio["id"], "x": 1}), 422
    )
    assert field_names(error) == ["x"]


def test_a_pairs_secret_is_no_bearer_token(
    member: tuple[UserClient, dict[str, Any]], anon: httpx.Client
) -> None:
    user, studio = member
    pair = create_pair(user, studio["id"])
    for value in (f"sst.{pair['id']}.{pair['secret_access_key']}", pair["secret_access_key"]):
        response = anon.get("/me", headers={"Authorization": f"Bearer {value}"})
        expect_error(response, 401, "Unauthenticated")


# --- the endpoint, through boto3 --------------------------------------------------------


def test_boto3_lists_the_applications_of_the_pairs_studio(
    control_plane: ControlPlane,
    admin: UserClient,
    member: tuple[UserClient, dict[str, Any]],
    database: Database,
) -> None:
    user, studio = member
    pair = create_pair(user, studio["id"])
    client = emr_serverless(control_plane, pair)
    assert client.list_applications()["applications"] == []

    app_body = {"name": unique("app"), "release_label": "spark-4.3"}
    created = expect(admin.post(f"/studios/{studio['id']}/applications", json=app_body), 201)
    other = create_studio(admin)
    add_member(admin, other["id"], user=user.name)
    expect(admin.post(f"/studios/{other['id']}/applications", json=app_body), 201)

    [summary] = client.list_applications()["applications"]  # its own studio's only
    assert (summary["id"], summary["name"]) == (created["id"], app_body["name"])
    assert summary["releaseLabel"] == "spark-4.3" and summary["type"] == "SPARK"
    assert summary["arn"].startswith("arn:aws:emr-serverless:us-east-1:")
    assert summary["arn"].endswith(f":/applications/{created['id']}")
    assert summary["state"] in {"CREATING", "CREATED"}
    wanted = client.list_applications(states=["TERMINATED"])
    assert wanted["applications"] == []

    used = expect(user.get("/tokens"), 200)["items"][0]
    assert used["last_used_at"] is not None


def test_a_query_that_fails_validation_is_a_validation_exception(
    control_plane: ControlPlane, member: tuple[UserClient, dict[str, Any]]
) -> None:
    user, studio = member
    pair = create_pair(user, studio["id"])
    response = signed_request(control_plane, pair, "GET", "/applications?maxResults=500")
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "ValidationException"
    assert response.json()["message"].startswith("maxResults: ")
    assert set(response.json()) == {"message"}
    # The signature is checked first: unsigned, the same request learns nothing.
    unsigned = httpx.get(f"{control_plane.url}/aws/emr-serverless/applications?maxResults=500")
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_an_operation_not_served_is_an_unknown_operation_once_signed(
    control_plane: ControlPlane, member: tuple[UserClient, dict[str, Any]]
) -> None:
    user, studio = member
    pair = create_pair(user, studio["id"])
    client = emr_serverless(control_plane, pair)
    status, code, message = aws_error(
        lambda: client.get_session(applicationId="app0", sessionId="s0")
    )
    assert (status, code) == (404, "UnknownOperationException")
    assert "GetSession" in message
    response = signed_request(control_plane, pair, "POST", "/no/such/thing", b"{}")
    assert response.status_code == 404
    assert response.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    # Unsigned, the same request learns nothing about operations.
    response = httpx.post(f"{control_plane.url}/aws/emr-serverless/no/such/thing")
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_signatures_are_refused_as_aws_refuses_them(
    control_plane: ControlPlane,
    admin: UserClient,
    member: tuple[UserClient, dict[str, Any]],
    database: Database,
) -> None:
    user, studio = member
    pair = create_pair(user, studio["id"])
    wrong = emr_serverless(control_plane, pair, secret="x" * 40)
    assert aws_error(wrong.list_applications) == (
        403,
        "InvalidSignatureException",
        MISMATCH_MESSAGE,
    )
    unsigned = emr_serverless(control_plane, pair, unsigned=True)
    assert aws_error(unsigned.list_applications) == (
        403,
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )
    unknown = {**pair, "access_key_id": "SSAK" + "A" * 16}
    unrecognized = (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    assert aws_error(emr_serverless(control_plane, unknown).list_applications) == unrecognized

    expired = create_pair(user, studio["id"])
    with database.transaction() as db:
        db.execute(
            update(ApiToken)
            .where(ApiToken.id == expired["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert aws_error(emr_serverless(control_plane, expired).list_applications) == unrecognized

    revoked = create_pair(user, studio["id"])
    expect(user.delete(f"/tokens/{revoked['id']}"), 204)
    assert aws_error(emr_serverless(control_plane, revoked).list_applications) == unrecognized

    emr_serverless(control_plane, pair).list_applications()  # still fine
    expect(admin.patch(f"/users/{user.user_id}", json={"disabled": True}), 200)
    assert aws_error(emr_serverless(control_plane, pair).list_applications) == unrecognized


def test_a_pair_whose_user_left_the_studio_is_denied(
    control_plane: ControlPlane, admin: UserClient, new_user: NewUser
) -> None:
    user = new_user()
    studio = create_studio(admin)
    membership = add_member(admin, studio["id"], user=user.name)
    pair = create_pair(user, studio["id"])
    client = emr_serverless(control_plane, pair)
    client.list_applications()
    expect(admin.delete(f"/studios/{studio['id']}/members/{membership['id']}"), 204)
    status, code, message = aws_error(client.list_applications)
    assert (status, code) == (403, "AccessDeniedException")
    assert "application:List" in message and user.name in message

    expect(admin.delete(f"/studios/{studio['id']}"), 204)  # its pairs go with it
    assert aws_error(client.list_applications)[1] == "UnrecognizedClientException"
    assert expect(user.get("/tokens"), 200)["items"] == []


def test_requests_to_the_endpoint_are_audited(
    control_plane: ControlPlane, member: tuple[UserClient, dict[str, Any]], database: Database
) -> None:
    user, studio = member
    pair = create_pair(user, studio["id"])
    with database.session(write=False) as db:
        before = last_record_id(db)
    wrong = emr_serverless(control_plane, pair, secret="x" * 40)
    aws_error(wrong.list_applications)
    signed_request(control_plane, pair, "POST", "/no/such/thing", b"{}")
    emr_serverless(control_plane, pair).list_applications()  # a read: not recorded

    with database.session(write=False) as db:
        records = db.scalars(
            select(AuditRecord)
            .where(AuditRecord.id > before, AuditRecord.path.like("/aws/%"))
            .order_by(AuditRecord.id)
        ).all()
    denied, failed = [r for r in records if r.actor_name in (user.name, pair["access_key_id"])]
    assert (denied.outcome, denied.status_code, denied.actor_id) == ("DENIED", 403, None)
    assert denied.actor_name == pair["access_key_id"]
    assert denied.path == "/aws/emr-serverless/applications"
    assert denied.message == MISMATCH_MESSAGE
    assert (failed.outcome, failed.status_code) == ("FAILED", 404)
    assert (failed.actor_id, failed.actor_name, failed.studio_id) == (
        user.user_id,
        user.name,
        studio["id"],
    )
    for record in records:
        row = " ".join(str(getattr(record, c.name)) for c in AuditRecord.__table__.columns)
        assert pair["secret_access_key"] not in row
