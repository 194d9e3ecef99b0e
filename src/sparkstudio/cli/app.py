"""``sparkstudio app``: serverless applications with warm capacity."""

from __future__ import annotations

from typing import Annotated, Any

import typer

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
)
from sparkstudio.cli.output import console, emit_json, record, table
from sparkstudio.client import Client
from sparkstudio.schemas.applications import ApplicationPublic

app = typer.Typer(no_args_is_help=True)

WaitOption = Annotated[bool, typer.Option("--wait", help="Wait until it gets there.")]
Size = Annotated[str | None, typer.Option()]
_COLUMNS = [
    ("ID", lambda a: a.id),
    ("NAME", lambda a: a.name),
    ("STATUS", lambda a: a.status),
    ("RELEASE", lambda a: a.release_label),
    ("EXECUTORS", lambda a: f"{a.workers.running} ({a.workers.min}-{a.workers.max})"),
    ("AUTO-STOP", lambda a: _auto_stop(a)),
    ("TAGS", lambda a: a.tags),
    ("CREATED", lambda a: a.created_at),
]


def _auto_stop(application: ApplicationPublic) -> str:
    config = application.auto_stop_configuration
    return f"{config.idle_timeout_minutes} min" if config.enabled else "off"


def _find(client: Client, studio_id: str, application: str) -> ApplicationPublic:
    """An application by id or by name."""
    if looks_like_id(application, "app"):
        return client.applications.get(studio_id, application)
    return client.applications.get_by_name(studio_id, application)


def _worker(cpu: str | None, memory: str | None, disk: str | None, kind: str) -> dict[str, Any]:
    if cpu is None or memory is None:
        raise typer.BadParameter(f"give both --{kind}-cpu and --{kind}-memory")
    config = {"cpu": cpu, "memory": memory}
    return {**config, "disk": disk} if disk else config


def _initial_capacity(
    executors: int | None,
    executor: tuple[str | None, str | None, str | None],
    driver: tuple[str | None, str | None, str | None],
) -> dict[str, Any] | None:
    capacity: dict[str, Any] = {}
    if executors is not None or any(executor):
        capacity["EXECUTOR"] = {
            "worker_count": 1 if executors is None else executors,
            "worker_configuration": _worker(*executor, "executor"),
        }
    if any(driver):
        capacity["DRIVER"] = {"worker_count": 1, "worker_configuration": _worker(*driver, "driver")}
    return capacity or None


def _maximum(cpu: str | None, memory: str | None, disk: str | None) -> dict[str, Any] | None:
    if cpu is None and memory is None and disk is None:
        return None
    if cpu is None or memory is None:
        raise typer.BadParameter("give both --max-cpu and --max-memory (and --max-disk, if any)")
    maximum = {"cpu": cpu, "memory": memory}
    return {**maximum, "disk": disk} if disk else maximum


def _wait_for(
    client: Client, found: ApplicationPublic, statuses: set[str], *, timeout: float, quiet: bool
) -> ApplicationPublic:
    applications = client.applications
    return watch(
        "app",
        found,
        lambda on_change: applications.wait(
            found.studio_id, found.id, statuses, timeout=timeout, on_change=on_change
        ),
        quiet=quiet,
    )


@app.command("create")
def create(
    name: str,
    release_label: Annotated[
        str, typer.Option(help="The Spark release, e.g. spark-4.3 (the server lists its own).")
    ],
    type_: Annotated[str, typer.Option("--type", help="SPARK.")] = "SPARK",
    executors: Annotated[
        int | None, typer.Option(help="Executor workers kept warm while started.")
    ] = None,
    executor_cpu: Size = None,
    executor_memory: Size = None,
    executor_disk: Size = None,
    driver_cpu: Size = None,
    driver_memory: Size = None,
    driver_disk: Size = None,
    max_cpu: Annotated[str | None, typer.Option(help="e.g. '8 vCPU'.")] = None,
    max_memory: Annotated[str | None, typer.Option(help="e.g. '32 GB'.")] = None,
    max_disk: Annotated[str | None, typer.Option(help="e.g. '200 GB'.")] = None,
    auto_start: Annotated[bool, typer.Option(help="Start when a job run is submitted.")] = True,
    auto_stop: Annotated[bool, typer.Option(help="Stop after the idle timeout.")] = True,
    idle_timeout: Annotated[int, typer.Option(help="Minutes idle before it stops.")] = 15,
    network: Annotated[str | None, typer.Option(help="One of the studio's networks.")] = None,
    tag: TagOption = None,
    studio: StudioOption = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = 120,
    as_json: JsonOption = False,
) -> None:
    """Create an application; sizes as EMR takes them: '2 vCPU', '4 GB', '20 GB'."""
    initial = _initial_capacity(
        executors,
        (executor_cpu, executor_memory, executor_disk),
        (driver_cpu, driver_memory, driver_disk),
    )
    with connect() as client:
        created = client.applications.create(
            resolve_studio(client, studio),
            name,
            release_label,
            type=type_,
            initial_capacity=initial,
            maximum_capacity=_maximum(max_cpu, max_memory, max_disk),
            auto_start_configuration={"enabled": auto_start},
            auto_stop_configuration={"enabled": auto_stop, "idle_timeout_minutes": idle_timeout},
            network=network,
            tags=parse_tags(tag),
        )
        if wait:
            created = _wait_for(client, created, {"CREATED"}, timeout=timeout, quiet=as_json)
    record(created, as_json=as_json)


@app.command("list")
def list_(
    studio: StudioOption = None,
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Only in this state (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The studio's applications."""
    with connect() as client:
        rows = client.applications.list(resolve_studio(client, studio), states=state)
    table(rows, _COLUMNS, as_json=as_json, empty="No applications.")


@app.command("describe")
def describe(application: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """Describe an application (name or id)."""
    with connect() as client:
        found = _find(client, resolve_studio(client, studio), application)
    record(found, as_json=as_json)


@app.command("update")
def update(
    application: str,
    release_label: Annotated[str | None, typer.Option(help="Another Spark release.")] = None,
    executors: Annotated[int | None, typer.Option(help="Executor workers kept warm.")] = None,
    executor_cpu: Size = None,
    executor_memory: Size = None,
    executor_disk: Size = None,
    max_cpu: Size = None,
    max_memory: Size = None,
    max_disk: Size = None,
    auto_stop: Annotated[bool | None, typer.Option(help="Stop after the idle timeout.")] = None,
    idle_timeout: Annotated[int | None, typer.Option(help="Minutes idle before it stops.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="KEY=VALUE (repeatable); replaces every tag.")
    ] = None,
    studio: StudioOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change an application; while it runs only tags, auto-stop and the maximum capacity."""
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        found = _find(client, studio_id, application)
        fields: dict[str, Any] = {}
        if release_label is not None:
            fields["release_label"] = release_label
        initial = _initial_capacity(
            executors, (executor_cpu, executor_memory, executor_disk), (None, None, None)
        )
        if initial is not None:
            fields["initial_capacity"] = {**found.model_dump()["initial_capacity"], **initial}
        maximum = _maximum(max_cpu, max_memory, max_disk)
        if maximum is not None:
            fields["maximum_capacity"] = maximum
        if auto_stop is not None or idle_timeout is not None:
            current = found.auto_stop_configuration
            fields["auto_stop_configuration"] = {
                "enabled": current.enabled if auto_stop is None else auto_stop,
                "idle_timeout_minutes": idle_timeout or current.idle_timeout_minutes,
            }
        if tag is not None:
            fields["tags"] = parse_tags(tag)
        if not fields:
            raise typer.BadParameter("nothing to change: give at least one option")
        updated = client.applications.update(studio_id, found.id, **fields)
    record(updated, as_json=as_json)


def _act(
    action: str,
    application: str,
    studio: str | None,
    until: set[str],
    *,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        found = _find(client, studio_id, application)
        result: ApplicationPublic = getattr(client.applications, action)(studio_id, found.id)
        if wait:
            result = _wait_for(client, result, until, timeout=timeout, quiet=as_json)
    if as_json:
        emit_json(result)
        return
    console.print(f"Application {result.name} ({result.id}) is {result.status}.", highlight=False)


@app.command("start")
def start(
    application: str,
    studio: StudioOption = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = 600,
    as_json: JsonOption = False,
) -> None:
    """Start the application's initial capacity (--wait: until STARTED)."""
    _act("start", application, studio, {"STARTED"}, wait=wait, timeout=timeout, as_json=as_json)


@app.command("stop")
def stop(
    application: str,
    studio: StudioOption = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = 300,
    as_json: JsonOption = False,
) -> None:
    """Stop every process of the application (--wait: until STOPPED)."""
    until = {"STOPPED", "CREATED"}
    _act("stop", application, studio, until, wait=wait, timeout=timeout, as_json=as_json)


@app.command("delete")
def delete(
    application: str,
    studio: StudioOption = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = 120,
    as_json: JsonOption = False,
) -> None:
    """Delete a CREATED or STOPPED application (--wait: until TERMINATED)."""
    until = {"TERMINATED"}
    _act("delete", application, studio, until, wait=wait, timeout=timeout, as_json=as_json)


@app.command("events")
def events(application: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """The application's status changes, updates and scaling, with reasons."""
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        found = _find(client, studio_id, application)
        rows = client.applications.events(studio_id, found.id)
    table(rows, EVENT_COLUMNS, as_json=as_json, empty="No events.")
