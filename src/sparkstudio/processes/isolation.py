"""The isolation of one control plane: which mode it runs in, and the place of every
studio and user.

``sandbox`` mode needs root and the tools (bwrap, setpriv, nsenter, ip); ``single-user``
mode runs everything as the control plane's own user and says so at start (``up``,
``doctor``), and studios then take a second person only when the operator acknowledged
it (``SPARKSTUDIO_SINGLE_USER_ACKNOWLEDGED``).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from sparkstudio.processes import identities, netns, sandbox
from sparkstudio.processes.bridges import Bridges, HostTarget
from sparkstudio.processes.places import Egress, HostPlace, Place, SandboxPlace
from sparkstudio.settings import Settings

Mode = Literal["sandbox", "single-user"]
CONNECT_PORT_INSIDE = 15002  # Spark Connect's usual port, on a namespace's loopback
API_PORT_INSIDE = 8780  # the control plane's usual port, on a namespace's loopback


@dataclass(frozen=True)
class ModeChoice:
    mode: Mode
    why: str  # why this mode (and, for single-user, what it means)


def choose_mode(settings: Settings) -> ModeChoice:
    """The mode ``settings.isolation`` asks for, if this host can give it."""
    problem = sandbox_problem()
    if settings.isolation == "single-user":
        return ModeChoice("single-user", "chosen with SPARKSTUDIO_ISOLATION=single-user")
    if settings.isolation == "sandbox" and problem:
        raise RuntimeError(f"SPARKSTUDIO_ISOLATION=sandbox, but this host cannot: {problem}")
    if problem:
        return ModeChoice("single-user", problem)
    return ModeChoice("sandbox", "root with bubblewrap and network namespaces")


_problem_cache: dict[str, str] = {}


def sandbox_problem() -> str:
    """Why sandboxes cannot be made on this host ("" when they can); checked once."""
    if "problem" not in _problem_cache:
        _problem_cache["problem"] = _find_problem()
    return _problem_cache["problem"]


def _find_problem() -> str:
    if os.geteuid() != 0:
        return "the control plane does not run as root (it could not switch identities)"
    missing = sandbox.missing_tools()
    if missing:
        return f"missing {', '.join(missing)} (Debian: apt-get install bubblewrap util-linux)"
    return netns.available()


def namespace_of(studio_id: str) -> str:
    return identities.account_name(studio_id)


def local_path(storage_location: str) -> Path | None:
    """``file:///x`` → /x; None for an object store."""
    if not storage_location.startswith("file://"):
        return None
    return Path(urlsplit(storage_location).path)


class Isolation:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        choice = choose_mode(settings)
        self.mode: Mode = choice.mode
        self.why = choice.why
        self.bridges = Bridges(settings.home)
        self._places: dict[tuple[str, str], Place] = {}
        self._prepared: set[str] = set()
        self._lock = threading.Lock()
        self._making = threading.Lock()  # one place made at a time: accounts, namespaces
        self._front = HostTarget()
        self._api = HostTarget()
        self.host_egress = Egress(connect_url="", api_url="")
        self.public_connect_url = ""

    @property
    def sandboxed(self) -> bool:
        return self.mode == "sandbox"

    def serve(self, *, front_port: int, api_url: str, public_url: str) -> None:
        """Where the Connect front and the API listen on the host (known once started);
        ``public_url`` is the control plane's address as users reach it."""
        parts = urlsplit(api_url)
        if self.sandboxed:
            # Every studio's drivers write their event logs here, none reads another's:
            # anyone may add an entry, nobody may list them, each file is its writer's.
            self.settings.event_log_dir.chmod(0o1733)
        self._front = HostTarget("127.0.0.1", front_port)
        host = parts.hostname or "127.0.0.1"
        self._api = HostTarget("127.0.0.1" if host in ("0.0.0.0", "::") else host, parts.port or 80)  # noqa: S104
        self.host_egress = Egress(
            connect_url=f"sc://localhost:{front_port}", api_url=f"{api_url.rstrip('/')}/api/v1"
        )
        public_host = urlsplit(public_url).hostname or "localhost"
        if public_host in ("127.0.0.1", "::1", "localhost"):
            public_host = "localhost"  # pyspark sends a token in clear to localhost only
        self.public_connect_url = f"sc://{public_host}:{front_port}"

    def stop(self) -> None:
        self.bridges.stop()

    # -- places ---------------------------------------------------------------------------

    def studio_place(self, studio_id: str) -> Place:
        """Where a studio's clusters, applications and runners run."""
        return self._place(studio_id, studio_id, f"studio {studio_id}")

    def user_place(self, studio_id: str, user_id: str) -> Place:
        """Where a user's workspaces of a studio run (in the studio's network)."""
        return self._place(studio_id, user_id, f"user {user_id}")

    def _place(self, studio_id: str, owner_id: str, what: str) -> Place:
        key = (studio_id, owner_id)
        with self._lock:
            place = self._places.get(key)
        if place is not None:
            return place
        with self._making:
            return self._make_place(key, studio_id, owner_id, what)

    def _make_place(self, key: tuple[str, str], studio_id: str, owner_id: str, what: str) -> Place:
        with self._lock:
            place = self._places.get(key)
        if place is not None:  # made meanwhile
            return place
        if not self.sandboxed:
            place = HostPlace(identities.current(), self.host_egress)
        else:
            identity = identities.ensure(owner_id, what)
            namespace = self._prepare_namespace(studio_id)
            etc_dir = self.settings.home / "run" / "sandboxes" / identity.name
            sandbox.write_etc(etc_dir, identity, "sparkstudio", self._inside_hosts())
            place = SandboxPlace(identity, namespace, self._inside_egress(), self.bridges, etc_dir)
        with self._lock:
            return self._places.setdefault(key, place)

    def _prepare_namespace(self, studio_id: str) -> str:
        """The studio's namespace, with its bridges out to the platform."""
        name = namespace_of(studio_id)
        if name in self._prepared and netns.exists(name):
            return name
        netns.ensure(name)
        self.bridges.out_of(name, CONNECT_PORT_INSIDE, self._front)
        self.bridges.out_of(name, API_PORT_INSIDE, self._api)
        endpoint = self._storage_endpoint()
        if endpoint is not None:
            self.bridges.out_of(name, endpoint.port, endpoint)
        self._prepared.add(name)
        return name

    def _storage_endpoint(self) -> HostTarget | None:
        """The S3-compatible endpoint, bridged in under its own port (its name resolves
        to the namespace's loopback inside): workspaces of s3:// studios reach it."""
        url = self.settings.s3_endpoint_url
        if not url:
            return None
        parts = urlsplit(url)
        default = 443 if parts.scheme == "https" else 80
        return HostTarget(parts.hostname or "127.0.0.1", parts.port or default)

    def _inside_hosts(self) -> dict[str, str]:
        endpoint = self._storage_endpoint()
        if endpoint is None or endpoint.host in ("127.0.0.1", "localhost"):
            return {}
        return {endpoint.host: "127.0.0.1"}

    def _inside_egress(self) -> Egress:
        return Egress(
            connect_url=f"sc://localhost:{CONNECT_PORT_INSIDE}",
            api_url=f"http://127.0.0.1:{API_PORT_INSIDE}/api/v1",
            hosts=self._inside_hosts(),
        )

    # -- storage --------------------------------------------------------------------------

    def studio_storage(self, studio_id: str, storage_location: str) -> Path | None:
        """The studio's file storage (None for object stores), made and owned by the
        studio's identity, closed to others; its ``workspaces`` folder is the platform's
        (its processes may pass through it, not list or rename the workspaces in it)."""
        root = local_path(storage_location)
        if root is None:
            return None
        place = self.studio_place(studio_id)
        place.own(root)
        workspaces = root / "workspaces"
        workspaces.mkdir(exist_ok=True)
        if self.sandboxed:
            os.chown(workspaces, 0, 0)
        workspaces.chmod(0o711)
        return root

    def workspace_storage(
        self, studio_id: str, owner_id: str, storage_location: str, workspace_id: str
    ) -> Path | None:
        """A workspace's own folder of the studio's file storage (None for object stores):
        its owner's, closed to everyone else (the studio's Spark processes included)."""
        root = self.studio_storage(studio_id, storage_location)
        if root is None:
            return None
        folder = root / "workspaces" / workspace_id
        self.user_place(studio_id, owner_id).own(folder)
        return folder

    # -- cleanup --------------------------------------------------------------------------

    def forget_studio(self, studio_id: str) -> None:
        """Remove a deleted studio's network namespace (its processes are gone). Its OS
        account stays: files it owns may remain, and a new account must never inherit them
        by taking its uid."""
        name = namespace_of(studio_id)
        with self._lock:
            for key in [k for k in self._places if k[0] == studio_id]:
                del self._places[key]
        if self.sandboxed and netns.exists(name):
            self.bridges.forget(name)
            netns.delete(name)
            self._prepared.discard(name)

    def remove_everything_made(self) -> None:
        """Remove every namespace and OS account this control plane made (for throwaway
        installations: the tests'). Nothing of theirs may run any more."""
        with self._lock:
            owners = {owner for _, owner in self._places} | {studio for studio, _ in self._places}
            self._places.clear()
        for name in list(self._prepared):
            if netns.exists(name):
                netns.delete(name)
        self._prepared.clear()
        if self.sandboxed:
            for owner in owners:
                identities.remove(owner)

    def storage_owner(self, studio_id: str) -> Place:
        return self.studio_place(studio_id)

    def home_of_sandboxes(self) -> Path:
        return self.settings.home / "run" / "sandboxes"
