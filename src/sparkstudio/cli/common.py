"""What every CLI command shares: options, the connection, studio resolution."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import Annotated

import typer

from sparkstudio.cli import config
from sparkstudio.client import Client
from sparkstudio.errors import StudioError, Unauthenticated

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]
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
