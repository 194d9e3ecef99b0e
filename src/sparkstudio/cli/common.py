"""What every CLI command shares: options, the connection, studio resolution, waits."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Protocol, TypeVar

import typer
from rich.text import Text

from sparkstudio.cli import config
from sparkstudio.cli.output import Column, console, errors
from sparkstudio.client import Client
from sparkstudio.errors import StudioError, Unauthenticated
from sparkstudio.schemas.common import StatusReason
from sparkstudio.schemas.events import EventPublic

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]
TagOption = Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE (repeatable).")]
TimeoutOption = Annotated[float, typer.Option(help="Seconds to wait at most.")]
StudioOption = Annotated[
    str | None,
    typer.Option(
        "--studio",
        "-s",
        help="Studio name or id; defaults to 'sparkstudio studio use' or $SPARKSTUDIO_STUDIO.",
    ),
]

_ID = re.compile(r"^[a-z]{1,4}-[0-9a-z]{16}$")


def looks_like_id(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "-") and _ID.match(value) is not None


def connect() -> Client:
    """A client from $SPARKSTUDIO_URL / $SPARKSTUDIO_TOKEN or the saved login."""
    saved = config.load()
    url = os.environ.get("SPARKSTUDIO_URL") or saved.url
    token = os.environ.get("SPARKSTUDIO_TOKEN") or saved.token
    if not url or not token:
        raise Unauthenticated(
            "not logged in; run 'sparkstudio login --url URL --user NAME' (or --sso)"
        )
    expires = saved.expires_at
    if token == saved.token and expires is not None and expires <= datetime.now(UTC):
        raise Unauthenticated(
            f"your login to {saved.url} expired at {expires:%Y-%m-%d %H:%M} UTC; log in again: "
            f"'sparkstudio login --url {saved.url} --user NAME' (or --sso)",
            reason="LoginExpired",
        )
    return Client(url, token)


def resolve_studio(client: Client, studio: str | None) -> str:
    """A studio id from a name or id, falling back to the default studio."""
    chosen = studio or os.environ.get("SPARKSTUDIO_STUDIO") or config.load().studio
    if not chosen:
        raise StudioError(
            "no studio given; pass --studio NAME or set one with 'sparkstudio studio use NAME'",
            reason="MissingStudio",
            status=400,
        )
    if looks_like_id(chosen, "st"):
        return chosen
    return client.studios.get_by_name(chosen).id


def parse_tags(values: list[str] | None) -> dict[str, str] | None:
    if values is None:
        return None
    tags: dict[str, str] = {}
    for value in values:
        key, sep, tag_value = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"'{value}' is not KEY=VALUE", param_hint="--tag")
        tags[key] = tag_value
    return tags


def workspace_ids(client: Client, studio: str | None, workspace: str) -> tuple[str, str]:
    """The studio id and the id of a workspace given by name or id."""
    studio_id = resolve_studio(client, studio)
    if looks_like_id(workspace, "ws"):
        return studio_id, workspace
    return studio_id, client.workspaces.get_by_name(studio_id, workspace).id


EVENT_COLUMNS: list[Column] = [
    ("TIME", lambda e: e.created_at),
    ("FROM", lambda e: e.from_status),
    ("TO", lambda e: e.to_status),
    ("REASON", lambda e: e.reason.code),
    ("MESSAGE", lambda e: e.reason.message),
    ("ACTOR", lambda e: e.actor),
]


class Watched(Protocol):
    """A resource with a status that a command can wait on (a workspace, a cluster)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def status_reason(self) -> StatusReason: ...


W = TypeVar("W", bound=Watched)


class Progress:
    """The live line under a wait: status and elapsed time, rendered on every refresh.

    ``skip_unchanged``: print no line for a status equal to the one last shown (the one
    it had when the wait began, at first).
    """

    def __init__(self, kind: str, name: str, status: str, *, skip_unchanged: bool) -> None:
        self.kind, self.name, self.status = kind, name, status
        self.skip_unchanged = skip_unchanged
        self.started = time.monotonic()

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:.0f}s"

    def __rich__(self) -> Text:
        return Text(f"{self.kind} {self.name}: {self.status} ({self.elapsed()})")

    def changed(self, resource: Watched) -> None:
        if self.skip_unchanged and resource.status == self.status:
            return
        self.status = resource.status
        reason = resource.status_reason
        line = Text.assemble(
            (f"{self.elapsed():>5}", "dim"),
            "  ",
            (resource.status, "bold"),
            "  ",
            reason.message or reason.code,
        )
        console.print(line, highlight=False)


def watch(
    kind: str,
    resource: W,
    wait: Callable[[Callable[[W], None] | None], W],
    *,
    quiet: bool,
    skip_unchanged: bool = False,
) -> W:
    """``wait(on_change)`` for ``resource``, showing its progress unless quiet.

    Ctrl+C stops the wait only (exit status 130); the resource is left as it is.
    """
    if quiet:
        return wait(None)
    progress = Progress(kind, resource.name, resource.status, skip_unchanged=skip_unchanged)
    try:
        with console.status(progress):
            return wait(progress.changed)
    except KeyboardInterrupt:
        errors.print(
            f"Stopped waiting; {kind} {resource.name} is unaffected "
            f"(sparkstudio {kind} describe {resource.id}).",
            highlight=False,
        )
        raise typer.Exit(130) from None


@dataclass(frozen=True)
class _Shown:
    """One event shown as a status line."""

    id: str
    name: str
    status: str
    status_reason: StatusReason


def watch_events(
    kind: str,
    resource: W,
    wait: Callable[[Callable[[W], None] | None], W],
    events: Callable[[], Sequence[EventPublic]],
    *,
    quiet: bool,
    describe: str,
) -> W:
    """``wait(on_change)``, showing every event (state change with its reason) since the
    last look, in order — a resource may go through several between two looks.

    Ctrl+C stops the wait only (exit status 130); ``describe`` says how to look again.
    """
    if quiet:
        return wait(None)
    progress = Progress(kind, resource.name or resource.id, resource.status, skip_unchanged=False)
    shown = 0

    def show_new_events(current: W) -> None:
        nonlocal shown
        seen = events()
        for event in seen[shown:]:
            progress.changed(_Shown(current.id, current.name, event.to_status, event.reason))
        shown = len(seen)

    try:
        with console.status(progress):
            return wait(show_new_events)
    except KeyboardInterrupt:
        errors.print(
            f"Stopped waiting; {kind} {resource.id} goes on ({describe}).", highlight=False
        )
        raise typer.Exit(130) from None
