"""The per-user Spark Connect front: a gRPC server that authenticates every call.

A client connects with a short-lived token minted for one user and one resource. The
front checks its signature on every call, asks the control plane once per new session
(and again every ``readmit_seconds``), rewrites the request's user to the token's
subject and forwards it to the resource's Spark Connect server with that server's own
token. Responses and errors pass through byte for byte, so pyspark sees exactly what the
server said (Spark's error class travels in the trailing metadata).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc  # type: ignore[import-untyped]

from sparkstudio.connect_front import grpc_metadata
from sparkstudio.connect_front.admissions import (
    AdmissionFailed,
    Admissions,
    SessionRefused,
)
from sparkstudio.connect_front.methods import (
    RELEASE_SESSION,
    SERVICE_NAME,
    ConnectMethod,
    MalformedRequest,
    connect_methods,
    nothing_released,
)
from sparkstudio.connect_front.tokens import (
    MIN_KEY_BYTES,
    ConnectClaims,
    InvalidConnectToken,
    verify,
)
from sparkstudio.connect_front.upstreams import Upstream, UpstreamChannels

__all__ = ["ConnectFront", "Upstream"]

logger = logging.getLogger(__name__)

# Every open ExecutePlan stream holds a thread; beyond this, calls are refused with
# RESOURCE_EXHAUSTED rather than queued behind streams that may last minutes.
DEFAULT_MAX_CONCURRENT_CALLS = 64
MAX_REQUEST_BYTES = 128 * 1024 * 1024  # Spark Connect's own inbound limit
STOP_GRACE_SECONDS = 2.0
_NO_DEADLINE = 10**8  # grpc reports "no deadline" as a deadline far in the future

SERVER_OPTIONS = (
    ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
    ("grpc.max_send_message_length", -1),
    # pyspark pings idle connections every 60 s: allow it, or the server hangs up on it.
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 30_000),
    # Fail to start rather than share a port another process listens on.
    ("grpc.so_reuseport", 0),
)


@dataclass(frozen=True)
class _Route:
    """Where one call goes, as whom."""

    claims: ConnectClaims
    session_id: str
    channel: Any
    metadata: grpc_metadata.Metadata
    timeout: float | None


class ConnectFront:
    """An authenticating gRPC front for the Spark Connect servers of many resources.

    ``upstream(resource_id)`` says where a resource's server answers now (None when it is
    not running); ``admit(claims)`` returns a message refusing a new session, or None.
    Both are called on the front's worker threads and must be thread-safe.
    """

    def __init__(
        self,
        key: bytes,
        *,
        upstream: Callable[[str], Upstream | None],
        admit: Callable[[ConnectClaims], str | None],
        clock: Callable[[], float] = time.time,
        readmit_seconds: float = 60.0,
        max_concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS,
    ) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the signing key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self._upstream = upstream
        self._clock = clock
        self._admissions = Admissions(admit, clock, readmit_seconds)
        self._channels = UpstreamChannels()
        self._max_concurrent_calls = max_concurrent_calls
        self._lock = threading.Lock()
        self._server: Any = None

    def start(self, address: str) -> int:
        """Listen on ``address`` ("127.0.0.1:0", "unix:/path"); the bound port (0 for unix)."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("the Spark Connect front is already started")
            server = grpc.server(
                ThreadPoolExecutor(self._max_concurrent_calls, "connect-front"),
                options=SERVER_OPTIONS,
                maximum_concurrent_rpcs=self._max_concurrent_calls,
            )
            handlers = {method.name: self._handler(method) for method in connect_methods()}
            server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),)
            )
            port = int(server.add_insecure_port(address))
            server.start()
            self._server = server
        logger.info("Spark Connect front listening on %s (port %d)", address, port)
        return 0 if address.startswith(("unix:", "unix-abstract:")) else port

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop(STOP_GRACE_SECONDS).wait()
        self._channels.close()

    def forget(self, subject: str) -> None:
        """The subject's sessions must be admitted again (as new ones) at their next call."""
        self._admissions.forget(subject)

    # -- one handler per streaming kind ------------------------------------------------

    def _handler(self, method: ConnectMethod) -> Any:
        if method.client_streaming and method.server_streaming:
            return grpc.stream_stream_rpc_method_handler(
                lambda requests, context: self._stream_stream(method, requests, context)
            )
        if method.client_streaming:
            return grpc.stream_unary_rpc_method_handler(
                lambda requests, context: self._stream_unary(method, requests, context)
            )
        if method.server_streaming:
            return grpc.unary_stream_rpc_method_handler(
                lambda request, context: self._unary_stream(method, request, context)
            )
        return grpc.unary_unary_rpc_method_handler(
            lambda request, context: self._unary_unary(method, request, context)
        )

    def _unary_unary(self, method: ConnectMethod, request: bytes, context: Any) -> bytes:
        claims = self._authenticate(context)
        message = self._parse(method, request, context)
        if method.releases and self._gone(claims.resource_id):
            # What it held went with its server. Refused as UNAVAILABLE, pyspark would retry
            # for minutes holding its global session lock: no new session in that kernel.
            if method.name == RELEASE_SESSION:
                self._admissions.release(claims, method.session_id(message))
            return nothing_released(method, message)
        route = self._route(method, claims, message, context)
        future = route.channel.unary_unary(method.path).future(
            method.rewrite(message, claims.subject),
            metadata=route.metadata,
            timeout=route.timeout,
        )
        response: bytes = self._await(future, route, context)
        self._after(method, route)
        return response

    def _unary_stream(self, method: ConnectMethod, request: bytes, context: Any) -> Iterator[bytes]:
        claims = self._authenticate(context)
        message = self._parse(method, request, context)
        route = self._route(method, claims, message, context)
        call = route.channel.unary_stream(method.path)(
            method.rewrite(message, claims.subject),
            metadata=route.metadata,
            timeout=route.timeout,
        )
        yield from self._relay_stream(call, route, context)

    def _stream_unary(
        self, method: ConnectMethod, requests: Iterator[bytes], context: Any
    ) -> bytes:
        route, payloads = self._open_stream(method, requests, context)
        future = route.channel.stream_unary(method.path).future(
            payloads, metadata=route.metadata, timeout=route.timeout
        )
        response: bytes = self._await(future, route, context, payloads)
        self._after(method, route)
        return response

    def _stream_stream(
        self, method: ConnectMethod, requests: Iterator[bytes], context: Any
    ) -> Iterator[bytes]:
        route, payloads = self._open_stream(method, requests, context)
        call = route.channel.stream_stream(method.path)(
            payloads, metadata=route.metadata, timeout=route.timeout
        )
        yield from self._relay_stream(call, route, context, payloads)

    # -- the steps every call takes --------------------------------------------------

    def _authenticate(self, context: Any) -> ConnectClaims:
        values = [value for key, value in context.invocation_metadata() if key == "authorization"]
        if not values:
            self._refuse(
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                "no Spark Connect token: connect with the URL sparkstudio gives you "
                "(sc://…/;token=…)",
            )
        if len(values) > 1 or not isinstance(values[0], str):
            self._refuse(
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                "send one authorization metadata entry, not several",
            )
        scheme, _, token = values[0].partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self._refuse(
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                "the authorization metadata must read 'Bearer <Spark Connect token>'",
            )
        try:
            # Expiry matters for new sessions only: the admissions check it.
            return verify(self._key, token.strip(), now=self._clock(), check_expiry=False)
        except InvalidConnectToken as error:
            self._refuse(context, grpc.StatusCode.UNAUTHENTICATED, str(error))

    def _gone(self, resource_id: str) -> bool:
        try:
            return self._upstream(resource_id) is None
        except Exception:
            return False  # not known to be gone: routing the call reports the failure

    def _parse(self, method: ConnectMethod, data: bytes, context: Any) -> Any:
        try:
            return method.parse(data)
        except MalformedRequest as error:
            self._refuse(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))

    def _route(
        self, method: ConnectMethod, claims: ConnectClaims, message: Any, context: Any
    ) -> _Route:
        session_id = method.session_id(message)
        try:
            self._admissions.check(claims, session_id)
        except InvalidConnectToken as error:
            self._refuse(context, grpc.StatusCode.UNAUTHENTICATED, str(error))
        except SessionRefused as error:
            self._refuse(context, grpc.StatusCode.PERMISSION_DENIED, str(error))
        except AdmissionFailed as error:
            self._refuse(context, grpc.StatusCode.INTERNAL, str(error))
        try:
            upstream = self._upstream(claims.resource_id)
        except Exception:
            logger.exception("looking up the Spark Connect server of %s failed", claims.resource_id)
            self._refuse(
                context,
                grpc.StatusCode.INTERNAL,
                f"could not find where {claims.resource_id} runs; try again later",
            )
        if upstream is None:
            self._channels.drop(claims.resource_id)
            self._refuse(
                context, grpc.StatusCode.UNAVAILABLE, f"{claims.resource_id} is not running"
            )
        logger.debug(
            "%s of %s in session %s on %s",
            method.name,
            claims.subject,
            session_id,
            claims.resource_id,
        )
        remaining = context.time_remaining()
        return _Route(
            claims=claims,
            session_id=session_id,
            channel=self._channels.channel(claims.resource_id, upstream.address),
            metadata=grpc_metadata.to_upstream(context.invocation_metadata(), upstream.token),
            timeout=None if remaining is None or remaining > _NO_DEADLINE else remaining,
        )

    def _open_stream(
        self, method: ConnectMethod, requests: Iterator[bytes], context: Any
    ) -> tuple[_Route, _RequestStream]:
        claims = self._authenticate(context)
        first = next(requests, None)
        if first is None:
            self._refuse(context, grpc.StatusCode.INVALID_ARGUMENT, f"empty {method.name} stream")
        message = self._parse(method, first, context)
        route = self._route(method, claims, message, context)
        return route, _RequestStream(
            method, route, method.rewrite(message, claims.subject), requests
        )

    def _await(
        self, future: Any, route: _Route, context: Any, stream: _RequestStream | None = None
    ) -> bytes:
        context.add_callback(future.cancel)  # the client went away: so does the upstream call
        try:
            response: bytes = future.result()
        except grpc.FutureCancelledError:
            context.abort(grpc.StatusCode.CANCELLED, "cancelled by the client")
            raise AssertionError("unreachable") from None  # abort raises
        except grpc.RpcError:
            self._relay_failure(future, route, context, stream)
        self._relay_metadata(future, context)
        return response

    def _relay_stream(
        self, call: Any, route: _Route, context: Any, stream: _RequestStream | None = None
    ) -> Iterator[bytes]:
        context.add_callback(call.cancel)
        try:
            initial = grpc_metadata.to_client(call.initial_metadata())
            if initial:
                context.send_initial_metadata(initial)
            yield from call
        except grpc.RpcError:
            self._relay_failure(call, route, context, stream)
        context.set_trailing_metadata(grpc_metadata.to_client(call.trailing_metadata()))

    def _relay_metadata(self, call: Any, context: Any) -> None:
        initial = grpc_metadata.to_client(call.initial_metadata())
        if initial:
            context.send_initial_metadata(initial)
        context.set_trailing_metadata(grpc_metadata.to_client(call.trailing_metadata()))

    def _relay_failure(
        self, call: Any, route: _Route, context: Any, stream: _RequestStream | None
    ) -> NoReturn:
        if stream is not None and stream.problem is not None:
            self._refuse(context, grpc.StatusCode.INVALID_ARGUMENT, stream.problem)
        code, details = call.code(), call.details() or ""
        trailing = grpc_metadata.to_client(call.trailing_metadata())
        if grpc_metadata.is_transport_failure(code, trailing):
            # grpc's own words name the driver's address: keep that inside.
            logger.warning(
                "Spark Connect server of %s unreachable: %s", route.claims.resource_id, details
            )
            details = f"{route.claims.resource_id} is not reachable right now; try again"
        context.set_trailing_metadata(trailing)
        context.abort(code, details)
        raise AssertionError("unreachable")  # abort raises

    def _after(self, method: ConnectMethod, route: _Route) -> None:
        if method.name == RELEASE_SESSION:
            self._admissions.release(route.claims, route.session_id)

    def _refuse(self, context: Any, code: Any, message: str) -> NoReturn:
        logger.info("refused a Spark Connect call from %s: %s", context.peer(), message)
        context.abort(code, message)
        raise AssertionError("unreachable")  # abort raises


class _RequestStream:
    """The requests of a client-streaming call, rewritten one by one as they go upstream.

    A later request may not switch to another session than the first one's (the one the
    call was admitted for); such a call fails and says why.
    """

    def __init__(
        self, method: ConnectMethod, route: _Route, first: bytes, rest: Iterator[bytes]
    ) -> None:
        self._method = method
        self._route = route
        self._first: bytes | None = first
        self._rest = rest
        self.problem: str | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        data = next(self._rest)
        try:
            message = self._method.parse(data)
        except MalformedRequest as error:
            self.problem = str(error)
            raise
        if self._method.session_id(message) != self._route.session_id:
            self.problem = f"one {self._method.name} stream must stay in one session"
            raise MalformedRequest(self.problem)
        return self._method.rewrite(message, self._route.claims.subject)
