"""``sparkstudio audit``: reading and exporting the trail, as an admin runs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sparkstudio.cli.audit import parse_time
from sparkstudio.server import ControlPlane
from tests.cli.test_cli import run
from tests.cli.test_cluster_cli import Env, _env, _fails, _json
from tests.support import NewUser, UserClient, add_member, create_studio, create_workspace, expect


@pytest.fixture
def admin_env(control_plane: ControlPlane, admin: UserClient, tmp_path: Path) -> Env:
    return _env(control_plane, admin.token, tmp_path / "admin.json")


@pytest.fixture
def activity(admin: UserClient, new_user: NewUser) -> tuple[dict[str, Any], UserClient]:
    """A fresh studio where a new developer created two workspaces and was refused once."""
    studio = create_studio(admin)
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    create_workspace(developer, studio["id"])
    create_workspace(developer, studio["id"])
    expect(developer.delete(f"/studios/{studio['id']}"), 403)
    return studio, developer


def test_audit_list_filters_and_prints_a_table(
    admin: UserClient, admin_env: Env, activity: tuple[dict[str, Any], UserClient]
) -> None:
    studio, developer = activity
    api = expect(admin.get("/audit", params={"studio_id": studio["id"]}), 200)["items"]
    assert len(api) == 4  # the admin's membership, two workspaces, one denial

    # By name or id, the studio filter is the same.
    assert _json(["audit", "list", "--studio", studio["name"]], admin_env) == api
    assert _json(["audit", "list", "-s", studio["id"], "--limit", "2"], admin_env) == api[:2]
    denied = _json(["audit", "list", "--actor", developer.name, "--outcome", "denied"], admin_env)
    assert [(r["action"], r["status_code"]) for r in denied] == [("studio:Delete", 403)]
    created = ["audit", "list", "-s", studio["id"], "--action", "workspace:Create"]
    assert [r["actor_name"] for r in _json(created, admin_env)] == [developer.name] * 2
    assert _json([*created, "--since", "1h"], admin_env) == api[1:3]
    assert _json([*created, "--until", "1h"], admin_env) == []

    table = run(["audit", "list", "--actor", developer.name, "-s", studio["id"]], admin_env).stdout
    assert "ACTOR" in table and "OUTCOME" in table
    assert "DENIED 403" in table and "SUCCEEDED 201" in table
    assert table.count(developer.name) == 3


def test_audit_export_writes_json_lines_oldest_first(
    admin: UserClient, admin_env: Env, activity: tuple[dict[str, Any], UserClient], tmp_path: Path
) -> None:
    studio, _ = activity
    newest_first = expect(admin.get("/audit", params={"studio_id": studio["id"]}), 200)["items"]

    output = tmp_path / "audit.jsonl"
    result = run(["audit", "export", "-s", studio["id"], "--output", str(output)], admin_env)
    assert result.stdout == ""
    assert "Exported 4 audit records" in result.stderr
    lines = output.read_text().splitlines()
    assert [json.loads(line) for line in lines] == newest_first[::-1]

    printed = run(["audit", "export", "-s", studio["id"], "--outcome", "DENIED"], admin_env)
    assert [json.loads(line) for line in printed.stdout.splitlines()] == newest_first[:1]


def test_audit_commands_refuse_bad_filters_and_non_admins(
    control_plane: ControlPlane, admin_env: Env, new_user: NewUser, tmp_path: Path
) -> None:
    _fails(["audit", "list", "--outcome", "maybe"], admin_env, "--outcome", "maybe", code=2)
    _fails(
        ["audit", "export", "--since", "yesterday"], admin_env, "'yesterday' is not a time", code=2
    )
    _fails(["audit", "list", "--action", "foo:Bar"], admin_env, "action: must be an action")
    developer = _env(control_plane, new_user().token, tmp_path / "developer.json")
    _fails(["audit", "list"], developer, "not allowed to perform audit:List")
    _fails(["audit", "export"], developer, "not allowed to perform audit:List")


def test_times_are_iso_or_an_age() -> None:
    moment = parse_time("2026-11-02T03:04:05", "--since")
    assert moment is not None and moment.isoformat() == "2026-11-02T03:04:05+00:00"
    offset = parse_time("2026-11-02T03:04:05+02:00", "--since")
    assert offset is not None and offset.utcoffset() is not None
    hour, day = parse_time("1h", "--since"), parse_time("1d", "--since")
    assert hour is not None and day is not None
    assert round((hour - day).total_seconds()) == 23 * 3600
    assert parse_time(None, "--since") is None
