"""Locations users name — notebook sources and outputs, job entry points, shipped files,
log locations — checked against what their studio owns, and the reads and writes the
platform does there on their behalf.

One rule (:mod:`sparkstudio.rules.locations`): a location is normalised, then must lie in
the studio's storage or in a location a platform admin allowed for the studio. Workspace
folders inside the storage are their users' own: a source may be read from a workspace
the caller may open; nothing is ever written into one. Reads and writes of ``file://``
locations never follow a symbolic link (:mod:`sparkstudio.storage.confined`), and what
the platform writes for a studio is the studio's identity's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio.auth.identity import Principal
from sparkstudio.db.models import Studio, Workspace
from sparkstudio.errors import Invalid
from sparkstudio.processes.places import Place
from sparkstudio.rules.locations import Location, confine, parse_location
from sparkstudio.services.workspace_servers import may_open, storage_options
from sparkstudio.settings import Settings
from sparkstudio.storage.confined import copy_out_beneath, open_beneath, write_beneath
from sparkstudio.storage.stores import Store, fetch_file

WORKSPACES_FOLDER = "workspaces"


def studio_roots(studio: Studio) -> list[str]:
    """Where the studio's users may name locations."""
    return [studio.storage_location, *(studio.allowed_locations or [])]


def _workspace_of(studio: Studio, location: Location) -> str | None:
    """The id of the workspace whose folder holds ``location``, if one does."""
    storage = parse_location(studio.storage_location, "storage_location")
    folder = Location(storage.scheme, storage.bucket, _join(storage.path, WORKSPACES_FOLDER))
    if not location.within(folder):
        return None
    relative = location.relative_to(folder)
    return relative.split("/", 1)[0] or ""


def _join(path: str, name: str) -> str:
    return f"{path.rstrip('/')}/{name}" if path.strip("/") else (f"/{name}" if path else name)


def check_source(db: Session, studio: Studio, principal: Principal, value: str, field: str) -> str:
    """A location to read from: the studio's (or one a workspace of the caller's holds)."""
    location = confine(value, field, studio_roots(studio))
    workspace_id = _workspace_of(studio, location)
    if workspace_id is not None:
        workspace = db.scalars(
            select(Workspace).where(Workspace.id == workspace_id, Workspace.studio_id == studio.id)
        ).first()
        if workspace is None or not may_open(db, workspace, principal):
            raise Invalid.field(
                field,
                "is in a workspace folder that is not yours; a workspace's files are its "
                "users' own",
            )
    return location.url


def check_output(studio: Studio, value: str, field: str) -> str:
    """A location to write to: the studio's, never a workspace's folder."""
    location = confine(value, field, studio_roots(studio))
    if _workspace_of(studio, location) is not None:
        raise Invalid.field(
            field,
            "is in the studio's workspace folders, which are their users' own; "
            "name a place elsewhere in the studio's storage",
        )
    return location.url


def _local_root(location: Location, roots: Sequence[str]) -> Location:
    for root in roots:
        parsed = parse_location(root, "root")
        if location.within(parsed):
            return parsed
    raise PermissionError(f"{location.url} is in none of the studio's locations")


def fetch(settings: Settings, url: str, roots: Sequence[str], local: Path) -> None:
    """Copy the file at ``url`` (inside one of ``roots``) to ``local``."""
    location = parse_location(url, "location")
    local.parent.mkdir(parents=True, exist_ok=True)
    if location.scheme == "file":
        root = _local_root(location, roots)
        copy_out_beneath(Path(root.path), location.relative_to(root), local)
        return
    if not any(location.within(parse_location(root, "root")) for root in roots):
        raise PermissionError(f"{location.url} is in none of the studio's locations")
    fetch_file(location.url, local, storage_options(settings, location.url))


def open_file(settings: Settings, url: str, roots: Sequence[str]) -> tuple[IO[bytes], int]:
    """The file at ``url`` (inside one of ``roots``) opened for reading, and its size;
    FileNotFoundError when there is none. On a file system it is opened without following
    a link anywhere below the studio's root: the studio's processes write there."""
    location = parse_location(url, "location")
    if location.scheme == "file":
        root = _local_root(location, roots)
        file = open_beneath(Path(root.path), location.relative_to(root))
        return file, os.fstat(file.fileno()).st_size
    if not any(location.within(parse_location(root, "root")) for root in roots):
        raise PermissionError(f"{location.url} is in none of the studio's locations")
    store = Store.open(location.url, storage_options(settings, location.url))
    entry = store.stat(store.root)
    if entry is None or entry.is_dir:
        raise FileNotFoundError("no such file")
    opened: IO[bytes] = store.fs.open(store.root, "rb")
    return opened, entry.size or 0


def put(
    settings: Settings, source: Path, url: str, roots: Sequence[str], owner: Place | None
) -> None:
    """Store the local file ``source`` at ``url`` (inside one of ``roots``); on a file
    system, the new file and folders become ``owner``'s (the studio's identity)."""
    location = parse_location(url, "location")
    if location.scheme == "file":
        root = _local_root(location, roots)
        relative = location.relative_to(root)
        write_beneath(Path(root.path), relative, source, mode=0o640)
        if owner is not None:
            _give_below(Path(root.path), relative, owner)
        return
    if not any(location.within(parse_location(root, "root")) for root in roots):
        raise PermissionError(f"{location.url} is in none of the studio's locations")
    store = Store.open(location.url, storage_options(settings, location.url))
    store.fs.makedirs(store.root.rsplit("/", 1)[0], exist_ok=True)
    store.fs.put_file(str(source), store.root)


def _give_below(root: Path, relative: str, owner: Place) -> None:
    """What the platform made under ``root`` on the way to ``relative`` becomes the owner's
    (never following a link: each step is checked for one)."""
    path = root
    for part in relative.split("/"):
        path = path / part
        if path.is_symlink():
            return
        if os.geteuid() == 0 and path.stat().st_uid == 0:
            owner.give(path)
