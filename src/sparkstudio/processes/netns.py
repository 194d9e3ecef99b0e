"""A studio's own network namespace: a loopback and nothing else.

Processes of the studio run inside it (``nsenter --net=…``) and listen on its loopback,
which nothing outside sees: not the host, not another studio. The platform reaches in,
and lets them reach out to what they may use, through the bridges of
:mod:`sparkstudio.processes.bridges`; sockets for those are made inside the namespace
by a thread that entered it (a network namespace is a property of a thread, and a socket
stays in the namespace it was made in).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_TIMEOUT = 30
_libc = ctypes.CDLL(None, use_errno=True)
_lock = threading.Lock()
_executors: dict[str, ThreadPoolExecutor] = {}


class NetnsError(RuntimeError):
    """A namespace could not be made or entered; the message says why."""


def path_of(name: str) -> Path:
    return NETNS_DIR / name


def exists(name: str) -> bool:
    return path_of(name).exists()


def ensure(name: str) -> Path:
    """The namespace ``name`` with its loopback up, made when missing (it survives the
    control plane: its processes keep running across a restart)."""
    with _lock:
        if not exists(name):
            _ip("netns", "add", name)
            _ip("-n", name, "link", "set", "lo", "up")
    return path_of(name)


def delete(name: str) -> None:
    with _lock:
        executor = _executors.pop(name, None)
        if executor is not None:
            executor.shutdown(wait=False)
        if exists(name):
            _ip("netns", "delete", name)


def available() -> str:
    """Why namespaces cannot be made here ("" when they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"ss-probe-{os.getpid()}"
    try:
        ensure(probe)
    except NetnsError as error:
        return str(error)
    finally:
        with contextlib.suppress(NetnsError):
            delete(probe)
    return ""


def enter_command(name: str) -> list[str]:
    """The argv prefix that runs a command inside the namespace."""
    return ["nsenter", f"--net={path_of(name)}", "--"]


def _enter(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(descriptor, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise NetnsError(f"cannot enter {path}: {os.strerror(error)}")
    finally:
        os.close(descriptor)


def _executor(name: str) -> ThreadPoolExecutor:
    with _lock:
        executor = _executors.get(name)
        if executor is None:
            executor = ThreadPoolExecutor(
                1,
                thread_name_prefix=f"netns-{name}",
                initializer=_enter,
                initargs=(str(path_of(name)),),
            )
            _executors[name] = executor
        return executor


def make_socket(name: str) -> socket.socket:
    """A TCP socket inside namespace ``name``: connect it to (or bind it on) the
    namespace's loopback from any thread."""
    future = _executor(name).submit(socket.socket, socket.AF_INET, socket.SOCK_STREAM)
    return future.result(_TIMEOUT)


def free_port(name: str) -> int:
    """A port free now on the namespace's loopback."""

    def probe() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    return _executor(name).submit(probe).result(_TIMEOUT)


def port_open(name: str, port: int, timeout: float = 0.5) -> bool:
    sock = make_socket(name)
    sock.settimeout(timeout)
    try:
        sock.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def _ip(*args: str) -> None:
    try:
        result = subprocess.run(  # noqa: S603
            ["ip", *args],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise NetnsError(f"ip {' '.join(args)}: {error}") from None
    if result.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {(result.stderr or result.stdout).strip()}")
