"""``sparkstudio cluster``: launch clusters from templates, watch, connect, scale, terminate."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

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
from sparkstudio.client.clusters import CLUSTER_ENDED
from sparkstudio.errors import Invalid, StudioError
from sparkstudio.schemas.clusters import ClusterPublic

app = typer.Typer(no_args_is_help=True)

NetworkOption = Annotated[
    str | None, typer.Option(help="One of the studio's networks; its first one by default.")
]
NoWaitOption = Annotated[
    bool, typer.Option("--no-wait", help="Return at once instead of waiting until it is usable.")
]
_COLUMNS = [
    ("ID", lambda c: c.id),
    ("NAME", lambda c: c.name),
    ("STATUS", lambda c: c.status),
    ("OWNER", lambda c: c.owner),
    ("TEMPLATE", lambda c: f"{c.template.name}:{c.template.version}" if c.template else c.backend),
    ("WORKERS", lambda c: f"{c.workers.running} ({c.workers.min}-{c.workers.max})"),
    ("TAGS", lambda c: c.tags),
    ("CREATED", lambda c: c.created_at),
]


def _find(client: Client, studio_id: str, cluster: str) -> ClusterPublic:
    """A cluster by id or by name (by name: the one not terminated, if any)."""
    if looks_like_id(cluster, "cl"):
        return client.clusters.get(studio_id, cluster)
    return client.clusters.get_by_name(studio_id, cluster)


def _cluster_id(client: Client, studio_id: str, cluster: str) -> str:
    return cluster if looks_like_id(cluster, "cl") else _find(client, studio_id, cluster).id


def _parameters(values: list[str] | None) -> dict[str, Any] | None:
    """``-p Name=value`` pairs; values stay text, the server reads them as the parameter's type."""
    if values is None:
        return None
    parameters: dict[str, Any] = {}
    for value in values:
        key, sep, given = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"'{value}' is not NAME=VALUE", param_hint="--parameter")
        parameters[key] = given
    return parameters


def _read_spec(path: Path) -> dict[str, Any]:
    """A cluster spec from a YAML or JSON file ('-' for stdin)."""
    text = sys.stdin.read() if str(path) == "-" else path.read_text()
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise Invalid.field("spec", f"not valid YAML or JSON: {error}") from error
    if not isinstance(spec, dict):
        raise Invalid.field("spec", "must be a mapping of spec fields (workers_max, …)")
    return spec


def _wait(
    client: Client, cluster: ClusterPublic, *, timeout: float, quiet: bool, ended: bool = False
) -> ClusterPublic:
    """Wait until usable (or, with ``ended``, terminated), showing progress unless quiet."""
    clusters = client.clusters
    wait = clusters.wait_terminated if ended else clusters.wait
    return watch(
        "cluster",
        cluster,
        lambda on_change: wait(cluster.studio_id, cluster.id, timeout=timeout, on_change=on_change),
        quiet=quiet,
    )


def _launched(
    client: Client,
    cluster: ClusterPublic,
    *,
    no_wait: bool,
    timeout: float,
    as_json: bool,
    studio: str | None,
) -> None:
    """Print a new cluster: at once, or once it is usable, with how to connect."""
    if not no_wait:
        cluster = _wait(client, cluster, timeout=timeout, quiet=as_json)
    if as_json:
        emit_json(cluster)
        return
    record(cluster, as_json=False, hide=frozenset({"spec"}))
    where = f" --studio {studio}" if studio else ""
    console.print(
        f"\nConnect with:  sparkstudio cluster connect {cluster.name}{where}\n"
        "  (the URL for SparkSession.builder.remote(url).getOrCreate())",
        highlight=False,
        markup=False,
    )


@app.command("create")
def create(
    name: str,
    template: Annotated[str, typer.Option(help="A template shared with the studio.")],
    parameter: Annotated[
        list[str] | None,
        typer.Option("--parameter", "-p", help="Template parameter NAME=VALUE (repeatable)."),
    ] = None,
    version: Annotated[
        int | None, typer.Option(help="Template version; the latest by default.")
    ] = None,
    studio: StudioOption = None,
    network: NetworkOption = None,
    tag: TagOption = None,
    idle_timeout: Annotated[
        int | None, typer.Option(help="Seconds idle before it terminates; overrides the template.")
    ] = None,
    no_wait: NoWaitOption = False,
    timeout: TimeoutOption = 600,
    as_json: JsonOption = False,
) -> None:
    """Launch a cluster from a template and wait until it is usable (RUNNING or WAITING)."""
    with connect() as client:
        created = client.clusters.create(
            resolve_studio(client, studio),
            name,
            template,
            parameters=_parameters(parameter),
            template_version=version,
            network=network,
            tags=parse_tags(tag),
            idle_timeout_seconds=idle_timeout,
        )
        _launched(client, created, no_wait=no_wait, timeout=timeout, as_json=as_json, studio=studio)


@app.command("create-from-spec")
def create_from_spec(
    name: str,
    spec_file: Annotated[
        Path,
        typer.Option(
            "--spec-file",
            help="Cluster spec as YAML or JSON ('-' for stdin).",
            exists=True,
            dir_okay=False,
            allow_dash=True,
        ),
    ],
    studio: StudioOption = None,
    network: NetworkOption = None,
    tag: TagOption = None,
    no_wait: NoWaitOption = False,
    timeout: TimeoutOption = 600,
    as_json: JsonOption = False,
) -> None:
    """Launch a cluster from a raw spec, without a template (studio admins)."""
    spec = _read_spec(spec_file)
    with connect() as client:
        created = client.clusters.create_from_spec(
            resolve_studio(client, studio), name, spec, network=network, tags=parse_tags(tag)
        )
        _launched(client, created, no_wait=no_wait, timeout=timeout, as_json=as_json, studio=studio)


@app.command("register")
def register(
    name: str,
    connect_url: Annotated[
        str, typer.Option("--connect-url", help="The Spark Connect endpoint: sc://host:port.")
    ],
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the endpoint's token from stdin.")
    ] = False,
    ui_url: Annotated[
        str | None, typer.Option(help="The driver's Spark UI, e.g. http://host:4040.")
    ] = None,
    studio: StudioOption = None,
    network: NetworkOption = None,
    tag: TagOption = None,
    no_wait: NoWaitOption = False,
    timeout: TimeoutOption = 600,
    as_json: JsonOption = False,
) -> None:
    """Register a Spark Connect endpoint that runs elsewhere as a cluster of the studio."""
    token = sys.stdin.readline().rstrip("\r\n") if token_stdin else None
    with connect() as client:
        created = client.clusters.register_external(
            resolve_studio(client, studio),
            name,
            connect_url,
            token=token,
            ui_url=ui_url,
            network=network,
            tags=parse_tags(tag),
        )
        _launched(client, created, no_wait=no_wait, timeout=timeout, as_json=as_json, studio=studio)


@app.command("list")
def list_(
    studio: StudioOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Include terminated clusters.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The studio's clusters that are not terminated (--all: every one)."""
    with connect() as client:
        rows = client.clusters.list(resolve_studio(client, studio), active=None if all_ else True)
    table(rows, _COLUMNS, as_json=as_json, empty="No clusters.")


@app.command("describe")
def describe(cluster: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """Describe a cluster (name or id)."""
    with connect() as client:
        found = _find(client, resolve_studio(client, studio), cluster)
    record(found, as_json=as_json)


@app.command("terminate")
def terminate(
    cluster: str,
    studio: StudioOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until it is terminated.")] = False,
    timeout: TimeoutOption = 600,
    as_json: JsonOption = False,
) -> None:
    """Terminate a cluster: every process of it stops; its record and events stay."""
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        ended = client.clusters.terminate(studio_id, _cluster_id(client, studio_id, cluster))
        if wait:
            ended = _wait(client, ended, timeout=timeout, quiet=as_json, ended=True)
    if as_json:
        emit_json(ended)
        return
    state = "is" if ended.status in CLUSTER_ENDED else "is being"
    console.print(f"Cluster {ended.name} ({ended.id}) {state} terminated.", highlight=False)


@app.command("scale")
def scale(
    cluster: str,
    studio: StudioOption = None,
    workers: Annotated[
        int | None, typer.Option(help="Pin the number of workers (min = max).")
    ] = None,
    min_: Annotated[int | None, typer.Option("--min", help="Workers always running.")] = None,
    max_: Annotated[int | None, typer.Option("--max", help="Most workers to scale out to.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Set the bounds of managed scaling: --workers N, or --min A and/or --max B."""
    if workers is not None and (min_ is not None or max_ is not None):
        raise typer.BadParameter("give --workers, or --min/--max, not both")
    if workers is None and min_ is None and max_ is None:
        raise typer.BadParameter("give --workers N, or --min A and/or --max B")
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        found = _find(client, studio_id, cluster)
        low = workers if workers is not None else min_
        high = workers if workers is not None else max_
        scaled = client.clusters.scale(
            studio_id,
            found.id,
            found.workers.min if low is None else low,
            found.workers.max if high is None else high,
        )
    record(scaled, as_json=as_json, hide=frozenset({"spec"}))


@app.command("events")
def events(cluster: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """The cluster's status changes, scaling and worker replacements, with reasons."""
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        rows = client.clusters.events(studio_id, _cluster_id(client, studio_id, cluster))
    table(rows, EVENT_COLUMNS, as_json=as_json, empty="No events.")


@app.command("connect")
def connect_(cluster: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """Print the Spark Connect URL, for SparkSession.builder.remote(url).getOrCreate()."""
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        connection = client.clusters.connection(studio_id, _cluster_id(client, studio_id, cluster))
    if as_json:
        emit_json(connection)
    else:
        print(connection.url)


def _ui_path(cluster: ClusterPublic) -> str:
    """The live UI's path, or the history server's once the cluster has ended."""
    ended = cluster.status in CLUSTER_ENDED
    path = cluster.history_path if ended else cluster.ui_path
    if path:
        return path
    if ended:
        why = "it has ended and has no application in the history server"
    elif cluster.backend == "external":
        why = "it was registered without --ui-url"
    else:
        why = f"it is {cluster.status} and its driver has no UI yet"
    raise StudioError(
        f"cluster {cluster.name} has no Spark UI: {why}", reason="InvalidState", status=409
    )


@app.command("ui")
def ui(cluster: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """Print the URL of the cluster's Spark UI (its history page once it has ended)."""
    with connect() as client:
        found = _find(client, resolve_studio(client, studio), cluster)
        base = client.url
    url = base + _ui_path(found)
    if as_json:
        emit_json({"cluster_id": found.id, "url": url})
    else:
        print(url)


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"'{value}' is not an ISO 8601 date or time, e.g. 2025-01-31 or 2025-01-31T08:00Z",
            param_hint=option,
        ) from None


@app.command("usage")
def usage(
    studio: StudioOption = None,
    since: Annotated[
        str | None, typer.Option(help="Start (ISO 8601, UTC without an offset); 30 days ago.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="End (ISO 8601); now by default.")] = None,
    group_by: Annotated[str, typer.Option(help="cluster, template, owner or tag:KEY.")] = "cluster",
    as_json: JsonOption = False,
) -> None:
    """Core-seconds and memory-GB-seconds used by the studio's workers."""
    with connect() as client:
        report = client.clusters.usage(
            resolve_studio(client, studio),
            since=_moment(since, "--since"),
            until=_moment(until, "--until"),
            group_by=group_by,
        )
    if as_json:
        emit_json(report)
        return
    console.print(
        f"Usage from {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC "
        f"by {report.group_by}:",
        highlight=False,
    )
    columns = [
        (report.group_by.upper(), lambda r: r.key),
        ("CLUSTERS", lambda r: r.clusters),
        ("CORE-HOURS", lambda r: f"{r.core_seconds / 3600:.2f}"),
        ("MEMORY GB-HOURS", lambda r: f"{r.memory_gb_seconds / 3600:.2f}"),
    ]
    table([*report.rows, report.total], columns, as_json=False, empty="")
