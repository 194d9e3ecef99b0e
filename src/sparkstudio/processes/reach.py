"""HTTP to a listener of a place: ``http://127.0.0.1:<port>`` on the host, or
``unix:<path>`` (a bridge into a studio's network namespace).
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

import httpx

UNIX = "unix:"


def is_unix(url: str) -> bool:
    return url.startswith(UNIX)


def base_and_transport(url: str) -> tuple[str, httpx.AsyncHTTPTransport | None]:
    """The base URL and transport an httpx.AsyncClient needs for ``url``."""
    if is_unix(url):
        return "http://localhost", httpx.AsyncHTTPTransport(uds=url.removeprefix(UNIX))
    return url.rstrip("/"), None


def async_client(url: str, timeout: httpx.Timeout) -> tuple[str, httpx.AsyncClient]:
    base, transport = base_and_transport(url)
    return base, httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def get_json(url: str, path: str, timeout: float = 2.0) -> Any:
    """GET ``path`` (starting with /) of the listener at ``url``; its JSON body.

    Raises OSError when it does not answer (or not with 200), ValueError on bad JSON.
    """
    connection: http.client.HTTPConnection
    if is_unix(url):
        connection = _UnixConnection(url.removeprefix(UNIX), timeout)
    else:
        parts = url.removeprefix("http://").split("/", 1)[0]
        host, _, port = parts.rpartition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise OSError(f"GET {path}: HTTP {response.status}")
        return json.loads(body)
    except http.client.HTTPException as error:
        raise OSError(str(error)) from None
    finally:
        connection.close()


def server_url(reach_url: str, base_path: str) -> str:
    """A server's URL under ``base_path``: ``http://127.0.0.1:1234/base/`` or, through a
    bridge, ``unix:/run/…/1234.sock#/base/``."""
    if is_unix(reach_url):
        return f"{reach_url}#{base_path}"
    return f"{reach_url.rstrip('/')}{base_path}"


def split_server_url(url: str) -> tuple[str, str]:
    """``server_url``'s parts: (how to reach it, its base path)."""
    if is_unix(url):
        socket_path, _, base_path = url.partition("#")
        return socket_path, base_path or "/"
    scheme, _, rest = url.partition("://")
    address, slash, path = rest.partition("/")
    return f"{scheme}://{address}", f"{slash}{path}" or "/"


def sync_client(reach_url: str, timeout: httpx.Timeout) -> tuple[str, httpx.Client]:
    """A blocking client and the base URL to use with it."""
    if is_unix(reach_url):
        transport = httpx.HTTPTransport(uds=reach_url.removeprefix(UNIX))
        return "http://localhost", httpx.Client(transport=transport, timeout=timeout)
    return reach_url.rstrip("/"), httpx.Client(timeout=timeout)
