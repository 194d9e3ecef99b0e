"""Which gRPC metadata crosses the front, in each direction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc  # type: ignore[import-untyped]

Metadata = tuple[tuple[str, str | bytes], ...]

# Spark's error (class, message parameters, error id) as a google.rpc.Status.
STATUS_DETAILS_KEY = "grpc-status-details-bin"
# Connection-level headers and credentials belong to one hop, not to the call.
_HOP_KEYS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-type",
        "user-agent",
    }
)


def _crosses(key: str) -> bool:
    if key in _HOP_KEYS or key.startswith(":"):
        return False
    return not key.startswith("grpc-") or key == STATUS_DETAILS_KEY


def to_upstream(client_metadata: Iterable[Any], upstream_token: str) -> Metadata:
    """The client's metadata as sent upstream: its own credentials replaced by the server's."""
    passed = tuple((item[0], item[1]) for item in client_metadata if _crosses(item[0]))
    if upstream_token:
        return (*passed, ("authorization", f"Bearer {upstream_token}"))
    return passed


def to_client(upstream_metadata: Iterable[Any] | None) -> Metadata:
    """The upstream's response metadata as the client gets it."""
    if upstream_metadata is None:
        return ()
    return tuple((item[0], item[1]) for item in upstream_metadata if _crosses(item[0]))


def is_transport_failure(code: Any, trailing: Metadata) -> bool:
    """grpc could not reach the server (Spark's own errors carry their status details)."""
    return bool(
        code == grpc.StatusCode.UNAVAILABLE and all(k != STATUS_DETAILS_KEY for k, _ in trailing)
    )
