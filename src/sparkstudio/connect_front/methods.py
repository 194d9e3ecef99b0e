"""The Spark Connect service as the installed pyspark defines it, and request rewriting.

The method table is read from pyspark's service descriptor, so the front proxies every
method of the Spark version it is installed with, with no list to keep up to date.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import message_factory  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from pyspark.sql.connect.proto import base_pb2

SERVICE_NAME = "spark.connect.SparkConnectService"
RELEASE_SESSION = "ReleaseSession"
# The answers to releases of what a server held (a session, an operation's results).
_RELEASE_ANSWERS = {
    RELEASE_SESSION: base_pb2.ReleaseSessionResponse,
    "ReleaseExecute": base_pb2.ReleaseExecuteResponse,
}
_USER_CONTEXT_TYPE = "spark.connect.UserContext"


class MalformedRequest(Exception):
    """A request message that does not parse as its method's request type."""


@dataclass(frozen=True)
class ConnectMethod:
    """One RPC of the service: its path, request type and streaming kind."""

    name: str
    request_type: Any  # the generated protobuf class of the request message
    client_streaming: bool
    server_streaming: bool
    has_user_context: bool
    has_session_id: bool

    @property
    def path(self) -> str:
        return f"/{SERVICE_NAME}/{self.name}"

    @property
    def releases(self) -> bool:
        """Whether the call releases something the server held."""
        return self.name in _RELEASE_ANSWERS

    def parse(self, data: bytes) -> Any:
        try:
            return self.request_type.FromString(data)
        except DecodeError:
            raise MalformedRequest(f"malformed {self.name} request") from None

    def session_id(self, request: Any) -> str:
        return str(request.session_id) if self.has_session_id else ""

    def rewrite(self, request: Any, subject: str) -> bytes:
        """The request as it goes upstream: acting as ``subject``, whatever it said.

        Spark keys sessions by (user_id, session_id), so this is what keeps one user's
        sessions out of another's reach. A request without a user context gets one.
        """
        if self.has_user_context:
            request.user_context.user_id = subject
            request.user_context.user_name = subject
        data: bytes = request.SerializeToString()
        return data


def nothing_released(method: ConnectMethod, request: Any) -> bytes:
    """The answer to a release whose server is gone: what it held went with it."""
    response = _RELEASE_ANSWERS[method.name](session_id=request.session_id)
    if method.name != RELEASE_SESSION:
        response.operation_id = request.operation_id
    data: bytes = response.SerializeToString()
    return data


def connect_methods() -> tuple[ConnectMethod, ...]:
    service = base_pb2.DESCRIPTOR.services_by_name["SparkConnectService"]
    return tuple(_method(descriptor) for descriptor in service.methods)


def _method(descriptor: Any) -> ConnectMethod:
    fields = descriptor.input_type.fields_by_name
    user_context = fields.get("user_context")
    session_id = fields.get("session_id")
    return ConnectMethod(
        name=str(descriptor.name),
        request_type=message_factory.GetMessageClass(descriptor.input_type),
        client_streaming=bool(descriptor.client_streaming),
        server_streaming=bool(descriptor.server_streaming),
        has_user_context=(
            user_context is not None
            and user_context.message_type is not None
            and user_context.message_type.full_name == _USER_CONTEXT_TYPE
        ),
        has_session_id=session_id is not None and session_id.type == session_id.TYPE_STRING,
    )
