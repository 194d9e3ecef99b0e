"""``sparkstudio workspace repo``: Git repositories cloned into a workspace's files."""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from sparkstudio.cli.common import JsonOption, StudioOption, connect, workspace_ids
from sparkstudio.cli.output import console, done, emit_json, table
from sparkstudio.errors import Invalid
from sparkstudio.schemas.workspaces import GIT_URL_PATTERN, GIT_URL_RULE

app = typer.Typer(no_args_is_help=True)

RepoArgument = Annotated[str, typer.Argument(help="The repository's name in the workspace.")]


@app.command("add")
def repo_add(
    workspace: str,
    url: Annotated[
        str, typer.Argument(help="An http(s)://, ssh://, git:// or file:// URL, or user@host:path.")
    ],
    studio: StudioOption = None,
    branch: Annotated[
        str, typer.Option(help="The branch to check out; the default branch if omitted.")
    ] = "",
    name: Annotated[
        str | None,
        typer.Option(help="The folder to clone into; the repository's name if omitted."),
    ] = None,
    username: Annotated[str, typer.Option(help="User name for the password or token.")] = "",
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read a password or access token from standard input."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Link a Git repository and clone it into the workspace's files.

    A password or token given is stored encrypted and used for pull and push.
    """
    if not re.match(GIT_URL_PATTERN, url):
        raise Invalid.field("url", f"'{url}' is not {GIT_URL_RULE}")
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    if password == "":
        raise typer.BadParameter("read an empty line from stdin", param_hint="--password-stdin")
    if username and password is None:
        raise typer.BadParameter("needs --password-stdin", param_hint="--username")
    with connect() as client:
        linked = client.workspaces.link_repo(
            *workspace_ids(client, studio, workspace),
            url,
            branch=branch,
            name=name,
            username=username,
            password=password,
        )
    if as_json:
        emit_json(linked)
        return
    console.print(
        f"Cloned {linked.url} into workspace {workspace} as {linked.name}/.",
        highlight=False,
        markup=False,
    )


@app.command("list")
def repo_list(workspace: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    """The Git repositories linked to the workspace."""
    with connect() as client:
        rows = client.workspaces.repos(*workspace_ids(client, studio, workspace))
    columns = [
        ("NAME", lambda r: r.name),
        ("URL", lambda r: r.url),
        ("BRANCH", lambda r: r.branch or "(default)"),
        ("CREDENTIALS", lambda r: "yes" if r.has_credentials else "no"),
        ("CREATED", lambda r: r.created_at),
    ]
    table(rows, columns, as_json=as_json, empty="No repositories linked.")


@app.command("remove")
def repo_remove(
    workspace: str, repo: RepoArgument, studio: StudioOption = None, as_json: JsonOption = False
) -> None:
    """Unlink a repository and forget its credentials; its files stay in the workspace."""
    with connect() as client:
        client.workspaces.unlink_repo(*workspace_ids(client, studio, workspace), repo)
    done(
        f"Unlinked repository {repo} from workspace {workspace}; its files stay.",
        as_json=as_json,
        payload={"ok": True, "repo": repo},
    )


def _sync(workspace: str, repo: str, studio: str | None, as_json: bool, operation: str) -> None:
    with connect() as client:
        run = client.workspaces.pull_repo if operation == "pull" else client.workspaces.push_repo
        result = run(*workspace_ids(client, studio, workspace), repo)
    if as_json:
        emit_json(result)
    else:
        console.print(result.output or f"git {operation}: done.", highlight=False, markup=False)


@app.command("pull")
def repo_pull(
    workspace: str, repo: RepoArgument, studio: StudioOption = None, as_json: JsonOption = False
) -> None:
    """Pull (merge) the remote branch into the repository's files; prints git's output."""
    _sync(workspace, repo, studio, as_json, "pull")


@app.command("push")
def repo_push(
    workspace: str, repo: RepoArgument, studio: StudioOption = None, as_json: JsonOption = False
) -> None:
    """Push the repository's current branch to origin; prints git's output."""
    _sync(workspace, repo, studio, as_json, "push")
