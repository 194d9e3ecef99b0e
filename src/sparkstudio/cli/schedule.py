"""``sparkstudio schedule``: notebooks run on a cron expression in a time zone."""

from __future__ import annotations

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
)
from sparkstudio.cli.notebook import (
    EXECUTION_COLUMNS,
    ApplicationOption,
    ClusterOption,
    EnvOption,
    OutputLocationOption,
    ParameterOption,
    TimeoutOption,
    WorkspaceOption,
    check_source,
    pairs,
    parse_parameters,
    resolve_source,
)
from sparkstudio.cli.output import console, emit_json, record, table
from sparkstudio.client import Client
from sparkstudio.schemas.notebook_schedules import NotebookSchedulePublic

app = typer.Typer(no_args_is_help=True)

ScheduleArgument = Annotated[str, typer.Argument(help="The schedule's name (or id).")]
MissedOption = Annotated[
    Literal["skip", "catch-up-one"] | None,
    typer.Option(
        "--missed",
        help="Runs due while the control plane could not start them: skip them all, or "
        "catch up the latest once.",
    ),
]
MaxRunsOption = Annotated[
    int | None,
    typer.Option(help="Runs in progress at once, at most; a run due beyond it is skipped."),
]
CronOption = Annotated[
    str,
    typer.Option(help="When runs are due: five cron fields (e.g. '0 6 * * 1-5') or @daily…"),
]
TimeZoneOption = Annotated[
    str | None, typer.Option(help="The IANA time zone CRON is read in (UTC by default).")
]

_COLUMNS = [
    ("ID", lambda s: s.id),
    ("NAME", lambda s: s.name),
    ("STATUS", lambda s: s.status),
    ("CRON", lambda s: s.cron),
    ("TIME ZONE", lambda s: s.time_zone),
    ("NEXT DUE", lambda s: s.next_due_at),
    ("NOTEBOOK", lambda s: s.notebook.path or s.notebook.uri),
    ("TARGET", lambda s: f"{s.target.kind.lower()} {s.target.id}"),
]


def _policy(missed: str | None) -> str | None:
    return None if missed is None else missed.upper().replace("-", "_")


def _ids(client: Client, studio: str | None, schedule: str) -> tuple[str, str]:
    studio_id = resolve_studio(client, studio)
    if looks_like_id(schedule, "ns"):
        return studio_id, schedule
    return studio_id, client.notebook_schedules.get_by_name(studio_id, schedule).id


def _said(schedule: NotebookSchedulePublic, as_json: bool) -> None:
    if as_json:
        emit_json(schedule)
        return
    due = ""
    if schedule.next_due_at is not None:
        due = f"; next run due at {schedule.next_due_at:%Y-%m-%d %H:%M} UTC"
    console.print(f"Schedule {schedule.name} is {schedule.status}{due}.", highlight=False)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The schedule's name, unique in the studio.")],
    notebook: Annotated[
        str,
        typer.Option(
            help="A path in the workspace given with --workspace, or an s3://… or file:///… URI."
        ),
    ],
    cron: CronOption,
    time_zone: TimeZoneOption = None,
    cluster: ClusterOption = None,
    application: ApplicationOption = None,
    workspace: WorkspaceOption = None,
    parameter: ParameterOption = None,
    env: EnvOption = None,
    output_location: OutputLocationOption = None,
    timeout_minutes: TimeoutOption = None,
    max_concurrent_runs: MaxRunsOption = None,
    missed: MissedOption = None,
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
    paused: Annotated[bool, typer.Option("--paused", help="Create it paused.")] = False,
    tag: TagOption = None,
    studio: StudioOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a notebook on a cron expression in a time zone, with fixed parameters."""
    check_source(notebook, workspace, cluster, application)
    fields: dict[str, Any] = {
        "time_zone": time_zone,
        "parameters": parse_parameters(parameter) or None,
        "environment_variables": pairs(env, "--env") or None,
        "output_location": output_location,
        "timeout_minutes": timeout_minutes,
        "max_concurrent_runs": max_concurrent_runs,
        "missed_run_policy": _policy(missed),
        "description": description,
        "paused": paused or None,
        "tags": parse_tags(tag),
    }
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        source, kind, target_id = resolve_source(
            client, studio_id, notebook, workspace, cluster, application
        )
        schedule = client.notebook_schedules.create(
            studio_id, name, cron, source, kind, target_id, **fields
        )
    _said(schedule, as_json)


@app.command("list")
def list_(
    studio: StudioOption = None,
    status: Annotated[
        Literal["ACTIVE", "PAUSED"] | None, typer.Option(help="Only ACTIVE or only PAUSED ones.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The studio's notebook schedules, oldest first."""
    with connect() as client:
        rows = client.notebook_schedules.list(resolve_studio(client, studio), status=status)
    table(rows, _COLUMNS, as_json=as_json, empty="No notebook schedules.")


@app.command("describe")
def describe(
    schedule: ScheduleArgument, studio: StudioOption = None, as_json: JsonOption = False
) -> None:
    """Describe a schedule, then its events (runs started, skipped or missed, with why)."""
    with connect() as client:
        ids = _ids(client, studio, schedule)
        found = client.notebook_schedules.get(*ids)
        events = client.notebook_schedules.events(*ids)
    if as_json:
        emit_json(found)
        return
    record(found, as_json=False)
    console.print()
    table(events, EVENT_COLUMNS, as_json=False, empty="No events.")


@app.command("update")
def update(
    schedule: ScheduleArgument,
    cron: Annotated[str | None, typer.Option(help="A new cron expression.")] = None,
    time_zone: TimeZoneOption = None,
    parameter: ParameterOption = None,
    max_concurrent_runs: MaxRunsOption = None,
    missed: MissedOption = None,
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
    studio: StudioOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a schedule (-p replaces all its parameters); the next due time is worked out
    again from now."""
    with connect() as client:
        ids = _ids(client, studio, schedule)
        changed = client.notebook_schedules.update(
            *ids,
            cron=cron,
            time_zone=time_zone,
            parameters=parse_parameters(parameter) if parameter else None,
            max_concurrent_runs=max_concurrent_runs,
            missed_run_policy=_policy(missed),
            description=description,
        )
    _said(changed, as_json)


@app.command("pause")
def pause(
    schedule: ScheduleArgument, studio: StudioOption = None, as_json: JsonOption = False
) -> None:
    """No run is due until it is resumed (runs in progress go on)."""
    with connect() as client:
        _said(client.notebook_schedules.pause(*_ids(client, studio, schedule)), as_json)


@app.command("resume")
def resume(
    schedule: ScheduleArgument, studio: StudioOption = None, as_json: JsonOption = False
) -> None:
    """Due again from now; times passed while paused are not run."""
    with connect() as client:
        _said(client.notebook_schedules.resume(*_ids(client, studio, schedule)), as_json)


@app.command("run")
def run_now(
    schedule: ScheduleArgument, studio: StudioOption = None, as_json: JsonOption = False
) -> None:
    """Start a run now, outside its cron times (paused or not)."""
    with connect() as client:
        execution = client.notebook_schedules.run_now(*_ids(client, studio, schedule))
    if as_json:
        emit_json(execution)
        return
    console.print(
        f"Started notebook execution {execution.id} ({execution.status}); follow it with "
        f"'sparkstudio notebook describe {execution.id}'.",
        highlight=False,
    )


@app.command("history")
def history(
    schedule: ScheduleArgument, studio: StudioOption = None, as_json: JsonOption = False
) -> None:
    """The runs it started (notebook executions), oldest first."""
    with connect() as client:
        rows = client.notebook_schedules.runs(*_ids(client, studio, schedule))
    table(rows, EXECUTION_COLUMNS, as_json=as_json, empty="No runs yet.")


@app.command("delete")
def delete(
    schedule: ScheduleArgument, studio: StudioOption = None, as_json: JsonOption = False
) -> None:
    """Delete a schedule; its runs stay among the studio's notebook executions."""
    with connect() as client:
        ids = _ids(client, studio, schedule)
        client.notebook_schedules.delete(*ids)
    if as_json:
        emit_json({"deleted": ids[1]})
        return
    console.print(f"Deleted schedule {schedule}.", highlight=False)
