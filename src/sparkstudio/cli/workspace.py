"""``sparkstudio workspace``: workspaces of a studio."""

from __future__ import annotations

import webbrowser
from collections.abc import Collection
from typing import Annotated

import typer

from sparkstudio.cli import workspace_repo
from sparkstudio.cli.common import (
    EVENT_COLUMNS,
    JsonOption,
    StudioOption,
    TagOption,
    TimeoutOption,
    connect,
    looks_like_id,
    parse_tags,
    resolve_studio,
    watch,
    workspace_ids,
)
from sparkstudio.cli.output import Column, console, done, emit_json, errors, record, table
from sparkstudio.client import Client
from sparkstudio.client.resources import WORKSPACE_RUNNING, WORKSPACE_STOPPED
from sparkstudio.schemas.workspaces import WorkspacePublic

app = typer.Typer(no_args_is_help=True)
app.add_typer(
    workspace_repo.app,
    name="repo",
    help="Git repositories cloned into a workspace's files (at most three).",
)

IdleTimeoutOption = Annotated[
    int | None,
    typer.Option(
        "--idle-timeout", help="Seconds without activity before the server stops (60-604800)."
    ),
]
_BROWSER_LOGIN = "your browser must be logged in to the sparkstudio console"


def _columns(base_url: str) -> list[Column]:
    return [
        ("ID", lambda w: w.id),
        ("NAME", lambda w: w.name),
        ("OWNER", lambda w: w.owner),
        ("STATUS", lambda w: w.status),
        ("NETWORK", lambda w: w.network),
        ("CLUSTER", lambda w: w.cluster_id),
        ("URL", lambda w: base_url + w.url),
        ("TAGS", lambda w: w.tags),
        ("CREATED", lambda w: w.created_at),
    ]


def _find(client: Client, studio_id: str, workspace: str) -> WorkspacePublic:
    if looks_like_id(workspace, "ws"):
        return client.workspaces.get(studio_id, workspace)
    return client.workspaces.get_by_name(studio_id, workspace)


def _wait(
    client: Client,
    workspace: WorkspacePublic,
    statuses: Collection[str],
    *,
    timeout: float,
    quiet: bool,
) -> WorkspacePublic:
    """Wait until the status is one of ``statuses``, showing progress unless quiet."""
    return watch(
        "workspace",
        workspace,
        lambda on_change: client.workspaces.wait(
            workspace.studio_id, workspace.id, statuses, timeout=timeout, on_change=on_change
        ),
        quiet=quiet,
        skip_unchanged=True,
    )


@app.command("create")
def create(
    name: str,
    studio: StudioOption = None,
    description: Annotated[str, typer.Option()] = "",
    network: Annotated[str | None, typer.Option(help="One of the studio's networks.")] = None,
    tag: TagOption = None,
    idle_timeout: IdleTimeoutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a workspace in a studio (STOPPED until started or opened)."""
    with connect() as client:
        created = client.workspaces.create(
            resolve_studio(client, studio),
            name=name,
            description=description,
            network=network,
            tags=parse_tags(tag),
            idle_timeout_seconds=idle_timeout,
        )
    record(created, as_json=as_json)


@app.command("list")
def list_(
    studio: StudioOption = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    mine: Annotated[bool, typer.Option(help="Only workspaces you own.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The studio's workspaces, with the URL each opens at."""
    with connect() as client:
        owner_id = client.me().user.id if mine else None
        rows = client.workspaces.list(
            resolve_studio(client, studio),
            status=status.upper() if status else None,
            owner_id=owner_id,
        )
    table(rows, _columns(client.url), as_json=as_json, empty="No workspaces in this studio yet.")


@app.command("describe")
def describe(workspace: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """Describe a workspace (name or id)."""
    with connect() as client:
        found = client.workspaces.get(*workspace_ids(client, studio, workspace))
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
    idle_timeout: IdleTimeoutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rename, describe, tag a workspace or change its idle timeout."""
    with connect() as client:
        updated = client.workspaces.update(
            *workspace_ids(client, studio, workspace),
            name=name,
            description=description,
            tags=parse_tags(tag),
            idle_timeout_seconds=idle_timeout,
        )
    record(updated, as_json=as_json)


@app.command("delete")
def delete(
    workspace: str,
    studio: StudioOption = None,
    purge: Annotated[
        bool, typer.Option("--purge", help="Also delete its files from the studio's storage.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete a stopped workspace; its files stay in the storage unless --purge."""
    with connect() as client:
        studio_id, workspace_id = workspace_ids(client, studio, workspace)
        client.workspaces.delete(studio_id, workspace_id, purge=purge)
    if purge:
        message = f"Deleted workspace {workspace} and its files."
    else:
        message = (
            f"Deleted workspace {workspace}; its files stay in the studio's storage "
            "('sparkstudio workspace leftovers' lists them)."
        )
    done(message, as_json=as_json, payload={"ok": True, "id": workspace_id, "purged": purge})


@app.command("events")
def events(workspace: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """The workspace's status changes with reasons."""
    with connect() as client:
        rows = client.workspaces.events(*workspace_ids(client, studio, workspace))
    table(rows, EVENT_COLUMNS, as_json=as_json, empty="No events.")


def _print_open(client: Client, workspace: WorkspacePublic) -> str:
    url = client.url + workspace.url
    console.print(
        f"Workspace {workspace.name} is {workspace.status}: {url}\n"
        f"  ({_BROWSER_LOGIN}; the CLI's token is not passed on)",
        highlight=False,
        markup=False,
    )
    return url


@app.command("start")
def start(
    workspace: str,
    studio: StudioOption = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until it is READY or ATTACHED.")
    ] = False,
    timeout: TimeoutOption = 300,
    as_json: JsonOption = False,
) -> None:
    """Start the workspace's JupyterLab server."""
    with connect() as client:
        started = client.workspaces.start(*workspace_ids(client, studio, workspace))
        if wait:
            started = _wait(client, started, WORKSPACE_RUNNING, timeout=timeout, quiet=as_json)
    if as_json:
        emit_json(started)
    elif wait:
        _print_open(client, started)
    else:
        console.print(
            f"Workspace {started.name} ({started.id}) is starting; "
            f"'sparkstudio workspace open {started.name}' waits and prints its URL.",
            highlight=False,
            markup=False,
        )


@app.command("stop")
def stop(
    workspace: str,
    studio: StudioOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until it is STOPPED.")] = False,
    timeout: TimeoutOption = 300,
    as_json: JsonOption = False,
) -> None:
    """Stop the server and its kernels; the files are kept."""
    with connect() as client:
        stopped = client.workspaces.stop(*workspace_ids(client, studio, workspace))
        if wait:
            stopped = _wait(client, stopped, {WORKSPACE_STOPPED}, timeout=timeout, quiet=as_json)
    if as_json:
        emit_json(stopped)
        return
    state = "is" if stopped.status == WORKSPACE_STOPPED else "is being"
    console.print(f"Workspace {stopped.name} ({stopped.id}) {state} stopped.", highlight=False)


@app.command("open")
def open_(
    workspace: str,
    studio: StudioOption = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Only print the URL.")] = False,
    timeout: TimeoutOption = 300,
    as_json: JsonOption = False,
) -> None:
    """Start the workspace if needed, wait, print its URL and open it in a browser.

    The browser must be logged in to the sparkstudio console: the CLI's token is not
    passed on.
    """
    with connect() as client:
        found = _find(client, resolve_studio(client, studio), workspace)
        if found.status not in WORKSPACE_RUNNING:
            found = client.workspaces.start(found.studio_id, found.id)
        found = _wait(client, found, WORKSPACE_RUNNING, timeout=timeout, quiet=as_json)
    url = client.url + found.url
    if as_json:
        emit_json({"workspace_id": found.id, "status": found.status, "url": url})
    else:
        _print_open(client, found)
    if not no_browser and not webbrowser.open(url):
        errors.print("No browser could be opened; open the URL yourself.", highlight=False)


@app.command("attach")
def attach(
    workspace: str,
    cluster: Annotated[str, typer.Argument(help="A RUNNING or WAITING cluster: name or id.")],
    studio: StudioOption = None,
    as_json: JsonOption = False,
) -> None:
    """Attach the workspace's kernels to a cluster, or switch them to another one."""
    with connect() as client:
        attached = client.workspaces.attach(*workspace_ids(client, studio, workspace), cluster)
    if as_json:
        emit_json(attached)
        return
    which = cluster if cluster == attached.cluster_id else f"{cluster} ({attached.cluster_id})"
    console.print(
        f"Workspace {attached.name} is attached to cluster {which}; "
        "its kernels use it from their next cell.",
        highlight=False,
        markup=False,
    )


@app.command("detach")
def detach(workspace: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """Detach the workspace from its cluster."""
    with connect() as client:
        detached = client.workspaces.detach(*workspace_ids(client, studio, workspace))
    if as_json:
        emit_json(detached)
    else:
        console.print(f"Workspace {detached.name} is detached.", highlight=False, markup=False)


@app.command("shares")
def shares(workspace: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """The members the workspace is shared with."""
    with connect() as client:
        rows = client.workspaces.shares(*workspace_ids(client, studio, workspace))
    columns = [("USER", lambda s: s.user), ("USER ID", lambda s: s.user_id)]
    table(rows, columns, as_json=as_json, empty="Not shared with anyone.")


@app.command("share")
def share(
    workspace: str,
    user: Annotated[str, typer.Argument(help="The user name of a studio member.")],
    studio: StudioOption = None,
    as_json: JsonOption = False,
) -> None:
    """Let a studio member open and use the workspace (owner or studio admin)."""
    with connect() as client:
        shared = client.workspaces.share(*workspace_ids(client, studio, workspace), user)
    if as_json:
        emit_json(shared)
    else:
        console.print(f"Shared workspace {workspace} with {shared.user}.", highlight=False)


@app.command("unshare")
def unshare(
    workspace: str,
    user: Annotated[str, typer.Argument(help="A user name.")],
    studio: StudioOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stop sharing the workspace with a user (owner or studio admin)."""
    with connect() as client:
        client.workspaces.unshare(*workspace_ids(client, studio, workspace), user)
    done(f"Workspace {workspace} is no longer shared with {user}.", as_json=as_json)


@app.command("leftovers")
def leftovers(studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """Files left in the studio's storage by workspaces deleted without --purge (admins)."""
    with connect() as client:
        rows = client.workspaces.leftovers(resolve_studio(client, studio))
    columns = [("WORKSPACE ID", lambda f: f.workspace_id), ("URL", lambda f: f.url)]
    table(rows, columns, as_json=as_json, empty="No files left by deleted workspaces.")
