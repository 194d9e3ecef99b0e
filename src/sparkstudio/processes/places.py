"""A place is where a resource's processes run, as whom, and how the control plane reaches
them: the host itself (single-user mode) or a sandbox in a studio's network namespace.

Backends, spawners and runners launch through a place and never decide isolation
themselves; the control plane hands each resource the place of its studio (or of its
user, for a workspace).
"""

from __future__ import annotations

import os
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import sparkstudio
from sparkstudio.processes import netns, sandbox
from sparkstudio.processes.bridges import Bridges
from sparkstudio.processes.identities import Identity
from sparkstudio.spark import processes
from sparkstudio.spark.processes import ProcessRecord

LOOPBACK = "127.0.0.1"
# Environment variables a process of users' code may inherit from the control plane:
# where programs are, the locale and the time zone. Nothing else (no settings, no
# credentials): what a process needs more is given to it by name.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "JAVA_HOME")


@dataclass(frozen=True)
class Reach:
    """How the control plane reaches a listener of a place."""

    grpc_target: str  # "127.0.0.1:1234" or "unix:/run/…/1234.sock"
    http_url: str  # "http://127.0.0.1:1234" or "unix:/run/…/1234.sock"


@dataclass(frozen=True)
class Egress:
    """Where processes of a place reach the platform (and the storage endpoint)."""

    connect_url: str  # the Connect front: "sc://localhost:<port>"
    api_url: str  # the control plane's API: "http://127.0.0.1:<port>/api/v1"
    hosts: Mapping[str, str] = field(default_factory=dict)  # name → address inside


def clean_environment(extra: Mapping[str, str], *, home: str) -> dict[str, str]:
    """The environment of a process of users' code: never the control plane's own."""
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    python_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([python_bin, env.get("PATH", "/usr/local/bin:/usr/bin:/bin")])
    env.update(HOME=home, LANG=env.get("LANG", "C.UTF-8"))
    source = Path(sparkstudio.__file__).parent.parent
    if source.name not in ("site-packages", "dist-packages"):
        # A checkout run in place: its processes import the same sparkstudio.
        env["PYTHONPATH"] = str(source)
    env.update(extra)
    return env


class Place(ABC):
    """Where processes run. ``launch`` takes the argv and environment the process needs;
    the place decides the identity, the sandbox and what else it may see."""

    identity: Identity
    namespace: str | None
    egress: Egress

    @abstractmethod
    def launch(
        self,
        role: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log: Path,
        *,
        writable: Sequence[Path] = (),
        readable: Sequence[Path] = (),
        cwd: Path | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> ProcessRecord:
        """Start ``argv`` seeing ``writable`` and ``readable`` (besides the software), with
        the descriptors ``pass_fds`` open."""

    @abstractmethod
    def run(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        writable: Sequence[Path] = (),
        readable: Sequence[Path] = (),
        cwd: Path | None = None,
        timeout: float = 300.0,
    ) -> tuple[int, str] | None:
        """Run ``argv`` to its end (without a network, in a sandbox): its exit code and
        output (stdout and stderr), or None when it ran past ``timeout`` (it is killed)."""

    @abstractmethod
    def free_port(self) -> int:
        """A port free now where the place's processes listen."""

    @abstractmethod
    def port_open(self, port: int) -> bool: ...

    @abstractmethod
    def reach(self, port: int) -> Reach:
        """How the control plane reaches ``port`` of the place."""

    def own(self, *paths: Path, mode: int = 0o700) -> None:
        """Make folders the place's processes write into: theirs, closed to others.

        Changed through a descriptor opened without following a link: a process of the
        place may have put a link where a folder of its own was.
        """
        for path in paths:
            path.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                if os.geteuid() == 0 and self.identity.uid != 0:
                    os.fchown(descriptor, self.identity.uid, self.identity.gid)
                os.fchmod(descriptor, mode)
            finally:
                os.close(descriptor)

    def give(self, *files: Path) -> None:
        """Make files the control plane wrote readable and writable by the place's identity."""
        for path in files:
            if os.geteuid() == 0 and self.identity.uid != 0 and path.exists():
                # Never through a link: a process of the place could have planted one.
                os.chown(path, self.identity.uid, self.identity.gid, follow_symlinks=False)


class HostPlace(Place):
    """Single-user mode: processes run as the control plane's user, on the host's
    loopback, with a clean environment."""

    def __init__(self, identity: Identity, egress: Egress) -> None:
        self.identity, self.egress, self.namespace = identity, egress, None

    def launch(
        self,
        role: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log: Path,
        *,
        writable: Sequence[Path] = (),
        readable: Sequence[Path] = (),
        cwd: Path | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> ProcessRecord:
        home = os.environ.get("HOME", "/tmp")  # noqa: S108
        environment = clean_environment(env, home=home)
        return processes.launch(role, list(argv), environment, log, cwd=cwd, pass_fds=pass_fds)

    def run(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        writable: Sequence[Path] = (),
        readable: Sequence[Path] = (),
        cwd: Path | None = None,
        timeout: float = 300.0,
    ) -> tuple[int, str] | None:
        home = os.environ.get("HOME", "/tmp")  # noqa: S108
        return _run(list(argv), clean_environment(env, home=home), cwd, timeout)

    def free_port(self) -> int:
        return processes.free_port(LOOPBACK)

    def port_open(self, port: int) -> bool:
        return processes.port_open(port, LOOPBACK)

    def reach(self, port: int) -> Reach:
        return Reach(f"{LOOPBACK}:{port}", f"http://{LOOPBACK}:{port}")


class SandboxPlace(Place):
    """Sandbox mode: processes run in bubblewrap sandboxes as ``identity``, in the
    studio's network namespace ``namespace``, reached through bridges."""

    def __init__(
        self,
        identity: Identity,
        namespace: str,
        egress: Egress,
        bridges: Bridges,
        etc_dir: Path,
        *,
        hostname: str = "sparkstudio",
    ) -> None:
        self.identity, self.namespace, self.egress = identity, namespace, egress
        self._namespace = namespace  # never None here
        self.bridges, self.etc_dir, self.hostname = bridges, etc_dir, hostname
        self._handed_out: set[int] = set()

    def launch(
        self,
        role: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log: Path,
        *,
        writable: Sequence[Path] = (),
        readable: Sequence[Path] = (),
        cwd: Path | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> ProcessRecord:
        spec = self._spec(writable, readable, cwd)
        environment = clean_environment(
            {"USER": self.identity.name, "LOGNAME": self.identity.name, **env},
            home="/tmp",  # noqa: S108 (the sandbox's own tmpfs)
        )
        command = sandbox.command(spec, argv)
        return processes.launch(role, command, environment, log, pass_fds=pass_fds)

    def run(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        writable: Sequence[Path] = (),
        readable: Sequence[Path] = (),
        cwd: Path | None = None,
        timeout: float = 300.0,
    ) -> tuple[int, str] | None:
        spec = replace(self._spec(writable, readable, cwd), die_with_parent=True)
        environment = clean_environment(
            {"USER": self.identity.name, "LOGNAME": self.identity.name, **env},
            home="/tmp",  # noqa: S108 (the sandbox's own tmpfs)
        )
        return _run(sandbox.command(spec, argv), environment, None, timeout)

    def _spec(
        self, writable: Sequence[Path], readable: Sequence[Path], cwd: Path | None
    ) -> sandbox.SandboxSpec:
        return sandbox.SandboxSpec(
            identity=self.identity,
            namespace=self._namespace,
            writable=tuple(writable),
            readable=tuple(readable),
            hostname=self.hostname,
            cwd=cwd,
            etc_dir=self.etc_dir,
        )

    def free_port(self) -> int:
        # Ports are bound only when their process starts: never hand one out twice.
        while True:
            port = netns.free_port(self._namespace)
            if port not in self._handed_out:
                self._handed_out.add(port)
                return port

    def port_open(self, port: int) -> bool:
        return netns.port_open(self._namespace, port)

    def reach(self, port: int) -> Reach:
        path = self.bridges.into(self._namespace, port)
        return Reach(f"unix:{path}", f"unix:{path}")


def _run(
    argv: list[str], env: dict[str, str], cwd: Path | None, timeout: float
) -> tuple[int, str] | None:
    try:
        result = subprocess.run(  # noqa: S603
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    return result.returncode, result.stdout
