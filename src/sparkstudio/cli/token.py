"""``sparkstudio token``: personal API tokens and AWS access key pairs for scripts."""

from __future__ import annotations

from typing import Annotated

import typer

from sparkstudio.cli.common import JsonOption, connect
from sparkstudio.cli.output import console, done, emit_json, table

app = typer.Typer(no_args_is_help=True)


@app.command("create")
def create(
    name: str,
    expires_in_days: Annotated[int, typer.Option(help="Lifetime in days.")] = 90,
    aws: Annotated[
        bool,
        typer.Option(
            "--aws",
            help="Create an AWS access key pair (for boto3 and the AWS CLI) acting in --studio.",
        ),
    ] = False,
    studio: Annotated[
        str | None, typer.Option(help="The studio (id or name) an AWS key pair acts in.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a token, or with --aws an AWS access key pair; the secret is printed only now."""
    if aws or studio is not None:
        if not aws or studio is None:
            raise typer.BadParameter("--aws and --studio go together", param_hint="--studio")
        _create_aws_key(name, studio, expires_in_days, as_json=as_json)
        return
    with connect() as client:
        created = client.tokens.create(name, expires_in_days=expires_in_days)
    if as_json:
        emit_json(created)
        return
    console.print(f"Token {created.id} ({created.name}), expires {created.expires_at:%Y-%m-%d}.")
    console.print("Copy it now, it will not be shown again:")
    print(created.token)


def _create_aws_key(name: str, studio: str, expires_in_days: int, *, as_json: bool) -> None:
    with connect() as client:
        pair = client.tokens.create_aws_key(name, studio, expires_in_days=expires_in_days)
    if as_json:
        emit_json(pair)
        return
    console.print(
        f"AWS access key pair {pair.id} ({pair.name}) for studio {pair.studio_id}, "
        f"expires {pair.expires_at:%Y-%m-%d}."
    )
    console.print("Store the secret access key now, it will not be shown again:")
    print(f"aws_access_key_id = {pair.access_key_id}")
    print(f"aws_secret_access_key = {pair.secret_access_key}")


@app.command("list")
def list_(
    all_: Annotated[
        bool, typer.Option("--all", help="Include revoked and expired tokens.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    with connect() as client:
        rows = client.tokens.list(include_inactive=all_)
    columns = [
        ("ID", lambda t: t.id),
        ("NAME", lambda t: t.name),
        ("KIND", lambda t: t.kind),
        ("ACCESS KEY ID", lambda t: t.access_key_id),
        ("CREATED", lambda t: t.created_at),
        ("EXPIRES", lambda t: t.expires_at),
        ("LAST USED", lambda t: t.last_used_at),
        ("REVOKED", lambda t: t.revoked_at),
    ]
    table(rows, columns, as_json=as_json, empty="No tokens.")


@app.command("revoke")
def revoke(token_id: str, as_json: JsonOption = False) -> None:
    with connect() as client:
        client.tokens.revoke(token_id)
    done(f"Revoked token {token_id}.", as_json=as_json)
