"""Every error under an AWS adapter, answered the way AWS REST-JSON services answer.

The project's one public error type maps onto AWS's error codes and statuses (the
codes EMR Serverless declares, and AWS's common ones), and is rendered by
:func:`sparkstudio.aws.sigv4.error_response`: ``{"message"}`` with the code in the
``x-amzn-ErrorType`` header, where botocore's rest-json parser reads it first.

Routes of an adapter use :class:`AwsRoute`, so that errors raised anywhere in them
(authentication, validation of the request, the operation, a bug) never reach the
native API's ``{"message", "reason"}`` handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from sparkstudio.api.errors import validation_fields
from sparkstudio.aws.sigv4 import UNRECOGNIZED_CLIENT, SignatureError, error_response
from sparkstudio.errors import StudioError

log = logging.getLogger("sparkstudio.aws")

VALIDATION: Final = "ValidationException"
RESOURCE_NOT_FOUND: Final = "ResourceNotFoundException"
CONFLICT: Final = "ConflictException"
ACCESS_DENIED: Final = "AccessDeniedException"
SERVICE_QUOTA_EXCEEDED: Final = "ServiceQuotaExceededException"
THROTTLING: Final = "ThrottlingException"
SERVICE_UNAVAILABLE: Final = "ServiceUnavailableException"
INTERNAL_SERVER: Final = "InternalServerException"
UNKNOWN_OPERATION: Final = "UnknownOperationException"

INTERNAL_MESSAGE: Final = "internal error; the server log has the details"
QUOTA_REASON: Final = "QuotaExceeded"

# A native status → the AWS status and code. EMR Serverless answers 402 for a quota.
_BY_STATUS: Final[dict[int, tuple[int, str]]] = {
    400: (400, VALIDATION),
    401: (403, UNRECOGNIZED_CLIENT),
    403: (403, ACCESS_DENIED),
    404: (404, RESOURCE_NOT_FOUND),
    409: (409, CONFLICT),
    413: (400, VALIDATION),
    415: (400, VALIDATION),
    422: (400, VALIDATION),
    429: (429, THROTTLING),
    503: (503, SERVICE_UNAVAILABLE),
}


class AwsError(StudioError):
    """An error in AWS's own terms: ``reason`` is the AWS error code."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message, reason=code, status=status)


def unknown_operation(message: str) -> AwsError:
    return AwsError(message, code=UNKNOWN_OPERATION, status=404)


def access_denied(message: str) -> AwsError:
    return AwsError(message, code=ACCESS_DENIED, status=403)


def as_aws_error(error: Exception) -> StudioError:
    """``error`` in AWS's terms; anything unexpected is logged and answered as a 500."""
    if isinstance(error, AwsError | SignatureError):
        return error
    if isinstance(error, StudioError):
        if error.reason == QUOTA_REASON:
            return AwsError(error.message, code=SERVICE_QUOTA_EXCEEDED, status=402)
        status, code = _BY_STATUS.get(
            error.status, (500, INTERNAL_SERVER) if error.status >= 500 else (400, VALIDATION)
        )
        return AwsError(error.message, code=code, status=status)
    if isinstance(error, RequestValidationError):
        fields = validation_fields(list(error.errors()))
        message = "; ".join(f"{_aws_field(f['field'])}: {f['message']}" for f in fields[:5])
        return AwsError(message or "invalid request", code=VALIDATION, status=400)
    if isinstance(error, HTTPException) and error.status_code < 500:
        status, code = _BY_STATUS.get(error.status_code, (400, VALIDATION))
        return AwsError(str(error.detail), code=code, status=status)
    log.error("unexpected error in an AWS operation", exc_info=error)
    return AwsError(INTERNAL_MESSAGE, code=INTERNAL_SERVER, status=500)


def _aws_field(name: str) -> str:
    # AWS names a query or path parameter by itself (maxResults), not by its location.
    location, dot, rest = name.partition(".")
    return rest if dot and location in ("query", "path", "header") else name


class AwsRoute(APIRoute):
    """A route whose every error is answered in AWS's REST-JSON shape.

    :meth:`before` runs ahead of everything else the route does (reading and validating
    the request included): a subclass authenticates there.
    """

    async def before(self, request: Request) -> None:
        """Extension point: check ``request`` before it is parsed; raise to refuse it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer_in_aws_terms(request: Request) -> Response:
            try:
                await self.before(request)
                return await handler(request)
            except Exception as error:  # rendered; an unexpected one is logged first
                return error_response(as_aws_error(error))

        return answer_in_aws_terms
