"""``sparkstudio notebook``: notebooks run headless on a cluster or an application."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from sparkstudio.cli.common import (
    EVENT_COLUMNS,
    JsonOption,
    StudioOption,
    TagOption,
    connect,
    looks_like_id,
    parse_tags,
    resolve_studio,
    watch_events,
)
from sparkstudio.cli.output import console, emit_json, record, table
from sparkstudio.client import Client
from sparkstudio.errors import NotFound
from sparkstudio.schemas.notebook_executions import NotebookExecutionPublic

app = typer.Typer(no_args_is_help=True)

ExecutionArgument = Annotated[str, typer.Argument(help="The execution's id (or name).")]
URI_SCHEMES = ("s3://", "file://")

EXECUTION_COLUMNS = [
    ("ID", lambda e: e.id),
    ("NAME", lambda e: e.name),
    ("STATUS", lambda e: e.status),
    ("NOTEBOOK", lambda e: e.notebook.path or e.notebook.uri),
    ("TARGET", lambda e: f"{e.target.kind.lower()} {e.target.id}"),
    ("CREATED", lambda e: e.created_at),
    ("ENDED", lambda e: e.ended_at),
]


def _label(execution: NotebookExecutionPublic) -> str:
    return f"{execution.name} ({execution.id})" if execution.name else execution.id


def _execution_id(client: Client, studio_id: str, execution: str) -> str:
    """An execution by id, or by name (the latest of that name)."""
    if looks_like_id(execution, "ne"):
        return execution
    named = [e for e in client.notebook_executions.list(studio_id) if e.name == execution]
    if not named:
        raise NotFound(f"no notebook execution named '{execution}' in studio {studio_id}")
    return named[-1].id


def _ids(client: Client, studio: str | None, execution: str) -> tuple[str, str]:
    studio_id = resolve_studio(client, studio)
    return studio_id, _execution_id(client, studio_id, execution)


def _cluster_id(client: Client, studio_id: str, cluster: str) -> str:
    if looks_like_id(cluster, "cl"):
        return cluster
    return client.clusters.get_by_name(studio_id, cluster).id


def _application_id(client: Client, studio_id: str, application: str) -> str:
    if looks_like_id(application, "app"):
        return application
    return client.applications.get_by_name(studio_id, application).id


def _workspace_id(client: Client, studio_id: str, workspace: str) -> str:
    if looks_like_id(workspace, "ws"):
        return workspace
    return client.workspaces.get_by_name(studio_id, workspace).id


def pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or ():
        key, sep, pair_value = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"'{value}' is not KEY=VALUE", param_hint=option)
        pairs[key] = pair_value
    return pairs


def parse_parameters(values: list[str] | None) -> dict[str, Any]:
    """``-p key=value`` pairs: a value that parses as JSON is that (42, true, [1, 2],
    "quoted"), any other is text."""
    parameters: dict[str, Any] = {}
    for key, text in pairs(values, "-p").items():
        try:
            parameters[key] = json.loads(text)
        except ValueError:
            parameters[key] = text
    return parameters


def _tag_filter(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    key, sep, tag_value = value.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"'{value}' is not KEY=VALUE", param_hint="--tag")
    return key, tag_value


def _wait(
    client: Client, execution: NotebookExecutionPublic, *, quiet: bool
) -> NotebookExecutionPublic:
    """Wait until it ends, one line per state change with its reason unless quiet."""
    executions, ids = client.notebook_executions, (execution.studio_id, execution.id)
    return watch_events(
        "notebook execution",
        execution,
        lambda on_change: executions.wait(*ids, poll=0.5, on_change=on_change),
        lambda: executions.events(*ids),
        quiet=quiet,
        describe=f"sparkstudio notebook describe {execution.id}",
    )


def _print_outputs(execution: NotebookExecutionPublic) -> None:
    if execution.output_notebook_uri:
        console.print(f"Executed notebook: {execution.output_notebook_uri}", highlight=False)
    if execution.output_html_uri:
        console.print(f"HTML: {execution.output_html_uri}", highlight=False)
    if execution.output_notebook_uri or execution.output_html_uri:
        console.print(
            f"[dim]Download with 'sparkstudio notebook download {execution.id}' "
            "(--html for the HTML).[/dim]",
            highlight=False,
        )


NotebookArgument = Annotated[
    str,
    typer.Argument(
        help="A path in the workspace given with --workspace (e.g. reports/daily.ipynb), "
        "or an s3://… or file:///… URI."
    ),
]
ClusterOption = Annotated[
    str | None, typer.Option(help="Run it on this cluster (name or id): RUNNING or WAITING.")
]
ApplicationOption = Annotated[
    str | None, typer.Option(help="Run it on this serverless application (name or id).")
]
WorkspaceOption = Annotated[
    str | None, typer.Option(help="The workspace (name or id) NOTEBOOK is a path in.")
]
ParameterOption = Annotated[
    list[str] | None,
    typer.Option(
        "--parameter",
        "-p",
        help="KEY=VALUE (repeatable); VALUE is read as JSON when it parses, else as text.",
    ),
]
EnvOption = Annotated[
    list[str] | None,
    typer.Option("--env", help="KEY=VALUE environment variable of its kernel (repeatable)."),
]
OutputLocationOption = Annotated[
    str | None,
    typer.Option(help="Where its outputs go: s3://… or file:///… (the studio's by default)."),
]
TimeoutOption = Annotated[
    int | None, typer.Option(help="Stop it after this many minutes; 0: never.")
]


def check_source(
    notebook: str, workspace: str | None, cluster: str | None, application: str | None
) -> None:
    """Refuse, before connecting, a notebook or target the options cannot name."""
    if (cluster is None) == (application is None):
        raise typer.BadParameter("give either --cluster or --application", param_hint="--cluster")
    is_uri = notebook.startswith(URI_SCHEMES)
    if is_uri and workspace is not None:
        raise typer.BadParameter(
            "a notebook given by URI is in no workspace: drop --workspace", param_hint="--workspace"
        )
    if not is_uri and workspace is None:
        raise typer.BadParameter(
            "a notebook path needs --workspace (or give an s3:// or file:/// URI)",
            param_hint="--workspace",
        )


def resolve_source(
    client: Client,
    studio_id: str,
    notebook: str,
    workspace: str | None,
    cluster: str | None,
    application: str | None,
) -> tuple[dict[str, str], Literal["CLUSTER", "APPLICATION"], str]:
    """The API's notebook source, target kind and target id, names resolved to ids."""
    source = (
        {"uri": notebook}
        if workspace is None
        else {"workspace_id": _workspace_id(client, studio_id, workspace), "path": notebook}
    )
    if cluster is not None:
        return source, "CLUSTER", _cluster_id(client, studio_id, cluster)
    assert application is not None
    return source, "APPLICATION", _application_id(client, studio_id, application)


@app.command("run")
def run(
    notebook: NotebookArgument,
    cluster: ClusterOption = None,
    application: ApplicationOption = None,
    workspace: WorkspaceOption = None,
    parameter: ParameterOption = None,
    env: EnvOption = None,
    output_location: OutputLocationOption = None,
    timeout_minutes: TimeoutOption = None,
    tag: TagOption = None,
    name: Annotated[str | None, typer.Option(help="A name for the execution.")] = None,
    studio: StudioOption = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Wait until it ends; show its outputs; exit 1 unless FINISHED."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run a notebook headless, with parameters, on a cluster or an application."""
    check_source(notebook, workspace, cluster, application)
    parameters = parse_parameters(parameter)
    environment = pairs(env, "--env")
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        source, kind, target_id = resolve_source(
            client, studio_id, notebook, workspace, cluster, application
        )
        execution = client.notebook_executions.start(
            studio_id,
            source,
            kind,
            target_id,
            name=name,
            parameters=parameters or None,
            environment_variables=environment or None,
            output_location=output_location,
            timeout_minutes=timeout_minutes,
            tags=parse_tags(tag),
        )
        if not wait:
            if as_json:
                emit_json(execution)
            else:
                console.print(
                    f"Notebook execution {_label(execution)} is {execution.status}.",
                    highlight=False,
                )
            return
        if not as_json:
            console.print(f"Started notebook execution {_label(execution)}.", highlight=False)
        ended = _wait(client, execution, quiet=as_json)
    if as_json:
        emit_json(ended)
    else:
        reason = ended.status_reason
        console.print(
            f"Notebook execution {_label(ended)} is {ended.status}: "
            f"{reason.message or reason.code}",
            highlight=False,
        )
        _print_outputs(ended)
    if ended.status != "FINISHED":
        raise typer.Exit(1)


@app.command("list")
def list_(
    studio: StudioOption = None,
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Only in this state (repeatable).")
    ] = None,
    notebook: Annotated[
        str | None, typer.Option(help="Only of this notebook (its workspace path or URI).")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Only on this cluster or application (its id).")
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Only with this tag, KEY=VALUE.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The studio's notebook executions, oldest first."""
    wanted_tag = _tag_filter(tag)
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        rows = client.notebook_executions.list(
            studio_id, states=state, notebook=notebook, target_id=target, tag=wanted_tag
        )
    table(rows, EXECUTION_COLUMNS, as_json=as_json, empty="No notebook executions.")


@app.command("describe")
def describe(
    execution: ExecutionArgument, studio: StudioOption = None, as_json: JsonOption = False
) -> None:
    """Describe an execution: its state and reason, notebook, parameters, outputs."""
    with connect() as client:
        found = client.notebook_executions.get(*_ids(client, studio, execution))
    record(found, as_json=as_json)


@app.command("stop")
def stop(
    execution: ExecutionArgument,
    studio: StudioOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until it has ended.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Stop an execution that has not ended (STOP_PENDING, STOPPING, then STOPPED)."""
    with connect() as client:
        result = client.notebook_executions.stop(*_ids(client, studio, execution))
        if wait:
            result = _wait(client, result, quiet=as_json)
    if as_json:
        emit_json(result)
        return
    console.print(f"Notebook execution {_label(result)} is {result.status}.", highlight=False)


@app.command("events")
def events(
    execution: ExecutionArgument, studio: StudioOption = None, as_json: JsonOption = False
) -> None:
    """The execution's state changes, with reasons."""
    with connect() as client:
        rows = client.notebook_executions.events(*_ids(client, studio, execution))
    table(rows, EVENT_COLUMNS, as_json=as_json, empty="No events.")


@app.command("download")
def download(
    execution: ExecutionArgument,
    html: Annotated[
        bool, typer.Option("--html", help="Its HTML rendering, not the executed notebook.")
    ] = False,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Write it here ('-': standard output); its own name by default."
        ),
    ] = None,
    studio: StudioOption = None,
) -> None:
    """Download the executed notebook (with its outputs) or its HTML, once written."""
    kind: Literal["ipynb", "html"] = "html" if html else "ipynb"
    with connect() as client:
        studio_id, execution_id = _ids(client, studio, execution)
        executions = client.notebook_executions
        data = executions.output(studio_id, execution_id, format=kind)
        if output is None:
            found = executions.get(studio_id, execution_id)
            uri = found.output_html_uri if html else found.output_notebook_uri
            output = uri.rstrip("/").rsplit("/", 1)[-1] or f"{execution_id}.{kind}"
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    Path(output).write_bytes(data)
    console.print(f"Wrote {output} ({len(data)} bytes).", highlight=False)
