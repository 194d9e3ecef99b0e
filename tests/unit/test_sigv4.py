"""SigV4 verification, driven by botocore's own signer and by a real boto3 client.

Requests are signed with ``botocore.auth.SigV4Auth`` at a fixed time and checked against
a clock the tests set; the end-to-end tests point an unmodified boto3 ``emr-serverless``
client (with a path prefix in ``endpoint_url``) at a tiny app served by uvicorn.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore
import pytest
import uvicorn
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sparkstudio.aws import sigv4
from sparkstudio.aws.sigv4 import SignatureError, SignedRequest, Verified

AKID = "SSAKTESTKEY0000001"
SECRET = "k3y/s3cret+of=a-studio-user"
OTHER_AKID = "SSAKTESTKEY0000002"
KEYS = {AKID: SECRET, OTHER_AKID: "another-secret"}
SERVICE = "emr-serverless"
REGION = "eu-west-1"
SIGNED_AT = datetime(2026, 3, 14, 23, 55, 30, tzinfo=UTC)
HOST = "127.0.0.1:8765"
BASE = f"http://{HOST}/aws/emr-serverless"
ARN = "arn:aws:emr-serverless:eu-west-1:123456789012:/applications/00f1a2b3c4d5e6f7"
ENCODED_ARN = (  # as boto3 puts it in a path: nothing kept, ':' and '/' escaped
    "arn%3Aaws%3Aemr-serverless%3Aeu-west-1%3A123456789012%3A%2Fapplications%2F00f1a2b3c4d5e6f7"
)


# -- signing with botocore, receiving as a server does -----------------------------------


def sign(
    request: AWSRequest,
    *,
    at: datetime = SIGNED_AT,
    key: str = AKID,
    secret: str = SECRET,
    service: str = SERVICE,
    signer: type[SigV4Auth] = SigV4Auth,
) -> AWSRequest:
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        signer(Credentials(key, secret), service, REGION).add_auth(request)
    return request


def signed(
    method: str, url: str, *, body: bytes = b"", headers: dict[str, str] | None = None
) -> AWSRequest:
    return sign(AWSRequest(method=method, url=url, data=body, headers=headers))


def received(request: AWSRequest) -> SignedRequest:
    """The request as it reaches the server: the URL's path and query as sent, a Host header."""
    parts = urlsplit(request.url)
    headers = [(b"host", parts.netloc.encode())] + [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in request.headers.items()
    ]
    body = request.data or b""
    return SignedRequest(
        method=request.method,
        raw_path=parts.path.encode(),
        query_string=parts.query.encode(),
        headers=headers,
        body=body if isinstance(body, bytes) else body.encode(),
    )


def with_header(request: SignedRequest, name: str, value: str | None) -> SignedRequest:
    """``request`` with header ``name`` replaced (or removed when ``value`` is None)."""
    headers = [(k, v) for k, v in request.headers if k != name.encode()]
    if value is not None:
        headers.append((name.encode(), value.encode("latin-1")))
    return replace(request, headers=headers)


def verify(request: SignedRequest, *, now: datetime = SIGNED_AT) -> Verified:
    return sigv4.verify(request, service=SERVICE, lookup_secret=KEYS.get, now=lambda: now)


def refusal(request: SignedRequest, *, now: datetime = SIGNED_AT) -> SignatureError:
    with pytest.raises(SignatureError) as raised:
        verify(request, now=now)
    return raised.value


def authorization_with(request: SignedRequest, old: str, new: str) -> SignedRequest:
    value = request.header("authorization")
    assert value is not None and old in value
    return with_header(request, "authorization", value.replace(old, new))


# -- the canonical request: AWS's published examples ---------------------------------------

EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("query", "extra_headers", "service", "signature"),
    [
        # SigV4 test suite, get-vanilla.
        ("", [], "service", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        # The IAM ListUsers example of the SigV4 documentation.
        (
            "Action=ListUsers&Version=2010-05-08",
            [("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
            "iam",
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        ),
    ],
)
def test_published_examples_verify(
    query: str, extra_headers: list[tuple[str, str]], service: str, signature: str
) -> None:
    host = "iam.amazonaws.com" if service == "iam" else "example.amazonaws.com"
    names = sorted(["host", "x-amz-date", *(name for name, _ in extra_headers)])
    authorization = (
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/{service}/aws4_request, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    headers = [("host", host), ("x-amz-date", "20150830T123600Z"), *extra_headers]
    request = SignedRequest(
        method="GET",
        raw_path=b"/",
        query_string=query.encode(),
        headers=[(k.encode(), v.encode()) for k, v in [*headers, ("authorization", authorization)]],
        body=b"",
    )
    verified = sigv4.verify(
        request,
        service=service,
        lookup_secret={"AKIDEXAMPLE": EXAMPLE_SECRET}.get,
        now=lambda: datetime(2015, 8, 30, 12, 40, tzinfo=UTC),
    )
    assert verified == Verified("AKIDEXAMPLE", "us-east-1", service)


# -- accepted -------------------------------------------------------------------------------


def test_get_with_a_query_needing_encoding_verifies_and_names_the_signer() -> None:
    query = "states=CREATED&states=STARTED&nextToken=a%2Fb%2Bc%3D%3D&maxResults=5"
    url = f"{BASE}/applications?{query}"
    assert verify(received(signed("GET", url))) == Verified(AKID, REGION, SERVICE)


def test_the_query_is_compared_decoded_so_the_clients_escapes_do_not_matter() -> None:
    request = received(signed("GET", f"{BASE}/applications?nextToken=a%2Fb%20c"))
    # The same parameters, escaped otherwise on the wire (lowercase hex, '/' left as is).
    assert verify(replace(request, query_string=b"nextToken=a/b%20c")).access_key_id == AKID
    # A different value is a different request.
    assert refusal(replace(request, query_string=b"nextToken=a/b+c")).message == (
        sigv4.MISMATCH_MESSAGE
    )


def test_post_with_a_json_body_verifies() -> None:
    body = json.dumps({"name": "etl", "releaseLabel": "emr-7.1.0", "type": "SPARK"}).encode()
    request = signed(
        "POST", f"{BASE}/applications", body=body, headers={"Content-Type": "application/json"}
    )
    assert verify(received(request)).region == REGION


def test_a_percent_encoded_path_is_verified_as_sent_on_the_wire() -> None:
    request = received(signed("POST", f"{BASE}/tags/{ENCODED_ARN}", body=b'{"tags":{"a":"b"}}'))
    assert verify(request).service == SERVICE
    # The decoded path is another canonical path: verifying it would refuse every ARN.
    decoded = replace(request, raw_path=f"/aws/emr-serverless/tags/{ARN}".encode())
    assert refusal(decoded).reason == sigv4.INVALID_SIGNATURE


def test_a_path_prefix_is_part_of_what_is_signed() -> None:
    request = received(signed("GET", f"{BASE}/applications"))
    assert verify(request).access_key_id == AKID
    assert refusal(replace(request, raw_path=b"/applications")).message == sigv4.MISMATCH_MESSAGE


def test_headers_added_after_signing_are_ignored_and_repeated_ones_keep_all_values() -> None:
    aws_request = AWSRequest(method="GET", url=f"{BASE}/applications")
    aws_request.headers["X-Trace"] = "one"
    aws_request.headers["X-Trace"] = "two"  # a second value, not a replacement
    request = received(sign(aws_request))
    assert "x-trace" in str(request.header("authorization"))
    proxied = replace(request, headers=[*request.headers, (b"x-forwarded-for", b"10.0.0.9")])
    assert verify(proxied).access_key_id == AKID
    one_value = [(k, v) for k, v in request.headers if v != b"two"]
    assert refusal(replace(request, headers=one_value)).message == sigv4.MISMATCH_MESSAGE


def test_a_date_up_to_15_minutes_either_side_is_accepted() -> None:
    request = received(signed("GET", f"{BASE}/applications"))
    assert verify(request, now=SIGNED_AT + timedelta(minutes=15)).access_key_id == AKID
    assert verify(request, now=SIGNED_AT - timedelta(minutes=15)).access_key_id == AKID


# -- refused --------------------------------------------------------------------------------


def test_missing_authorization_is_a_missing_authentication_token() -> None:
    request = with_header(received(signed("GET", f"{BASE}/applications")), "authorization", None)
    error = refusal(request)
    assert (error.status, error.code, error.message) == (
        403,
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )


def test_an_unknown_access_key_is_an_unrecognized_client() -> None:
    request = received(sign(AWSRequest("GET", f"{BASE}/applications"), key="SSAKUNKNOWN"))
    error = refusal(request)
    assert (error.status, error.code, error.message) == (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


def test_a_wrong_secret_is_an_invalid_signature() -> None:
    error = refusal(received(sign(AWSRequest("GET", f"{BASE}/applications"), secret="guess")))
    assert (error.status, error.code) == (403, "InvalidSignatureException")
    assert error.message.startswith("The request signature we calculated does not match")


def test_a_body_changed_after_signing_is_refused() -> None:
    request = received(signed("POST", f"{BASE}/applications", body=b'{"name":"etl"}'))
    error = refusal(replace(request, body=b'{"name":"etl2"}'))
    assert (error.code, error.message) == ("InvalidSignatureException", sigv4.MISMATCH_MESSAGE)


def test_a_signed_header_changed_after_signing_is_refused() -> None:
    request = received(
        signed("POST", f"{BASE}/applications", body=b"{}", headers={"Content-Type": "text/plain"})
    )
    assert "content-type" in str(request.header("authorization"))
    error = refusal(with_header(request, "content-type", "application/json"))
    assert error.code == "InvalidSignatureException"
    assert refusal(with_header(request, "host", "evil.example:80")).message == (
        sigv4.MISMATCH_MESSAGE
    )


def test_a_date_16_minutes_old_is_expired_and_16_minutes_ahead_is_not_yet_current() -> None:
    request = received(signed("GET", f"{BASE}/applications"))
    expired = refusal(request, now=SIGNED_AT + timedelta(minutes=16))
    assert (expired.status, expired.code, expired.message) == (
        403,
        "InvalidSignatureException",
        "Signature expired: 20260314T235530Z is now earlier than 20260314T235630Z "
        "(20260315T001130Z - 15 min.)",
    )
    early = refusal(request, now=SIGNED_AT - timedelta(minutes=16))
    assert early.code == "InvalidSignatureException"
    assert early.message == (
        "Signature not yet current: 20260314T235530Z is still later than 20260314T235430Z "
        "(20260314T233930Z + 15 min.)"
    )


class _WithoutHost(SigV4Auth):
    """A client that signs correctly but leaves ``host`` (or ``x-amz-date``) unsigned."""

    dropped = "host"

    def headers_to_sign(self, request: AWSRequest) -> Any:
        headers = super().headers_to_sign(request)
        del headers[self.dropped]
        return headers


class _WithoutDate(_WithoutHost):
    dropped = "x-amz-date"


@pytest.mark.parametrize(
    ("signer", "message"),
    [
        (_WithoutHost, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."),
        (_WithoutDate, "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."),
    ],
)
def test_an_unsigned_host_or_date_is_refused_even_with_a_right_signature(
    signer: type[SigV4Auth], message: str
) -> None:
    request = received(sign(AWSRequest("GET", f"{BASE}/applications"), signer=signer))
    error = refusal(request)
    assert (error.status, error.code, error.message) == (
        403,
        "IncompleteSignatureException",
        message,
    )


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (
            "AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host;x-amz-date",
            "Authorization header requires 'Signature' parameter.",
        ),
        (
            "Bearer sst.tok-123",
            "Authorization header requires 'Credential' parameter. Authorization header requires "
            "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential={cred} SignedHeaders, Signature=00",
            "'SignedHeaders' not a valid key=value pair (missing equal-sign) in Authorization "
            "header.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=SSAK/20260314/eu-west-1/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=00",
            "Credential must have exactly 5 slash-delimited elements, "
            "e.g. keyid/date/region/service/term, got 'SSAK/20260314/eu-west-1/aws4_request'",
        ),
        (
            "AWS4-HMAC-SHA512 Credential={cred}, SignedHeaders=host;x-amz-date, Signature=00",
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'",
        ),
    ],
)
def test_a_malformed_authorization_is_an_incomplete_signature(
    authorization: str, message: str
) -> None:
    cred = f"{AKID}/20260314/{REGION}/{SERVICE}/aws4_request"
    request = received(signed("GET", f"{BASE}/applications"))
    error = refusal(with_header(request, "authorization", authorization.format(cred=cred)))
    assert (error.status, error.code, error.message) == (
        403,
        "IncompleteSignatureException",
        message,
    )


def test_a_missing_or_malformed_x_amz_date_is_an_incomplete_signature() -> None:
    request = received(signed("GET", f"{BASE}/applications"))
    missing = refusal(with_header(request, "x-amz-date", None))
    assert missing.code == "IncompleteSignatureException"
    assert "requires existence of either a 'X-Amz-Date' or a 'Date' header" in missing.message
    malformed = refusal(with_header(request, "x-amz-date", "2026-03-14T23:55:30Z"))
    assert malformed.code == "IncompleteSignatureException"
    assert malformed.message.startswith(
        "Date must be in ISO-8601 'basic format'. Got '2026-03-14T23:55:30Z'."
    )


def test_the_credential_scope_must_name_the_service_and_the_request_date() -> None:
    request = received(signed("GET", f"{BASE}/applications"))
    other_service = received(sign(AWSRequest("GET", f"{BASE}/applications"), service="s3"))
    error = refusal(other_service)
    assert (error.code, error.message) == (
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'emr-serverless'.",
    )
    other_day = refusal(authorization_with(request, "/20260314/", "/20260315/"))
    assert other_day.code == "InvalidSignatureException"
    assert other_day.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '20260315' != '20260314', from '20260314T235530Z'."
    )
    terminator = refusal(authorization_with(request, "/aws4_request", "/aws5_request"))
    assert "valid terminator: 'aws4_request'" in terminator.message


def _signed_with_content_sha256(value: str, body: bytes) -> SignedRequest:
    return received(
        signed("POST", f"{BASE}/applications", body=body, headers={"X-Amz-Content-SHA256": value})
    )


def test_x_amz_content_sha256_must_be_the_hash_of_the_body() -> None:
    body = b'{"name":"etl"}'
    real = hashlib.sha256(body).hexdigest()
    assert verify(_signed_with_content_sha256(real, body)).access_key_id == AKID
    # This JSON API signs its payload: an unsigned one is not accepted ...
    unsigned = refusal(_signed_with_content_sha256("UNSIGNED-PAYLOAD", body))
    assert (unsigned.code, unsigned.message) == (
        "InvalidSignatureException",
        sigv4.MISMATCH_MESSAGE,
    )
    # ... nor a hash (even an unsigned header) that is not the body's.
    other = hashlib.sha256(b"{}").hexdigest()
    assert refusal(_signed_with_content_sha256(other, body)).code == "InvalidSignatureException"
    plain = received(signed("POST", f"{BASE}/applications", body=body))
    assert refusal(with_header(plain, "x-amz-content-sha256", other)).message == (
        sigv4.MISMATCH_MESSAGE
    )


def test_from_scope_takes_the_path_as_sent() -> None:
    scope = {
        "method": "GET",
        "path": f"/aws/emr-serverless/tags/{ARN}",
        "raw_path": f"/aws/emr-serverless/tags/{ENCODED_ARN}".encode(),
        "query_string": b"a=1",
        "headers": [(b"host", HOST.encode())],
    }
    request = SignedRequest.from_scope(scope, b"{}")
    assert (request.raw_path, request.query_string, request.body) == (
        scope["raw_path"],
        b"a=1",
        b"{}",
    )
    assert request.header("Host") == HOST
    without_raw_path = {**scope, "raw_path": None, "path": "/aws/emr-serverless/applications"}
    assert SignedRequest.from_scope(without_raw_path, b"").raw_path == (
        b"/aws/emr-serverless/applications"
    )


# -- the error as boto3 reads it ------------------------------------------------------------


def test_error_response_is_read_by_botocores_rest_json_parser() -> None:
    error = SignatureError(
        "Missing Authentication Token", reason="MissingAuthenticationTokenException"
    )
    response = sigv4.error_response(error)
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.body) == {"message": "Missing Authentication Token"}
    parsed = create_parser("rest-json").parse(
        {"status_code": 403, "headers": dict(response.headers), "body": response.body},
        None,
    )
    assert parsed["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert parsed["Error"]["Message"] == "Missing Authentication Token"
    assert parsed["ResponseMetadata"]["RequestId"] == response.headers["x-amzn-requestid"]


# -- end to end: an unmodified boto3 client over HTTP ---------------------------------------


@dataclass
class Seen:
    method: str
    raw_path: bytes
    query_string: bytes
    body: bytes
    verified: Verified


@dataclass
class Served:
    url: str
    clock_offset: timedelta = timedelta(0)
    seen: list[Seen] = field(default_factory=list)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset


def tiny_app(served: Served) -> Starlette:
    async def handle(request: Request) -> Response:
        body = await request.body()
        try:
            verified = sigv4.verify(
                SignedRequest.from_scope(request.scope, body),
                service=SERVICE,
                lookup_secret=KEYS.get,
                now=served.now,
            )
        except SignatureError as error:
            return sigv4.error_response(error)
        raw_path = request.scope["raw_path"]
        served.seen.append(
            Seen(request.method, raw_path, request.scope["query_string"], body, verified)
        )
        if raw_path.endswith(b"/applications") and request.method == "GET":
            return JSONResponse({"applications": []})
        if raw_path.endswith(b"/applications"):
            name = json.loads(body)["name"]
            return JSONResponse({"applicationId": "00f1", "name": name, "arn": ARN})
        return JSONResponse({})

    return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST", "DELETE"])])


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    served = Served(url="")
    config = uvicorn.Config(
        tiny_app(served), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uvicorn_server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = uvicorn_server.servers[0].sockets[0].getsockname()[1]
    served.url = f"http://127.0.0.1:{port}"
    yield served
    uvicorn_server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def served(server: Served) -> Iterator[Served]:
    server.seen.clear()
    server.clock_offset = timedelta(0)
    yield server
    server.clock_offset = timedelta(0)


def emr_serverless(
    served: Served, *, key: str = AKID, secret: str = SECRET, unsigned: bool = False
) -> Any:
    config = Config(
        retries={"total_max_attempts": 1},
        signature_version=botocore.UNSIGNED if unsigned else None,
    )
    return boto3.client(
        "emr-serverless",
        endpoint_url=f"{served.url}/aws/emr-serverless",
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=config,
    )


def client_error(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call()
    response: dict[str, Any] = raised.value.response
    return response


def test_boto3_list_applications_with_a_query_and_a_path_prefix(served: Served) -> None:
    client = emr_serverless(served)
    answer = client.list_applications(states=["CREATED", "STARTED"], nextToken="a/b+c==")
    assert answer["applications"] == []
    [seen] = served.seen
    assert seen.raw_path == b"/aws/emr-serverless/applications"
    assert b"states=CREATED&states=STARTED" in seen.query_string
    assert b"nextToken=a%2Fb%2Bc%3D%3D" in seen.query_string
    assert seen.verified == Verified(AKID, REGION, SERVICE)


def test_boto3_post_with_a_json_body(served: Served) -> None:
    client = emr_serverless(served)
    answer = client.create_application(name="etl", releaseLabel="emr-7.1.0", type="SPARK")
    assert answer["applicationId"] == "00f1"
    [seen] = served.seen
    assert seen.method == "POST"
    assert json.loads(seen.body)["releaseLabel"] == "emr-7.1.0"


def test_boto3_tag_resource_with_an_arn_in_the_path(served: Served) -> None:
    client = emr_serverless(served)
    client.tag_resource(resourceArn=ARN, tags={"team": "data"})
    [seen] = served.seen
    assert seen.raw_path == f"/aws/emr-serverless/tags/{ENCODED_ARN}".encode()
    assert json.loads(seen.body) == {"tags": {"team": "data"}}


def test_boto3_wrong_secret_raises_invalid_signature(served: Served) -> None:
    response = client_error(emr_serverless(served, secret="not-the-secret").list_applications)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "InvalidSignatureException"
    assert response["Error"]["Message"] == sigv4.MISMATCH_MESSAGE
    assert served.seen == []


def test_boto3_unknown_key_raises_unrecognized_client(served: Served) -> None:
    response = client_error(emr_serverless(served, key="SSAKNOBODY").list_applications)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "UnrecognizedClientException"
    assert response["Error"]["Message"] == "The security token included in the request is invalid."


def test_boto3_unsigned_request_raises_missing_authentication_token(served: Served) -> None:
    response = client_error(emr_serverless(served, unsigned=True).list_applications)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert response["Error"]["Message"] == "Missing Authentication Token"


def test_boto3_request_signed_16_minutes_ago_is_expired(served: Served) -> None:
    served.clock_offset = timedelta(minutes=16)  # the client's clock is 16 minutes behind
    response = client_error(emr_serverless(served).list_applications)
    assert response["Error"]["Code"] == "InvalidSignatureException"
    message = response["Error"]["Message"]
    assert message.startswith("Signature expired: ")
    assert " is now earlier than " in message and message.endswith(" - 15 min.)")
