"""Byte bridges between the host and studio network namespaces, run by the control plane.

A namespace has no interface but its loopback, so nothing in it can reach the host, and
the host cannot reach its listeners by address. Two kinds of bridge cross the boundary,
each for one port the platform chose:

- **into** a namespace: a unix socket on the host (in a directory only the control
  plane can enter) relayed to a port on the namespace's loopback — how the control plane
  reaches a Spark UI, a Connect server or a workspace server inside;
- **out of** a namespace: a listener on the namespace's loopback relayed to one address
  on the host — how processes inside reach the platform's Connect front and API, and
  nothing else.

All bridges share one event loop in a thread of their own.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import socket
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sparkstudio.processes import netns

log = logging.getLogger("sparkstudio.bridges")
CHUNK = 1 << 16
_T = TypeVar("_T")


@dataclass(frozen=True)
class HostTarget:
    """Where an outbound bridge leads: a TCP address on the host, or a unix socket."""

    host: str = ""
    port: int = 0
    unix_path: str = ""


def socket_dir(home: Path) -> Path:
    """A short directory for the host ends (unix socket paths are limited to 107 bytes)."""
    digest = hashlib.sha256(str(home).encode()).hexdigest()[:12]
    base = Path("/run/sparkstudio") if os.geteuid() == 0 else Path("/tmp")  # noqa: S108
    return base / f"ss-{digest}"


class Bridges:
    def __init__(self, home: Path) -> None:
        self.root = socket_dir(home)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="bridges", daemon=True)
        self._servers: dict[str, asyncio.AbstractServer] = {}
        # The connections' tasks: the loop holds tasks weakly only, and a relay collected
        # while it waits would end its connection ("Task was destroyed but it is pending").
        self._relays: set[asyncio.Task[Any]] = set()
        self._lock = threading.Lock()
        self._started = False

    # -- life ---------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self.root.mkdir(parents=True, exist_ok=True)
            self.root.chmod(0o700)
            self._thread.start()
            self._started = True

    def stop(self) -> None:
        with self._lock:
            if not self._started:
                return
            self._started = False
        asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        shutil.rmtree(self.root, ignore_errors=True)

    def _hold_relay(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._relays.add(task)
            task.add_done_callback(self._relays.discard)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _call(self, coroutine: Coroutine[Any, Any, _T]) -> Future[_T]:
        self.start()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    async def _close_all(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        current = asyncio.current_task()
        relays = [task for task in asyncio.all_tasks() if task is not current]
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)

    # -- bridges ------------------------------------------------------------------------

    def into(self, namespace: str, port: int) -> Path:
        """A unix socket on the host relayed to ``127.0.0.1:port`` inside ``namespace``
        (made on first use; the same path every time)."""
        path = self.root / namespace / f"{port}.sock"
        key = f"into:{path}"
        if key not in self._servers:
            self._call(self._serve_into(key, namespace, port, path)).result(30)
        return path

    def out_of(self, namespace: str, port: int, target: HostTarget) -> None:
        """A listener on ``127.0.0.1:port`` inside ``namespace`` relayed to ``target``."""
        key = f"out:{namespace}:{port}"
        if key not in self._servers:
            self._call(self._serve_out_of(key, namespace, port, target)).result(30)

    def forget(self, namespace: str) -> None:
        """Close every bridge of a namespace (it is being deleted)."""
        self._call(self._forget(namespace)).result(30)

    async def _forget(self, namespace: str) -> None:
        for key in [k for k in self._servers if f"/{namespace}/" in k or f":{namespace}:" in k]:
            server = self._servers.pop(key)
            server.close()
        shutil.rmtree(self.root / namespace, ignore_errors=True)

    async def _serve_into(self, key: str, namespace: str, port: int, path: Path) -> None:
        if key in self._servers:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)

        async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._hold_relay()
            try:
                sock = await asyncio.to_thread(netns.make_socket, namespace)
                sock.setblocking(False)
                await self._loop.sock_connect(sock, ("127.0.0.1", port))
                upstream = await asyncio.open_connection(sock=sock)
            except OSError:
                writer.close()
                return
            await _pump_both(reader, writer, *upstream)

        server = await asyncio.start_unix_server(relay, path=str(path))
        path.chmod(0o600)
        self._servers[key] = server

    async def _serve_out_of(self, key: str, namespace: str, port: int, target: HostTarget) -> None:
        if key in self._servers:
            return
        listener = await asyncio.to_thread(netns.make_socket, namespace)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        listener.setblocking(False)

        async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._hold_relay()
            try:
                if target.unix_path:
                    upstream = await asyncio.open_unix_connection(target.unix_path)
                else:
                    upstream = await asyncio.open_connection(target.host, target.port)
            except OSError:
                writer.close()
                return
            await _pump_both(reader, writer, *upstream)

        self._servers[key] = await asyncio.start_server(relay, sock=listener)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def _pump_both(
    reader_a: asyncio.StreamReader,
    writer_a: asyncio.StreamWriter,
    reader_b: asyncio.StreamReader,
    writer_b: asyncio.StreamWriter,
) -> None:
    try:
        await asyncio.gather(_pump(reader_a, writer_b), _pump(reader_b, writer_a))
    except asyncio.CancelledError:
        pass  # the bridges are closing: the connection ends with them
    finally:
        for writer in (writer_a, writer_b):
            writer.close()  # not awaited: the loop may be stopping
