"""``sparkstudio workspace``: workspaces of a studio."""

from __future__ import annotations

from typing import Annotated

import typer

from sparkstudio.cli.common import (
    JsonOption,
    StudioOption,
    connect,
    looks_like_id,
    parse_tags,
    resolve_studio,
)
from sparkstudio.cli.output import done, record, table
from sparkstudio.client import Client

app = typer.Typer(no_args_is_help=True)

TagOption = Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE (repeatable).")]
_COLUMNS = [
    ("ID", lambda w: w.id),
    ("NAME", lambda w: w.name),
    ("OWNER", lambda w: w.owner),
    ("STATUS", lambda w: w.status),
    ("NETWORK", lambda w: w.network),
    ("CLUSTER", lambda w: w.cluster_id),
    ("TAGS", lambda w: w.tags),
    ("CREATED", lambda w: w.created_at),
]


def _workspace_id(client: Client, studio_id: str, workspace: str) -> str:
    if looks_like_id(workspace, "ws"):
        return workspace
    return client.workspaces.get_by_name(studio_id, workspace).id


@app.command("create")
def create(
    name: str,
    studio: StudioOption = None,
    description: Annotated[str, typer.Option()] = "",
    network: Annotated[str | None, typer.Option(help="One of the studio's networks.")] = None,
    tag: TagOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a workspace in a studio."""
    with connect() as client:
        created = client.workspaces.create(
            resolve_studio(client, studio),
            name=name,
            description=description,
            network=network,
            tags=parse_tags(tag),
        )
    record(created, as_json=as_json)


@app.command("list")
def list_(
    studio: StudioOption = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    mine: Annotated[bool, typer.Option(help="Only workspaces you own.")] = False,
    as_json: JsonOption = False,
) -> None:
    with connect() as client:
        owner_id = client.me().user.id if mine else None
        rows = client.workspaces.list(
            resolve_studio(client, studio),
            status=status.upper() if status else None,
            owner_id=owner_id,
        )
    table(rows, _COLUMNS, as_json=as_json, empty="No workspaces in this studio yet.")


@app.command("describe")
def describe(workspace: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """Describe a workspace (name or id)."""
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        found = client.workspaces.get(studio_id, _workspace_id(client, studio_id, workspace))
    record(found, as_json=as_json)


@app.command("update")
def update(
    workspace: str,
    studio: StudioOption = None,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="KEY=VALUE (repeatable); replaces all tags.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        updated = client.workspaces.update(
            studio_id,
            _workspace_id(client, studio_id, workspace),
            name=name,
            description=description,
            tags=parse_tags(tag),
        )
    record(updated, as_json=as_json)


@app.command("delete")
def delete(workspace: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        client.workspaces.delete(studio_id, _workspace_id(client, studio_id, workspace))
    done(f"Deleted workspace {workspace}.", as_json=as_json)


@app.command("events")
def events(workspace: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """The workspace's status changes with reasons."""
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        rows = client.workspaces.events(studio_id, _workspace_id(client, studio_id, workspace))
    columns = [
        ("TIME", lambda e: e.created_at),
        ("FROM", lambda e: e.from_status),
        ("TO", lambda e: e.to_status),
        ("REASON", lambda e: e.reason.code),
        ("MESSAGE", lambda e: e.reason.message),
        ("ACTOR", lambda e: e.actor),
    ]
    table(rows, columns, as_json=as_json, empty="No events.")
