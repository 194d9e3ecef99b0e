"""``sparkstudio token``: personal API tokens for scripts."""

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
    as_json: JsonOption = False,
) -> None:
    """Create a token; its value is printed only now."""
    with connect() as client:
        created = client.tokens.create(name, expires_in_days=expires_in_days)
    if as_json:
        emit_json(created)
        return
    console.print(f"Token {created.id} ({created.name}), expires {created.expires_at:%Y-%m-%d}.")
    console.print("Copy it now, it will not be shown again:")
    print(created.token)


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
