"""The one public error type.

Every failure a user may see is a :class:`StudioError` carrying an HTTP status, a
machine-readable ``reason`` and a message that is safe to show. The API renders it as
``{"message": ..., "reason": ...}``; the Python client raises the same type.
"""

from __future__ import annotations

from typing import Any, ClassVar


class StudioError(Exception):
    status: ClassVar[int] = 500
    default_reason: ClassVar[str] = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        status: int | None = None,
        fields: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        if status is not None:
            self.status = status  # type: ignore[misc]
        self.fields = fields or []

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "reason": self.reason}
        if self.fields:
            body["fields"] = self.fields
        return body

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class BadRequest(StudioError):
    status = 400
    default_reason = "BadRequest"


class Unauthenticated(StudioError):
    status = 401
    default_reason = "Unauthenticated"


class Forbidden(StudioError):
    status = 403
    default_reason = "AccessDenied"


class NotFound(StudioError):
    status = 404
    default_reason = "NotFound"


class Conflict(StudioError):
    status = 409
    default_reason = "Conflict"


class Invalid(StudioError):
    """Input that fails validation; ``fields`` names each bad field and what is allowed."""

    status = 422
    default_reason = "ValidationError"

    @classmethod
    def field(cls, field: str, message: str) -> Invalid:
        return cls(f"{field}: {message}", fields=[{"field": field, "message": message}])


class TooManyRequests(StudioError):
    """Refused for now, without looking at the request; ask again in ``retry_after`` s."""

    status = 429
    default_reason = "TooManyRequests"

    def __init__(self, message: str, *, retry_after: int, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class Unavailable(StudioError):
    """The platform cannot do this now or on this host (e.g. no Java for Spark)."""

    status = 503
    default_reason = "ServiceUnavailable"


_BY_STATUS: dict[int, type[StudioError]] = {
    cls.status: cls
    for cls in (BadRequest, Unauthenticated, Forbidden, NotFound, Conflict, Invalid, Unavailable)
}


def from_response(status: int, body: dict[str, Any]) -> StudioError:
    """Rebuild the error a server answered (used by the Python client)."""
    cls = _BY_STATUS.get(status, StudioError)
    return cls(
        str(body.get("message", "unknown error")),
        reason=str(body.get("reason", "Error")),
        status=status,
        fields=body.get("fields") or None,
    )
