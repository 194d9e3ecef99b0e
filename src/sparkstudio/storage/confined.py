"""File operations beneath a local root that no symbolic link can lead out of.

Files under a studio's root are written by its members, who can plant a symbolic link
anywhere (``ws-1/notebook.ipynb -> /srv/other-studio/…``) and swap it in between a check
and a use. So nothing here checks a path and then opens it: each component is opened
relative to the directory opened before it, with ``O_NOFOLLOW`` (and ``O_DIRECTORY`` for
directories), so the kernel itself refuses to follow a link at any level below the root.
The root itself is the platform's choice and is trusted.

A link met is a ``PermissionError`` naming the path; a malformed ``relative`` (``..``,
``.``, empty parts, NUL, a leading ``/``) is a ``ValueError``. All functions block.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_DIRECTORY = _READ | os.O_DIRECTORY
_HANDLE = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC  # names an entry, follows nothing
DIRECTORY_MODE = 0o700
_CHUNK = 1 << 20


def read_bytes_beneath(root: Path, relative: str) -> bytes:
    """The bytes of the regular file ``relative`` under ``root``."""
    with (
        _opened_file(root, relative) as descriptor,
        os.fdopen(descriptor, "rb", closefd=False) as f,
    ):
        return f.read()


def open_beneath(root: Path, relative: str) -> BinaryIO:
    """The regular file ``relative`` under ``root``, open for reading (the caller closes it)."""
    with _opened_file(root, relative) as descriptor:
        return os.fdopen(os.dup(descriptor), "rb")


def copy_out_beneath(root: Path, relative: str, destination: Path) -> None:
    """Stream the regular file ``relative`` under ``root`` to ``destination`` (the
    platform's own path: created or truncated, mode 0o600, never through a link)."""
    with _opened_file(root, relative) as descriptor:
        target = os.open(
            destination, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        with (
            os.fdopen(descriptor, "rb", closefd=False) as source,
            os.fdopen(target, "wb") as sink,
        ):
            shutil.copyfileobj(source, sink, _CHUNK)


def write_beneath(root: Path, relative: str, source: Path | bytes, *, mode: int = 0o600) -> None:
    """Store ``source`` (bytes, or the platform's own file, streamed) at ``relative``.

    Atomic: a temporary file beside the target, fsynced, renamed over it. Missing
    directories are created (mode 0o700). An existing link at the target is refused,
    though rename(2) would only have replaced the link itself.
    """
    *directories, name = _parts(relative)
    with _directory(root, directories, create=True) as parent:
        _refuse_link(parent, name, relative)
        temporary = f".~{secrets.token_hex(8)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        descriptor = os.open(temporary, flags, mode, dir_fd=parent)
        try:
            with os.fdopen(descriptor, "wb") as sink:
                if isinstance(source, bytes):
                    sink.write(source)
                else:
                    with open(source, "rb") as data:
                        shutil.copyfileobj(data, sink, _CHUNK)
                sink.flush()
                os.fchmod(sink.fileno(), mode)  # exactly ``mode``, whatever the umask
                os.fsync(sink.fileno())
            os.replace(temporary, name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=parent)
            raise
        os.fsync(parent)  # make the rename itself durable


def makedirs_beneath(root: Path, relative: str) -> None:
    """Create the directory ``relative`` and its missing parents under ``root`` (0o700)."""
    with _directory(root, _parts(relative), create=True):
        pass


def _parts(relative: str) -> list[str]:
    parts = relative.split("/")
    for part in parts:
        if part in ("", ".", "..") or "\0" in part:
            raise ValueError(
                f"{relative!r} is not a relative path of plain names ('/'-separated; "
                "no '.', '..', empty parts or NUL)"
            )
    return parts


@contextlib.contextmanager
def _directory(root: Path, parts: list[str], *, create: bool) -> Iterator[int]:
    """A descriptor of the directory ``parts`` under ``root``, opened link-free."""
    current = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # trusted: may be a link
    try:
        for index, part in enumerate(parts):
            shown = "/".join(parts[: index + 1])
            following = _open_directory(current, part, shown, create)
            os.close(current)
            current = following
        yield current
    finally:
        os.close(current)


def _open_directory(parent: int, name: str, shown: str, create: bool) -> int:
    """Open ``name`` in ``parent`` as a directory, never through a link.

    An O_PATH handle of the entry itself (a link is not followed, it is the handle) tells
    what it is without a second lookup; the directory is then opened through that handle.
    """
    try:
        handle = os.open(name, _HANDLE, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise FileNotFoundError(f"{shown} does not exist") from None
        with contextlib.suppress(FileExistsError):  # made at the same time: use that one
            os.mkdir(name, DIRECTORY_MODE, dir_fd=parent)
        handle = os.open(name, _HANDLE, dir_fd=parent)
    try:
        kind = os.fstat(handle).st_mode
        if stat.S_ISLNK(kind):
            raise PermissionError(f"{shown} is a symbolic link; links are not followed here")
        if not stat.S_ISDIR(kind):
            raise NotADirectoryError(f"{shown} is not a directory")
        return os.open(".", _DIRECTORY, dir_fd=handle)
    finally:
        os.close(handle)


@contextlib.contextmanager
def _opened_file(root: Path, relative: str) -> Iterator[int]:
    """A descriptor of the regular file ``relative``, opened without following links."""
    *directories, name = _parts(relative)
    with _directory(root, directories, create=False) as parent:
        try:
            # O_NONBLOCK: a FIFO planted under the root must not hang the caller on open.
            descriptor = os.open(name, _READ | os.O_NONBLOCK, dir_fd=parent)
        except FileNotFoundError:
            raise FileNotFoundError(f"{relative} does not exist") from None
        except OSError as error:
            raise _refusal(parent, name, relative, error) from None
    try:
        kind = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(kind):
            raise IsADirectoryError(f"{relative} is a directory")
        if not stat.S_ISREG(kind):
            raise PermissionError(f"{relative} is not a regular file")
        os.set_blocking(descriptor, True)
        yield descriptor
    finally:
        os.close(descriptor)


def _refusal(parent: int, name: str, shown: str, error: OSError) -> OSError:
    """What to raise when opening the file ``name`` in ``parent`` with O_NOFOLLOW failed."""
    if error.errno == errno.ELOOP:  # the kernel met a link where the name is
        return PermissionError(f"{shown} is a symbolic link; links are not followed here")
    return error


def _refuse_link(parent: int, name: str, shown: str) -> None:
    """Raise PermissionError if ``name`` in ``parent`` is a symbolic link."""
    try:
        status = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(status.st_mode):
        raise PermissionError(f"{shown} is a symbolic link; links are not followed here")
