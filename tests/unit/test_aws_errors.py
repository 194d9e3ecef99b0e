"""The project's errors in AWS's terms, as botocore's rest-json parser reads them."""

from __future__ import annotations

import json
import logging

import pytest
from botocore.parsers import create_parser
from fastapi.exceptions import RequestValidationError

from sparkstudio.aws.errors import INTERNAL_MESSAGE, as_aws_error
from sparkstudio.aws.sigv4 import SignatureError, error_response
from sparkstudio.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    StudioError,
    TooManyRequests,
    Unavailable,
)


def parsed(error: Exception) -> tuple[int, str, str]:
    """The status, code and message a boto3 client sees for ``error``."""
    response = error_response(as_aws_error(error))
    body = json.loads(response.body)
    assert set(body) == {"message"}
    answer = create_parser("rest-json").parse(
        {
            "status_code": response.status_code,
            "headers": dict(response.headers),
            "body": response.body,
        },
        None,
    )
    return response.status_code, answer["Error"]["Code"], answer["Error"]["Message"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFound("no application app-1"), 404, "ResourceNotFoundException"),
        (Invalid.field("name", "is required"), 400, "ValidationException"),
        (BadRequest("body is not JSON"), 400, "ValidationException"),
        (Conflict("already exists"), 409, "ConflictException"),
        (Conflict("over quota", reason="QuotaExceeded"), 402, "ServiceQuotaExceededException"),
        (Forbidden("not allowed"), 403, "AccessDeniedException"),
        (TooManyRequests("slow down", retry_after=1), 429, "ThrottlingException"),
        (Unavailable("no Java on this host"), 503, "ServiceUnavailableException"),
        (StudioError("a safe message"), 500, "InternalServerException"),
    ],
)
def test_public_errors_map_to_aws_codes_and_statuses(
    error: StudioError, status: int, code: str
) -> None:
    assert parsed(error) == (status, code, error.message)


def test_signature_errors_keep_their_own_code() -> None:
    error = SignatureError(
        "Missing Authentication Token", reason="MissingAuthenticationTokenException"
    )
    assert parsed(error) == (403, "MissingAuthenticationTokenException", error.message)


def test_a_validation_error_names_each_field_as_aws_does() -> None:
    error = RequestValidationError(
        [
            {
                "loc": ("query", "maxResults"),
                "msg": "Input should be less than or equal to 50",
                "type": "less_than_equal",
            },
            {"loc": ("body", "name"), "msg": "Field required", "type": "missing"},
        ]
    )
    status, code, message = parsed(error)
    assert (status, code) == (400, "ValidationException")
    assert message == "maxResults: Input should be less than or equal to 50; name: is required"


def test_an_unexpected_error_is_logged_and_answered_without_its_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="sparkstudio.aws"):
        answer = parsed(RuntimeError("connection string postgresql://user:pw@db"))
    assert answer == (500, "InternalServerException", INTERNAL_MESSAGE)
    assert "RuntimeError" in caplog.text
