"""Platform administration: users, groups, studios and studio members."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from sparkstudio.cli import config
from sparkstudio.cli.common import JsonOption, StudioOption, connect, looks_like_id, resolve_studio
from sparkstudio.cli.output import done, emit_json, record, table
from sparkstudio.client import Client
from sparkstudio.errors import Invalid
from sparkstudio.schemas.clusters import QuotasPublic

users = typer.Typer(no_args_is_help=True)
groups = typer.Typer(no_args_is_help=True)
studios = typer.Typer(no_args_is_help=True)
members = typer.Typer(no_args_is_help=True)

_TIMES = frozenset({"created_at", "updated_at"})


def _read_password(from_stdin: bool, prompt: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if prompt:
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    return None


def _user_id(client: Client, user: str) -> str:
    return user if looks_like_id(user, "usr") else client.users.get_by_name(user).id


def _group_id(client: Client, group: str) -> str:
    return group if looks_like_id(group, "grp") else client.groups.get_by_name(group).id


# -- users ------------------------------------------------------------------------------

_USER_COLUMNS = [
    ("ID", lambda u: u.id),
    ("NAME", lambda u: u.name),
    ("DISPLAY NAME", lambda u: u.display_name),
    ("ADMIN", lambda u: "yes" if u.is_platform_admin else ""),
    ("DISABLED", lambda u: "yes" if u.disabled else ""),
    ("GROUPS", lambda u: u.groups),
]


@users.command("create")
def user_create(
    name: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
    no_password: Annotated[
        bool, typer.Option(help="Create a user who cannot log in with a password.")
    ] = False,
    display_name: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    platform_admin: Annotated[bool, typer.Option(help="Make the user a platform admin.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a user (prompts for the password unless --password-stdin or --no-password)."""
    password = _read_password(password_stdin, prompt=not no_password)
    with connect() as client:
        user = client.users.create(
            name,
            password=password,
            display_name=display_name,
            email=email,
            is_platform_admin=platform_admin,
        )
    record(user, as_json=as_json)


@users.command("list")
def user_list(as_json: JsonOption = False) -> None:
    with connect() as client:
        table(client.users.list(), _USER_COLUMNS, as_json=as_json, empty="No users.")


@users.command("describe")
def user_describe(user: str, as_json: JsonOption = False) -> None:
    """Describe a user (name or id)."""
    with connect() as client:
        record(client.users.get(_user_id(client, user)), as_json=as_json)


@users.command("update")
def user_update(
    user: str,
    password_stdin: Annotated[bool, typer.Option(help="Read a new password from stdin.")] = False,
    reset_password: Annotated[bool, typer.Option(help="Prompt for a new password.")] = False,
    display_name: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    platform_admin: Annotated[
        bool | None, typer.Option("--platform-admin/--no-platform-admin")
    ] = None,
    disabled: Annotated[bool | None, typer.Option("--disable/--enable")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a user: password, display name, e-mail, platform admin, disabled."""
    password = _read_password(password_stdin, prompt=reset_password)
    with connect() as client:
        updated = client.users.update(
            _user_id(client, user),
            password=password,
            display_name=display_name,
            email=email,
            is_platform_admin=platform_admin,
            disabled=disabled,
        )
    record(updated, as_json=as_json)


@users.command("delete")
def user_delete(user: str, as_json: JsonOption = False) -> None:
    with connect() as client:
        client.users.delete(_user_id(client, user))
    done(f"Deleted user {user}.", as_json=as_json)


# -- groups -----------------------------------------------------------------------------

_GROUP_COLUMNS = [
    ("ID", lambda g: g.id),
    ("NAME", lambda g: g.name),
    ("DESCRIPTION", lambda g: g.description),
    ("MEMBERS", lambda g: g.members),
]


@groups.command("create")
def group_create(
    name: str, description: Annotated[str, typer.Option()] = "", as_json: JsonOption = False
) -> None:
    with connect() as client:
        record(client.groups.create(name, description=description), as_json=as_json)


@groups.command("list")
def group_list(as_json: JsonOption = False) -> None:
    with connect() as client:
        table(client.groups.list(), _GROUP_COLUMNS, as_json=as_json, empty="No groups.")


@groups.command("describe")
def group_describe(group: str, as_json: JsonOption = False) -> None:
    with connect() as client:
        record(client.groups.get(_group_id(client, group)), as_json=as_json)


@groups.command("update")
def group_update(
    group: str,
    description: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOption = False,
) -> None:
    with connect() as client:
        updated = client.groups.update(_group_id(client, group), description=description)
    record(updated, as_json=as_json)


@groups.command("delete")
def group_delete(group: str, as_json: JsonOption = False) -> None:
    with connect() as client:
        client.groups.delete(_group_id(client, group))
    done(f"Deleted group {group}.", as_json=as_json)


@groups.command("add-member")
def group_add_member(group: str, user: str, as_json: JsonOption = False) -> None:
    """Add a user to a group."""
    with connect() as client:
        updated = client.groups.add_member(_group_id(client, group), _user_id(client, user))
    record(updated, as_json=as_json)


@groups.command("remove-member")
def group_remove_member(group: str, user: str, as_json: JsonOption = False) -> None:
    with connect() as client:
        updated = client.groups.remove_member(_group_id(client, group), _user_id(client, user))
    record(updated, as_json=as_json)


# -- studios ----------------------------------------------------------------------------

_STUDIO_COLUMNS = [
    ("ID", lambda s: s.id),
    ("NAME", lambda s: s.name),
    ("DESCRIPTION", lambda s: s.description),
    ("STORAGE", lambda s: s.storage_location),
    ("NETWORKS", lambda s: s.networks),
]
NetworkOption = Annotated[
    list[str] | None, typer.Option("--network", help="Allowed network (repeatable).")
]


@studios.command("create")
def studio_create(
    name: str,
    description: Annotated[str, typer.Option()] = "",
    storage: Annotated[
        str | None, typer.Option(help="Default storage: file:///path or s3://bucket/prefix.")
    ] = None,
    network: NetworkOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a studio (platform admins)."""
    with connect() as client:
        studio = client.studios.create(
            name, description=description, storage_location=storage, networks=network
        )
    record(studio, as_json=as_json)


@studios.command("list")
def studio_list(as_json: JsonOption = False) -> None:
    """The studios you belong to (platform admins: all)."""
    with connect() as client:
        table(client.studios.list(), _STUDIO_COLUMNS, as_json=as_json, empty="No studios.")


@studios.command("describe")
def studio_describe(studio: str, as_json: JsonOption = False) -> None:
    with connect() as client:
        record(client.studios.get(resolve_studio(client, studio)), as_json=as_json)


@studios.command("update")
def studio_update(
    studio: str,
    description: Annotated[str | None, typer.Option()] = None,
    storage: Annotated[str | None, typer.Option()] = None,
    network: NetworkOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a studio's description, storage or networks (--network replaces the list)."""
    with connect() as client:
        updated = client.studios.update(
            resolve_studio(client, studio),
            description=description,
            storage_location=storage,
            networks=network,
        )
    record(updated, as_json=as_json)


@studios.command("delete")
def studio_delete(studio: str, as_json: JsonOption = False) -> None:
    with connect() as client:
        client.studios.delete(resolve_studio(client, studio))
    done(f"Deleted studio {studio}.", as_json=as_json)


@studios.command("use")
def studio_use(studio: str, as_json: JsonOption = False) -> None:
    """Make a studio the default for the other commands."""
    with connect() as client:
        found = client.studios.get(resolve_studio(client, studio))
    saved = config.load()
    config.save(saved.model_copy(update={"studio": found.name}))
    done(f"Default studio: {found.name}.", as_json=as_json, payload={"studio": found.name})


def _show_quotas(quotas: QuotasPublic, *, as_json: bool) -> None:
    """Each quota with what the studio's clusters that are not terminated use."""
    if as_json:
        emit_json(quotas)
        return
    rows = [
        ("clusters", quotas.max_clusters, quotas.clusters),
        ("cores", quotas.max_cores, quotas.cores),
        ("memory MiB", quotas.max_memory_mib, quotas.memory_mib),
    ]
    columns = [
        ("QUOTA", lambda r: r[0]),
        ("LIMIT", lambda r: "none" if r[1] is None else r[1]),
        ("USED", lambda r: r[2]),
    ]
    table(rows, columns, as_json=False, empty="")


@studios.command("quotas")
def studio_quotas(
    studio: Annotated[str | None, typer.Argument()] = None, as_json: JsonOption = False
) -> None:
    """A studio's cluster quotas and what its clusters use (workers at their most)."""
    with connect() as client:
        quotas = client.clusters.quotas(resolve_studio(client, studio))
    _show_quotas(quotas, as_json=as_json)


@studios.command("set-quotas")
def studio_set_quotas(
    studio: str,
    max_clusters: Annotated[
        int | None, typer.Option(min=0, help="Clusters not terminated.")
    ] = None,
    max_cores: Annotated[
        int | None, typer.Option(min=0, help="Worker cores, at most workers.")
    ] = None,
    max_memory_mib: Annotated[
        int | None, typer.Option(min=0, help="Worker memory in MiB, at most workers.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Replace a studio's cluster quotas (platform admins); a limit not given means none."""
    with connect() as client:
        quotas = client.clusters.set_quotas(
            resolve_studio(client, studio),
            max_clusters=max_clusters,
            max_cores=max_cores,
            max_memory_mib=max_memory_mib,
        )
    _show_quotas(quotas, as_json=as_json)


# -- members ----------------------------------------------------------------------------

_MEMBER_COLUMNS = [
    ("ID", lambda m: m.id),
    ("TYPE", lambda m: m.principal_type),
    ("NAME", lambda m: m.principal_name),
    ("ROLE", lambda m: m.role),
    ("POLICY", lambda m: "yes" if m.session_policy else ""),
]
PolicyOption = Annotated[
    Path | None,
    typer.Option("--policy", help="Session policy JSON file narrowing the role ('-' for stdin)."),
]


def _read_policy(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    text = sys.stdin.read() if str(path) == "-" else path.read_text()
    try:
        policy: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as error:
        raise Invalid.field("session_policy", f"not valid JSON: {error}") from error
    return policy


@members.command("add")
def member_add(
    studio: StudioOption = None,
    user: Annotated[str | None, typer.Option(help="User name to map.")] = None,
    group: Annotated[str | None, typer.Option(help="Group name to map.")] = None,
    role: Annotated[str, typer.Option(help="ADMIN or DEVELOPER.")] = "DEVELOPER",
    policy: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Map a user or a group to a studio with a role."""
    with connect() as client:
        membership = client.members.create(
            resolve_studio(client, studio),
            role=role.upper(),
            user=user,
            group=group,
            session_policy=_read_policy(policy),
        )
    record(membership, as_json=as_json)


@members.command("list")
def member_list(studio: StudioOption = None, as_json: JsonOption = False) -> None:
    with connect() as client:
        rows = client.members.list(resolve_studio(client, studio))
    table(rows, _MEMBER_COLUMNS, as_json=as_json, empty="No members.")


@members.command("describe")
def member_describe(
    member_id: str, studio: StudioOption = None, as_json: JsonOption = False
) -> None:
    with connect() as client:
        record(client.members.get(resolve_studio(client, studio), member_id), as_json=as_json)


@members.command("update")
def member_update(
    member_id: str,
    studio: StudioOption = None,
    role: Annotated[str | None, typer.Option(help="ADMIN or DEVELOPER.")] = None,
    policy: PolicyOption = None,
    clear_policy: Annotated[bool, typer.Option(help="Remove the session policy.")] = False,
    as_json: JsonOption = False,
) -> None:
    with connect() as client:
        updated = client.members.update(
            resolve_studio(client, studio),
            member_id,
            role=role.upper() if role else None,
            session_policy=_read_policy(policy),
            clear_session_policy=clear_policy,
        )
    record(updated, as_json=as_json)


@members.command("remove")
def member_remove(member_id: str, studio: StudioOption = None, as_json: JsonOption = False) -> None:
    with connect() as client:
        client.members.delete(resolve_studio(client, studio), member_id)
    done(f"Removed member {member_id}.", as_json=as_json)
