"""``sparkstudio job``: job runs of serverless applications."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.markup import escape

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
from sparkstudio.client.job_runs import JOB_RUN_ENDED
from sparkstudio.errors import NotFound
from sparkstudio.schemas.job_runs import JobRunPublic

app = typer.Typer(no_args_is_help=True)

ApplicationArgument = Annotated[str, typer.Argument(help="The application's name or id.")]
RunArgument = Annotated[str, typer.Argument(help="The job run's id (or name).")]
FOLLOW_POLL_SECONDS = 1.0
WAIT_TAIL_BYTES = 16384  # the end of the logs that --wait prints once the run has ended
# Enough of the previous read to find where the next one continues it.
_ANCHOR_CHARS = 4096

_COLUMNS = [
    ("ID", lambda r: r.id),
    ("NAME", lambda r: r.name),
    ("STATUS", lambda r: r.status),
    ("RUNTIME", lambda r: r.runtime),
    ("ATTEMPT", lambda r: f"{r.attempt}/{r.retry_policy.max_attempts}"),
    ("ENTRY POINT", lambda r: r.job_driver.spark_submit.entry_point),
    ("CREATED", lambda r: r.created_at),
    ("ENDED", lambda r: r.ended_at),
]
_ATTEMPT_COLUMNS = [
    ("ATTEMPT", lambda a: a.attempt),
    ("STATUS", lambda a: a.status),
    ("REASON", lambda a: a.status_reason.message or a.status_reason.code),
    ("STARTED", lambda a: a.started_at),
    ("ENDED", lambda a: a.ended_at),
    ("LOGS", lambda a: a.log_uri),
]


def _application_id(client: Client, studio_id: str, application: str) -> str:
    """An application's id from its name or id."""
    if looks_like_id(application, "app"):
        return application
    return client.applications.get_by_name(studio_id, application).id


def _ids(client: Client, studio: str | None, application: str, run: str) -> tuple[str, str, str]:
    """The studio, application and job run ids; a run is named by its id or its name
    (the latest run of that name)."""
    studio_id = resolve_studio(client, studio)
    application_id = _application_id(client, studio_id, application)
    if looks_like_id(run, "jr"):
        return studio_id, application_id, run
    named = [r for r in client.job_runs.list(studio_id, application_id) if r.name == run]
    if not named:
        raise NotFound(f"no job run named '{run}' in application {application_id}")
    return studio_id, application_id, named[-1].id


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or ():
        key, sep, pair_value = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"'{value}' is not KEY=VALUE", param_hint=option)
        pairs[key] = pair_value
    return pairs


def _label(run: JobRunPublic) -> str:
    return f"{run.name} ({run.id})" if run.name else run.id


def _wait(client: Client, run: JobRunPublic, *, quiet: bool) -> JobRunPublic:
    """Wait until the run ends, one line per state change with its reason unless quiet."""
    runs, ids = client.job_runs, (run.studio_id, run.application_id, run.id)
    return watch_events(
        "job run",
        run,
        lambda on_change: runs.wait(*ids, poll=0.5, on_change=on_change),
        lambda: runs.events(*ids),
        quiet=quiet,
        describe=f"sparkstudio job describe {run.application_id} {run.id}",
    )


def _print_tail(client: Client, run: JobRunPublic, stream: str) -> None:
    try:
        text = client.job_runs.logs(
            run.studio_id, run.application_id, run.id, stream=stream, tail_bytes=WAIT_TAIL_BYTES
        )
    except NotFound:
        console.print(f"[dim]-- no {stream} --[/dim]")
        return
    console.print(f"[dim]-- {stream} (last {WAIT_TAIL_BYTES} bytes at most) --[/dim]")
    console.out(text, end="" if text.endswith("\n") else "\n", highlight=False)


@app.command("submit")
def submit(
    application: ApplicationArgument,
    entry_point: Annotated[
        str, typer.Argument(help="The script or jar: a path on the hosts, file:///… or s3://….")
    ],
    arguments: Annotated[
        list[str] | None,
        typer.Argument(help="Arguments of the entry point (put '--' before ones like '-x')."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name for the run.")] = None,
    conf: Annotated[
        list[str] | None,
        typer.Option(
            "--conf", help="KEY=VALUE spark-defaults property (repeatable), e.g. spark.x=1."
        ),
    ] = None,
    spark_submit_parameters: Annotated[
        str | None, typer.Option(help="spark-submit options, e.g. '--conf spark.x=1'.")
    ] = None,
    log_uri: Annotated[
        str | None, typer.Option(help="Where its logs are kept: file:///… or s3://….")
    ] = None,
    timeout_minutes: Annotated[
        int | None, typer.Option(help="Cancel it after this many minutes running; 0: never.")
    ] = None,
    max_attempts: Annotated[
        int | None, typer.Option(help="Attempts in all, 1 to 10 (retries on failure).")
    ] = None,
    tag: TagOption = None,
    client_token: Annotated[
        str | None, typer.Option(help="Submit once: a retry with this token gets the same run.")
    ] = None,
    studio: StudioOption = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until it ends; print its logs; exit 1 unless OK.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Submit a job run to an application (started first if it is stopped and auto-start
    is on)."""
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        application_id = _application_id(client, studio_id, application)
        run = client.job_runs.submit(
            studio_id,
            application_id,
            entry_point,
            list(arguments or []),
            name=name,
            spark_submit_parameters=spark_submit_parameters,
            spark_defaults=_pairs(conf, "--conf") or None,
            log_uri=log_uri,
            execution_timeout_minutes=timeout_minutes,
            max_attempts=max_attempts,
            tags=parse_tags(tag),
            client_token=client_token,
        )
        if not wait:
            if as_json:
                emit_json(run)
            else:
                console.print(f"Job run {_label(run)} is {run.status}.", highlight=False)
            return
        if not as_json:
            console.print(f"Submitted job run {_label(run)}.", highlight=False)
        ended = _wait(client, run, quiet=as_json)
        if as_json:
            emit_json(ended)
        else:
            _print_tail(client, ended, "stdout")
            if ended.status != "SUCCESS":
                _print_tail(client, ended, "stderr")
            reason = ended.status_reason
            console.print(
                f"Job run {_label(ended)} is {ended.status}: {reason.message or reason.code}",
                highlight=False,
            )
    if ended.status != "SUCCESS":
        raise typer.Exit(1)


@app.command("list")
def list_(
    application: ApplicationArgument,
    studio: StudioOption = None,
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Only in this state (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The application's job runs, oldest first."""
    with connect() as client:
        studio_id = resolve_studio(client, studio)
        application_id = _application_id(client, studio_id, application)
        rows = client.job_runs.list(studio_id, application_id, states=state)
    table(rows, _COLUMNS, as_json=as_json, empty="No job runs.")


@app.command("describe")
def describe(
    application: ApplicationArgument,
    run: RunArgument,
    studio: StudioOption = None,
    as_json: JsonOption = False,
) -> None:
    """Describe a job run: its state and reason, runtime, attempts so far, durations."""
    with connect() as client:
        found = client.job_runs.get(*_ids(client, studio, application, run))
    record(found, as_json=as_json)


@app.command("cancel")
def cancel(
    application: ApplicationArgument,
    run: RunArgument,
    studio: StudioOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until it has ended.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Cancel a job run that has not ended (CANCELLING, then CANCELLED)."""
    with connect() as client:
        result = client.job_runs.cancel(*_ids(client, studio, application, run))
        if wait:
            result = _wait(client, result, quiet=as_json)
    if as_json:
        emit_json(result)
        return
    console.print(f"Job run {_label(result)} is {result.status}.", highlight=False)


@app.command("attempts")
def attempts(
    application: ApplicationArgument,
    run: RunArgument,
    studio: StudioOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every attempt of a job run (a retry policy may allow several), with its logs' URI."""
    with connect() as client:
        rows = client.job_runs.attempts(*_ids(client, studio, application, run))
    table(rows, _ATTEMPT_COLUMNS, as_json=as_json, empty="No attempts.")


def _continuation(previous: str, current: str) -> str:
    """What ``current`` (a later read of the log's tail) adds to ``previous``."""
    if current.startswith(previous):
        return current[len(previous) :]
    anchor = previous[-_ANCHOR_CHARS:]
    at = current.find(anchor) if anchor else -1
    return current if at < 0 else current[at + len(anchor) :]


def _follow(
    client: Client,
    ids: tuple[str, str, str],
    stream: str,
    attempt: int | None,
    tail: int | None,
) -> None:
    """Print the log as it grows, until the run (or the attempt followed) has ended."""
    runs = client.job_runs
    shown: int | None = attempt
    previous = ""
    while True:
        run = runs.get(*ids)
        following = attempt or run.attempt
        if following != shown:
            if shown is not None:
                console.print(f"[dim]-- attempt {following} --[/dim]")
            shown, previous = following, ""
        try:
            current = runs.logs(*ids, stream=stream, attempt=following, tail_bytes=tail)
        except NotFound:  # no log yet: the attempt has not started
            current = previous
        console.out(_continuation(previous, current), end="", highlight=False)
        previous = current
        done = run.status in JOB_RUN_ENDED or (attempt is not None and attempt < run.attempt)
        if done:
            return
        time.sleep(FOLLOW_POLL_SECONDS)


@app.command("logs")
def logs(
    application: ApplicationArgument,
    run: RunArgument,
    stderr: Annotated[bool, typer.Option("--stderr", help="The driver's stderr.")] = False,
    attempt: Annotated[
        int | None, typer.Option(help="Which attempt (the latest by default).")
    ] = None,
    tail: Annotated[
        int | None, typer.Option(help="Bytes from the end, 1 to 1048576 (default 65536).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing as it grows, until it ends.")
    ] = False,
    studio: StudioOption = None,
) -> None:
    """The end of a job run's driver stdout (or --stderr), live while it runs."""
    stream = "stderr" if stderr else "stdout"
    with connect() as client:
        ids = _ids(client, studio, application, run)
        if follow:
            try:
                _follow(client, ids, stream, attempt, tail)
            except KeyboardInterrupt:
                raise typer.Exit(130) from None
            return
        text = client.job_runs.logs(*ids, stream=stream, attempt=attempt, tail_bytes=tail)
    console.out(text, end="", highlight=False)


@app.command("dashboard")
def dashboard(
    application: ApplicationArgument,
    run: RunArgument,
    studio: StudioOption = None,
    as_json: JsonOption = False,
) -> None:
    """The URL of the run's Spark UI: live while it runs, its history once ended."""
    with connect() as client:
        url = client.job_runs.dashboard(*_ids(client, studio, application, run))
    if as_json:
        emit_json({"url": url})
        return
    console.print(escape(url), highlight=False, soft_wrap=True)


@app.command("events")
def events(
    application: ApplicationArgument,
    run: RunArgument,
    studio: StudioOption = None,
    as_json: JsonOption = False,
) -> None:
    """The run's state changes, retries and cancels, with reasons."""
    with connect() as client:
        rows = client.job_runs.events(*_ids(client, studio, application, run))
    table(rows, EVENT_COLUMNS, as_json=as_json, empty="No events.")
