"""OS identities that users' processes run as, created and owned by the platform.

A studio has one identity (its clusters, applications, job and notebook runners); a user
has one for their workspaces (a shared workspace runs as its owner). Each is a system
account without a login shell or a home, with a group of its own, named after the id it
serves (``ss-st-…``, ``ss-usr-…``), in a uid range of its own. They are created when first
needed, so studios that never run anything cost nothing.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import threading
from dataclasses import dataclass

PREFIX = "ss-"
UID_MIN, UID_MAX = 700_000, 799_999  # far from people's accounts and system ones
_USERADD_TIMEOUT = 30
_lock = threading.Lock()


class IdentityError(RuntimeError):
    """The account could not be created or removed; the message says why."""


@dataclass(frozen=True)
class Identity:
    name: str
    uid: int
    gid: int


def account_name(owner_id: str) -> str:
    """``st-…`` → ``ss-st-…`` (32 characters at most, as useradd wants)."""
    name = f"{PREFIX}{owner_id}"
    if len(name) > 32 or not all(c.isalnum() or c in "-_" for c in name):
        raise IdentityError(f"no account name can be made of {owner_id!r}")
    return name


def current() -> Identity:
    """The control plane's own identity (single-user mode runs everything as it)."""
    uid, gid = os.getuid(), os.getgid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return Identity(name, uid, gid)


def lookup(name: str) -> Identity | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return Identity(entry.pw_name, entry.pw_uid, entry.pw_gid)


def ensure(owner_id: str, what: str) -> Identity:
    """The identity serving ``owner_id`` (a studio or user id), created when missing.

    ``what`` says what it serves, for the account's comment (``studio analytics``).
    """
    name = account_name(owner_id)
    found = lookup(name)
    if found is not None:
        return found
    with _lock:
        found = lookup(name)
        if found is not None:
            return found
        argv = [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            f"sparkstudio {what}"[:200],
            "-K",
            f"SYS_UID_MIN={UID_MIN}",
            "-K",
            f"SYS_UID_MAX={UID_MAX}",
            "-K",
            f"SYS_GID_MIN={UID_MIN}",
            "-K",
            f"SYS_GID_MAX={UID_MAX}",
            name,
        ]
        _run(argv, f"creating the account {name}")
    created = lookup(name)
    if created is None:
        raise IdentityError(f"useradd said it created {name}, yet it does not exist")
    return created


def remove(owner_id: str) -> None:
    """Delete the account serving ``owner_id`` (and its group), if there is one."""
    name = account_name(owner_id)
    with _lock:
        if lookup(name) is None:
            return
        _run(["userdel", name], f"removing the account {name}")
        try:
            grp.getgrnam(name)
        except KeyError:
            return
        _run(["groupdel", name], f"removing the group {name}")


def owned_accounts() -> list[str]:
    """Every account sparkstudio made on this host."""
    return [
        entry.pw_name
        for entry in pwd.getpwall()
        if entry.pw_name.startswith(PREFIX) and UID_MIN <= entry.pw_uid <= UID_MAX
    ]


def _run(argv: list[str], doing: str) -> None:
    try:
        result = subprocess.run(  # noqa: S603
            argv, capture_output=True, text=True, timeout=_USERADD_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise IdentityError(f"{doing}: {error}") from None
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip() or f"exit code {result.returncode}"
        raise IdentityError(f"{doing}: {message}")
