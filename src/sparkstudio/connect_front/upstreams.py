"""Where each resource's Spark Connect server answers, and one channel to it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import grpc  # type: ignore[import-untyped]

# Spark answers with Arrow batches of up to a few MiB (and pyspark accepts 128 MiB): the
# front must not be the narrower pipe. Requests were bounded when the front took them.
CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    # Notice a driver that vanished without closing its connections during a long call.
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
)


@dataclass(frozen=True)
class Upstream:
    """A resource's Spark Connect server as the front reaches it."""

    address: str  # a gRPC target: "127.0.0.1:15003" or "unix:/path/to.sock"
    # The server's own bearer token ("" when it wants none): never shown, not even in repr.
    token: str = field(repr=False)


class UpstreamChannels:
    """One channel per resource, reused while the resource's address stays the same."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[str, tuple[str, Any]] = {}

    def channel(self, resource_id: str, address: str) -> Any:
        stale = None
        with self._lock:
            current = self._channels.get(resource_id)
            if current is not None and current[0] == address:
                return current[1]
            if current is not None:
                stale = current[1]
            channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
            self._channels[resource_id] = (address, channel)
        if stale is not None:  # the driver moved: calls on the old address cannot succeed
            stale.close()
        return channel

    def drop(self, resource_id: str) -> None:
        with self._lock:
            current = self._channels.pop(resource_id, None)
        if current is not None:
            current[1].close()

    def close(self) -> None:
        with self._lock:
            channels = [channel for _, channel in self._channels.values()]
            self._channels.clear()
        for channel in channels:
            channel.close()
