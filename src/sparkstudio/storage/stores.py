"""Object stores that hold workspace files, opened through fsspec.

A store is a root URL (``file:///srv/studio/ws-1`` or ``s3://bucket/studios/st-1/ws-1``) plus
fsspec storage options. Object stores have no directories: a directory exists while a key
lies under it, and an empty one is kept by a zero-byte ``<dir>/`` marker object (the
convention of the S3 console and most tools).

All functions and ``Store`` methods block: call them from a worker thread in async code.
fsspec's bulk helpers (``rm``, ``mv``, ``copy``) expand ``*?[`` in a path as a glob
pattern, so ``Store`` gives them no such path: it falls back to one call per object.

S3 access is bounded: a few tries of a request (botocore's own default is 13 s of
retries against a refused port), and no credential lookup at the instance-metadata
address unless ``AWS_EC2_METADATA_DISABLED=false`` asks for it (on EC2 with an instance
role). :func:`plain_errors` turns botocore's failures into OSErrors that say why.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import fsspec  # type: ignore[import-untyped]
from fsspec.implementations.local import LocalFileSystem  # type: ignore[import-untyped]

ALLOWED_SCHEMES = ("file", "s3")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # when a store cannot tell (S3 directories)
_PARALLEL = 16  # concurrent requests when many keys of an object store move or go
_GLOB = re.compile(r"[*?[]")  # what fsspec's bulk calls would expand as a pattern
# Three tries of a request, with standard backoff (s3fs keeps its 5 s connect and 15 s
# read timeouts): a store that does not answer says so within seconds.
S3_RETRIES = {"max_attempts": 3, "mode": "standard"}
METADATA_DISABLED_ENV = "AWS_EC2_METADATA_DISABLED"


class StoreUnreachable(ConnectionError):
    """The store did not answer (refused, no route, timed out): worth another try later."""


@dataclass(frozen=True)
class StoreRetries:
    """How often work that needs a store that does not answer tries it, and how long it
    waits between tries (doubled each time): a bounded wait, then a failure with why."""

    tries: int = 4
    first_wait_seconds: float = 5.0

    def wait_after(self, tried: int) -> float | None:
        """The wait before the next try after ``tried`` tries; None: no more tries."""
        if tried >= self.tries:
            return None
        return self.first_wait_seconds * 2.0 ** (tried - 1)


@contextlib.contextmanager
def plain_errors(url: str) -> Iterator[None]:
    """botocore's failures on ``url`` as the OSErrors callers handle: no credentials is a
    PermissionError, a store that does not answer :class:`StoreUnreachable`."""
    try:
        yield
    except StoreUnreachable:
        raise
    except (TimeoutError, ConnectionError) as error:
        raise StoreUnreachable(f"{url} does not answer: {error}") from error
    except Exception as error:
        plain = _plain_botocore_error(url, error)
        if plain is None:
            raise
        raise plain from error


def _plain_botocore_error(url: str, error: Exception) -> OSError | None:
    if not type(error).__module__.startswith("botocore"):
        return None
    # Imported only here: a file:// store (a workspace server's) never needs botocore.
    from botocore import exceptions as boto

    no_credentials = (
        boto.NoCredentialsError,
        boto.PartialCredentialsError,
        boto.CredentialRetrievalError,
    )
    if isinstance(error, no_credentials):
        return PermissionError(f"no credentials for {url}: {error}")
    if isinstance(error, boto.ConnectionError | boto.HTTPClientError):
        return StoreUnreachable(f"{url} does not answer: {error}")
    if isinstance(error, boto.BotoCoreError):
        return OSError(f"{url}: {error}")
    return None


def _bounded_s3_options(options: dict[str, Any]) -> dict[str, Any]:
    # The instance-metadata address only answers on EC2; elsewhere every credential
    # lookup would wait for it. An operator's own setting of the variable wins.
    os.environ.setdefault(METADATA_DISABLED_ENV, "true")
    config = dict(options.get("config_kwargs") or {})
    config.setdefault("retries", S3_RETRIES)
    return {**options, "config_kwargs": config}


def open_store(
    url: str, storage_options: dict[str, Any] | None = None
) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem behind ``url`` and the root path inside it.

    ``file:///x/y`` gives a LocalFileSystem and ``/x/y``; ``s3://bucket/prefix`` gives an
    S3FileSystem and ``bucket/prefix`` (credentials from the options or the environment).
    """
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        allowed = ", ".join(f"{scheme}://" for scheme in ALLOWED_SCHEMES)
        raise ValueError(f"Unsupported store URL {url!r}: the scheme must be one of {allowed}")
    if parts.scheme == "file" and parts.netloc:
        raise ValueError(f"Store URL {url!r} must name an absolute path: file:///path")
    if parts.scheme == "s3" and not parts.netloc:
        raise ValueError(f"Store URL {url!r} must name a bucket: s3://bucket/prefix")
    if ".." in parts.path.split("/") or parts.query or parts.fragment:
        raise ValueError(f"Store URL {url!r} must be a plain path (no '..', '?' or '#')")
    options = dict(storage_options or {})
    if parts.scheme == "s3":
        # Other processes write to the bucket too: never answer from a stale listing.
        options.setdefault("use_listings_cache", False)
        options = _bounded_s3_options(options)
    fs, root = fsspec.core.url_to_fs(url, **options)
    return fs, root.rstrip("/") or "/"


def purge(url: str, storage_options: dict[str, Any] | None = None) -> None:
    """Delete everything stored under ``url`` (the files of a deleted workspace)."""
    store = Store.open(url, storage_options)
    if store.root == "/" or (not store.local and "/" not in store.root):
        raise ValueError(f"Refusing to purge a whole filesystem or bucket: {url!r}")
    if store.stat(store.root) is not None:
        store.remove(store.root)


def list_roots(url: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """The names of the directories right under ``url`` (e.g. one per workspace)."""
    store = Store.open(url, storage_options)
    return sorted(entry.name for entry in store.listdir(store.root) if entry.is_dir)


def fetch_file(url: str, local: Path, storage_options: dict[str, Any] | None = None) -> None:
    """Copy the one file at ``url`` to ``local`` (FileNotFoundError when there is none;
    OSErrors as :func:`plain_errors` says when it cannot be read)."""
    store = Store.open(url, storage_options)
    with plain_errors(url):
        entry = store.stat(store.root)
        if entry is None or entry.is_dir:
            raise FileNotFoundError("no such file")
        local.parent.mkdir(parents=True, exist_ok=True)
        store.fs.get_file(store.root, str(local))


@dataclass(frozen=True)
class Entry:
    """What a store knows about one file or directory."""

    path: str  # inside the filesystem, as fsspec names it
    is_dir: bool
    size: int | None  # None for directories
    modified: datetime  # timezone-aware (UTC)
    created: datetime
    writable: bool

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]


class Store:
    """Blocking file operations on one fsspec filesystem, with the semantics the studio needs.

    Writes are durable when they return; directories work on object stores; names are taken
    literally.
    """

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str) -> None:
        self.fs = fs
        self.root = root
        self.local = isinstance(fs, LocalFileSystem)

    @classmethod
    def open(cls, url: str, storage_options: dict[str, Any] | None = None) -> Store:
        fs, root = open_store(url, storage_options)
        return cls(fs, root)

    def join(self, relative: str) -> str:
        """The filesystem path of ``relative`` (already checked: no ``..``, no empty parts)."""
        return f"{self.root.rstrip('/')}/{relative}" if relative else self.root

    def url(self, path: str) -> str:
        """How to name ``path`` to a person or a hook: a local path or an s3:// URL."""
        return path if self.local else str(self.fs.unstrip_protocol(path))

    def stat(self, path: str) -> Entry | None:
        """What is at ``path``; None if nothing, or a local symlink leading out of the root."""
        if self.local and not self._inside_root(path):
            return None
        try:
            info = self.fs.info(path)
        except FileNotFoundError:
            return None
        return self._entry(info)

    def _inside_root(self, path: str) -> bool:
        real, root = os.path.realpath(path), os.path.realpath(self.root)
        return real == root or real.startswith(root.rstrip(os.sep) + os.sep)

    def listdir(self, path: str) -> list[Entry]:
        """The files and directories right under ``path`` (none if it does not exist)."""
        try:
            infos = self.fs.ls(path, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return []
        own = path.rstrip("/")
        entries = (
            self._entry(info)
            for info in infos
            if not info["name"].endswith("/") and info["name"] != own  # directory markers
        )
        return [entry for entry in entries if entry is not None]

    def read(self, path: str) -> bytes:
        data: bytes = self.fs.cat_file(path)
        return data

    def write(self, path: str, data: bytes) -> None:
        """Store ``data`` at ``path``; returns once the bytes are durable."""
        if self.local:
            self._replace_local(path, lambda file: file.write(data))
        else:
            self.fs.pipe_file(path, data)  # a single PUT: all or nothing

    def upload(self, source: str, path: str) -> None:
        """Store the local file ``source`` at ``path``, as durably as ``write``."""
        if self.local:
            with open(source, "rb") as data:
                self._replace_local(path, lambda file: shutil.copyfileobj(data, file))
        else:
            self.fs.put_file(source, path)  # multipart uploads appear only when complete

    def copy(self, source: str, path: str) -> None:
        """Copy the file ``source`` to ``path`` (server-side on object stores)."""
        if self.local:
            self.upload(source, path)
        else:
            self.fs.cp_file(source, path)

    def makedir(self, path: str) -> None:
        if self.local:
            self.fs.makedirs(path, exist_ok=True)
        elif "/" in path.strip("/"):  # a bucket itself needs no marker
            self.fs.pipe_file(path.rstrip("/") + "/", b"")

    def move(self, source: str, target: str) -> None:
        """Move a file or a whole directory; ``target`` must not exist."""
        if self.local:
            self.fs.makedirs(os.path.dirname(target), exist_ok=True)
            self.fs.mv(source, target)  # one rename(2)
            return
        # Copy everything, then delete: an interruption leaves both copies, never none.
        keys = self._keys(source)
        self._each(lambda key: self._copy_key(key, target + key[len(source) :]), keys)
        self._each(self.fs.rm_file, keys)

    def remove(self, path: str) -> None:
        """Delete a file, or a directory and everything under it."""
        if self.local or not _GLOB.search(path):
            self.fs.rm(path, recursive=True)  # on S3: batched DeleteObjects requests
        else:
            self._each(self.fs.rm_file, self._keys(path))  # one by one, taken literally

    def _keys(self, path: str) -> list[str]:
        """The objects at ``path``: the file itself, or a directory's files and markers."""
        if self.fs.isfile(path):
            return [path]
        keys: list[str] = self.fs.find(path, withdirs=False)
        return keys

    def _copy_key(self, key: str, target: str) -> None:
        if key.endswith("/"):
            self.fs.pipe_file(target, b"")  # markers cannot be copied by name: recreate
        else:
            self.fs.cp_file(key, target)

    @staticmethod
    def _each(action: Callable[[str], object], paths: Iterable[str]) -> None:
        with ThreadPoolExecutor(_PARALLEL) as pool:
            for _ in pool.map(action, paths):  # re-raises the first failure
                pass

    def _entry(self, info: dict[str, Any]) -> Entry | None:
        kind = info.get("type")
        if kind not in ("file", "directory"):
            return None  # sockets, devices: not workspace content
        path: str = info["name"]
        modified = _timestamp(info.get("mtime", info.get("LastModified"))) or EPOCH
        created = _timestamp(info.get("created")) or modified
        return Entry(
            path=path,
            is_dir=kind == "directory",
            size=None if kind == "directory" else int(info.get("size") or 0),
            modified=modified,
            created=created,
            writable=os.access(path, os.W_OK) if self.local else True,
        )

    @staticmethod
    def _replace_local(path: str, fill: Callable[[IO[bytes]], object]) -> None:
        """Write a temporary file beside ``path``, fsync it and rename it over ``path``.

        A crash at any point leaves the old file or the new one, never half of one.
        """
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        temporary = os.path.join(directory, f".~{secrets.token_hex(8)}.tmp")  # hidden
        # O_EXCL with mode 0o666: a fresh file that honours the umask (mkstemp forces 0o600).
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(descriptor, "wb") as file:
                fill(file)
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileNotFoundError):
                shutil.copymode(path, temporary)  # keep an existing file's permissions
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _fsync_directory(directory)  # make the rename itself durable


def _fsync_directory(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _timestamp(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from an fsspec info value (epoch seconds or datetime)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        with contextlib.suppress(ValueError, OverflowError, OSError):  # out-of-range stamps
            return datetime.fromtimestamp(value, tz=UTC)
    return None
