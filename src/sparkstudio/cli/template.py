"""``sparkstudio template``: cluster templates, published and shared by platform admins."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sparkstudio.cli.common import JsonOption, StudioOption, connect, resolve_studio
from sparkstudio.cli.output import console, done, emit_json, record, table
from sparkstudio.client import Client
from sparkstudio.errors import StudioError
from sparkstudio.schemas.templates import TemplateParameterPublic, TemplatePublic

app = typer.Typer(no_args_is_help=True)

SharedStudioOption = Annotated[
    str | None,
    typer.Option(
        "--studio",
        "-s",
        help=(
            "Show the templates shared with this studio (name or id); defaults to "
            "'sparkstudio studio use' or $SPARKSTUDIO_STUDIO. Without one: every template "
            "(platform admins)."
        ),
    ),
]
VersionOption = Annotated[
    int | None, typer.Option(help="A published version; the latest by default.")
]
# Shown as the parameters table, and the text only in JSON.
_HIDDEN = frozenset({"parameters", "body"})


def _shared_studio(client: Client, studio: str | None) -> str | None:
    """The chosen studio's id, or None when no studio is given nor set as the default."""
    try:
        return resolve_studio(client, studio)
    except StudioError as error:
        if error.reason != "MissingStudio":
            raise
        return None


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else str(value)


def _allowed(parameter: TemplateParameterPublic) -> str:
    """Allowed values, or the range of a number."""
    if parameter.allowed_values is not None:
        return ", ".join(str(v) for v in parameter.allowed_values)
    if parameter.min is None and parameter.max is None:
        return ""
    return f"{_number(parameter.min)}..{_number(parameter.max)}"


def _show_parameters(template: TemplatePublic) -> None:
    console.print("\n[bold]Parameters[/bold] (sparkstudio cluster create -p NAME=VALUE)")
    columns = [
        ("NAME", lambda p: p.name),
        ("TYPE", lambda p: p.type),
        ("DEFAULT", lambda p: "(required)" if p.default is None else p.default),
        ("ALLOWED", _allowed),
        ("DESCRIPTION", lambda p: p.description or p.label),
    ]
    table(template.parameters, columns, as_json=False, empty="This template takes no parameters.")


@app.command("publish")
def publish(
    file: Annotated[
        Path,
        typer.Argument(
            help="The template's YAML file ('-' for stdin).",
            exists=True,
            dir_okay=False,
            allow_dash=True,
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Publish a template, or the next version of the template the file names."""
    text = sys.stdin.read() if str(file) == "-" else file.read_text()
    with connect() as client:
        published = client.templates.publish(text)
    if as_json:
        emit_json(published)
        return
    console.print(
        f"Published template {published.name} version {published.version}.", highlight=False
    )
    _show_parameters(published)


@app.command("list")
def list_(studio: SharedStudioOption = None, as_json: JsonOption = False) -> None:
    """Every template (platform admins), or the templates shared with a studio."""
    with connect() as client:
        studio_id = _shared_studio(client, studio)
        if studio_id is not None:
            shared = client.templates.list_shared(studio_id)
            columns = [
                ("NAME", lambda t: t.name),
                ("VERSION", lambda t: t.version),
                ("PARAMETERS", lambda t: [p.name for p in t.parameters]),
                ("DESCRIPTION", lambda t: t.description),
            ]
            table(shared, columns, as_json=as_json, empty="No templates are shared with it.")
            return
        every = client.templates.list()
    columns = [
        ("ID", lambda t: t.id),
        ("NAME", lambda t: t.name),
        ("LATEST", lambda t: t.latest_version),
        ("DESCRIPTION", lambda t: t.description),
        ("UPDATED", lambda t: t.updated_at),
    ]
    table(every, columns, as_json=as_json, empty="No templates.")


@app.command("describe")
def describe(
    name: str,
    version: VersionOption = None,
    studio: SharedStudioOption = None,
    as_json: JsonOption = False,
) -> None:
    """A template's parameters: type, default, allowed values or range, description."""
    with connect() as client:
        studio_id = _shared_studio(client, studio)
        found = (
            client.templates.get_shared(studio_id, name, version=version)
            if studio_id is not None
            else client.templates.get(name, version=version)
        )
    if as_json:
        emit_json(found)
        return
    record(found, as_json=False, hide=_HIDDEN)
    _show_parameters(found)


@app.command("share")
def share(name: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """Let a studio's members launch clusters from the template."""
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        client.templates.share(name, studio_id)
    done(f"Shared template {name} with studio {studio or studio_id}.", as_json=as_json)


@app.command("unshare")
def unshare(name: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """Stop new launches from the template in a studio; its running clusters keep running."""
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        client.templates.unshare(name, studio_id)
    done(f"Stopped sharing template {name} with studio {studio or studio_id}.", as_json=as_json)


@app.command("delete")
def delete(name: str, as_json: JsonOption = False) -> None:
    """Delete a template and every version of it; clusters launched from it keep running."""
    with connect() as client:
        client.templates.delete(name)
    done(f"Deleted template {name}.", as_json=as_json)
