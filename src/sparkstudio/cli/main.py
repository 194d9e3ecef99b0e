"""``sparkstudio``: run the control plane and manage it from a terminal."""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from sparkstudio import __version__
from sparkstudio.cli import (
    admin,
    audit,
    cluster,
    config,
    job,
    notebook,
    schedule,
    template,
    token,
    workspace,
)
from sparkstudio.cli import app as application
from sparkstudio.cli.common import JsonOption, connect
from sparkstudio.cli.output import console, done, emit_json, errors, record
from sparkstudio.client import Client
from sparkstudio.errors import StudioError

app = typer.Typer(
    name="sparkstudio",
    help="A self-hosted studio for interactive analytics on Apache Spark.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(admin.users, name="user", help="Platform users (platform admins).")
app.add_typer(admin.groups, name="group", help="Groups of users (platform admins).")
app.add_typer(admin.studios, name="studio", help="Studios: one per team.")
app.add_typer(admin.members, name="member", help="Who belongs to a studio, with which role.")
app.add_typer(workspace.app, name="workspace", help="Workspaces of a studio.")
app.add_typer(cluster.app, name="cluster", help="Spark clusters of a studio.")
app.add_typer(application.app, name="app", help="Serverless applications with warm capacity.")
app.add_typer(job.app, name="job", help="Job runs of serverless applications.")
app.add_typer(notebook.app, name="notebook", help="Notebooks run headless, with parameters.")
app.add_typer(schedule.app, name="schedule", help="Notebooks run on a cron expression.")
app.add_typer(template.app, name="template", help="Cluster templates and who may use them.")
app.add_typer(token.app, name="token", help="Your personal API tokens.")
app.add_typer(audit.app, name="audit", help="The audit trail of changes and denials (admins).")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


_PASSWORD_ENV = "SPARKSTUDIO_ADMIN_PASSWORD"  # noqa: S105 (a variable name)
_PASSWORD_FD_ENV = "SPARKSTUDIO_ADMIN_PASSWORD_FD"  # noqa: S105


def _scrub_admin_password() -> None:
    """The bootstrap admin's password leaves the environment before anything runs: the
    command starts again without it (a process's initial environment stays readable in
    /proc until it execs), and gets it through a pipe instead."""
    secret = os.environ.get(_PASSWORD_ENV)
    if secret is None:
        return
    read, write = os.pipe()
    os.write(write, secret.encode())
    os.close(write)
    os.set_inheritable(read, True)
    env = {k: v for k, v in os.environ.items() if k.upper() != _PASSWORD_ENV}
    env[_PASSWORD_FD_ENV] = str(read)
    argv = [sys.executable, "-m", "sparkstudio.cli.main", *sys.argv[1:]]
    os.execve(sys.executable, argv, env)  # noqa: S606


def _admin_password_from_pipe() -> str | None:
    descriptor = os.environ.pop(_PASSWORD_FD_ENV, None)
    if descriptor is None:
        return None
    with os.fdopen(int(descriptor), "rb") as pipe:
        return pipe.read().decode()


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on; 0 picks a free one.")] = None,
    home: Annotated[
        Path | None, typer.Option(help="Home directory (database, store, logs); $SPARKSTUDIO_HOME.")
    ] = None,
) -> None:
    """Start the control plane on embedded defaults and serve until Ctrl-C."""
    _scrub_admin_password()  # re-runs this command without it in the environment
    os.umask(0o077)  # what the platform writes is its own unless it says otherwise
    from sparkstudio.server import ControlPlane
    from sparkstudio.settings import Settings

    overrides: dict[str, object] = {
        key: value
        for key, value in (("host", host), ("port", port), ("home", home))
        if value is not None
    }
    password = _admin_password_from_pipe()
    if password is not None:
        overrides["admin_password"] = password
    settings = Settings(**overrides)  # type: ignore[arg-type]
    plane = ControlPlane(settings, access_log=True, log_level="info")
    _stop_on_signals()
    plane.start()
    console.print(plane.banner(), highlight=False)
    generated = plane.prepared.generated_admin_password
    if generated:
        console.print(
            f"\nCreated the platform admin 'admin' with password: [bold]{generated}[/bold]\n"
            "It is shown only this once; change it with 'sparkstudio user update'.",
            highlight=False,
        )
    console.print(
        f"\nLog in with:  sparkstudio login --url {plane.url} --user admin", highlight=False
    )
    console.print("Press Ctrl-C to stop.", style="dim")
    sys.stdout.flush()
    try:
        plane.wait()
    except KeyboardInterrupt:
        console.print("stopping…", style="dim")
    finally:
        running = plane.clusters.live_count()
        plane.stop()
        if running:
            console.print(
                f"{running} cluster(s) keep running; the next 'sparkstudio up' re-adopts them "
                "('sparkstudio cluster terminate' ends one).",
                style="dim",
            )


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM stop cleanly, even where the shell started us ignoring SIGINT."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


@app.command()
def doctor(
    home: Annotated[Path | None, typer.Option(help="Home directory to check.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Check that this host can run sparkstudio and Spark: Java, Spark, port, store."""
    from sparkstudio.doctor import home_of, run_checks

    checks = run_checks(home_of(home))
    if as_json:
        emit_json({"ok": all(c.ok for c in checks), "checks": [c.__dict__ for c in checks]})
    else:
        for check in checks:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            console.print(f"{mark} {check.name:<6} {check.detail}", highlight=False)
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


@app.command()
def login(
    url: Annotated[str, typer.Option(help="URL of the control plane, e.g. http://127.0.0.1:8780")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="Your user name.")] = None,
    sso: Annotated[
        bool,
        typer.Option(
            "--sso", help="Sign in through your browser with single sign-on, not a password."
        ),
    ] = False,
    provider: Annotated[
        str | None,
        typer.Argument(
            metavar="[PROVIDER]",
            help="With --sso: the identity provider, when the platform has several.",
            show_default=False,
        ),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Log in and store the session token, with its expiry, in your config."""
    if provider is not None and not sso:
        raise typer.BadParameter("a provider is named only with --sso", param_hint="PROVIDER")
    if sso:
        if user is not None or password_stdin:
            raise typer.BadParameter("signs in through the browser: no --user nor password")
        from sparkstudio.cli.sso import sign_in_with_browser

        # soft_wrap: the address is printed whole, to be copied into a browser.
        signed_in = sign_in_with_browser(
            url,
            provider,
            say=lambda text: errors.print(text, highlight=False, markup=False, soft_wrap=True),
        )
        token: str | None = signed_in.token
        expires_at: datetime | None = signed_in.expires_at
        user = signed_in.user.name
    elif user is None:
        raise typer.BadParameter("give --user NAME, or --sso to sign in through the browser")
    else:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True)
        client = Client.login(url, user, password)
        token, expires_at = client.token, client.expires_at
    saved = config.load()
    path = config.save(
        config.CliConfig(
            url=url.rstrip("/"),
            token=token,
            user=user,
            studio=saved.studio if saved.url == url.rstrip("/") else None,
            expires_at=expires_at,
        )
    )
    done(
        f"Logged in to {url} as {user} (token saved in {path}).",
        as_json=as_json,
        payload={
            "url": url,
            "user": user,
            "config": str(path),
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )


@app.command()
def logout(as_json: JsonOption = False) -> None:
    """Revoke the stored session token and forget it."""
    saved = config.load()
    if saved.token and saved.url:
        try:
            Client(saved.url, saved.token).logout()
        except StudioError as error:
            if error.status not in (0, 401):
                raise
    config.save(config.CliConfig(url=saved.url))
    done("Logged out.", as_json=as_json)


@app.command()
def whoami(as_json: JsonOption = False) -> None:
    """Who you are logged in as, your groups and your studios with your roles."""
    with connect() as client:
        me = client.me()
    if as_json:
        emit_json(me)
        return
    record(me.user, as_json=False, hide=frozenset({"created_at", "updated_at"}))
    for studio in me.studios:
        roles = ", ".join(studio.roles)
        console.print(f"studio {studio.studio_name} ({studio.studio_id}): {roles}")


def main() -> None:
    """Entry point: errors from the server become one clear line and exit code 1."""
    try:
        app()
    except StudioError as error:
        errors.print(f"error: {error.message} [{error.reason}]", highlight=False, markup=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
