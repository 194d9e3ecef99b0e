"""``sparkstudio audit``: read and export the audit trail (platform admins)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from sparkstudio.cli.common import JsonOption, connect, looks_like_id
from sparkstudio.cli.output import errors, table
from sparkstudio.client import Client
from sparkstudio.schemas.audit import Outcome

app = typer.Typer(no_args_is_help=True)

_AGO = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
TIME_HELP = "ISO 8601 (UTC unless an offset is given), or an age such as 30m, 12h, 7d."


def parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 time, or an age (``90m``, ``2h``, ``7d``) counted back from now."""
    if value is None:
        return None
    age = _AGO.match(value.strip())
    if age is not None:
        amount, unit = int(age.group(1)), _UNITS[age.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: amount})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"'{value}' is not a time: use {TIME_HELP}", param_hint=option
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


ActorOption = Annotated[str | None, typer.Option("--actor", help="The caller's user name.")]
ActionOption = Annotated[
    str | None, typer.Option("--action", help="An action, e.g. workspace:Start or session:Login.")
]
StudioFilter = Annotated[
    str | None, typer.Option("--studio", "-s", help="Only records about this studio (name or id).")
]
OutcomeOption = Annotated[
    Outcome | None, typer.Option("--outcome", case_sensitive=False, help="The outcome.")
]
SinceOption = Annotated[str | None, typer.Option("--since", help="From this time. " + TIME_HELP)]
UntilOption = Annotated[str | None, typer.Option("--until", help="Before this time. " + TIME_HELP)]
ResourceOption = Annotated[
    str | None,
    typer.Option("--resource", help="Only resources starting with this, e.g. studio/st-…/"),
]


def _filters(
    client: Client,
    actor: str | None,
    action: str | None,
    studio: str | None,
    outcome: Outcome | None,
    since: str | None,
    until: str | None,
    resource: str | None,
) -> dict[str, Any]:
    studio_id = studio
    if studio is not None and not looks_like_id(studio, "st"):
        studio_id = client.studios.get_by_name(studio).id
    return {
        "actor": actor,
        "action": action,
        "studio_id": studio_id,
        "outcome": outcome.value if outcome is not None else None,
        "since": parse_time(since, "--since"),
        "until": parse_time(until, "--until"),
        "resource_prefix": resource,
    }


@app.command("list")
def list_(
    actor: ActorOption = None,
    action: ActionOption = None,
    studio: StudioFilter = None,
    outcome: OutcomeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    resource: ResourceOption = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Show at most this many, newest first.")
    ] = 100,
    as_json: JsonOption = False,
) -> None:
    """Changes attempted and denied attempts, newest first."""
    with connect() as client:
        filters = _filters(client, actor, action, studio, outcome, since, until, resource)
        rows = client.audit.list(**filters, limit=limit)
    columns = [
        ("AT", lambda r: r.at),
        ("ACTOR", lambda r: r.actor_name or "-"),
        ("ACTION", lambda r: r.action or f"{r.method} {r.path}"),
        ("RESOURCE", lambda r: r.resource),
        ("OUTCOME", lambda r: f"{r.outcome.value} {r.status_code}"),
        ("FROM", lambda r: r.source_address),
        ("MESSAGE", lambda r: r.message),
    ]
    table(rows, columns, as_json=as_json, empty="No audit records match.")


@contextmanager
def _opened(output: Path | None) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    with output.open("w", encoding="utf-8") as file:
        yield file


@app.command("export")
def export(
    actor: ActorOption = None,
    action: ActionOption = None,
    studio: StudioFilter = None,
    outcome: OutcomeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    resource: ResourceOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (default: standard output)."),
    ] = None,
) -> None:
    """Every matching record as JSON lines, oldest first."""
    count = 0
    with connect() as client:
        filters = _filters(client, actor, action, studio, outcome, since, until, resource)
        with _opened(output) as sink:
            for line in client.audit.export_lines(**filters):
                sink.write(line + "\n")
                count += 1
    if output is not None:
        errors.print(f"Exported {count} audit records to {output}.", highlight=False)
