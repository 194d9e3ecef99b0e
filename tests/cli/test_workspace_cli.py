"""``sparkstudio workspace``: sharing, attaching, deleting and leftover files, as users run it.

The commands run as processes against the shared control plane (SQLite and PostgreSQL).
Only the start/open test starts a workspace server (that needs JupyterLab and takes
seconds); the other commands checked work on stopped workspaces, and the only cluster is
an external Spark Connect endpoint, the control plane's own port, which the external
backend only checks.
"""

from __future__ import annotations

import shlex
import stat
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx
import pytest

from sparkstudio.client import Client
from sparkstudio.errors import StudioError
from sparkstudio.processes.places import Place
from sparkstudio.server import ControlPlane
from tests.cli.test_cli import run
from tests.cli.test_cluster_cli import WAIT, Env, _env, _fails, _json
from tests.support import NewUser, UserClient, add_member, create_studio, studio_folder, unique


@pytest.fixture
def admin_env(control_plane: ControlPlane, admin: UserClient, tmp_path: Path) -> Env:
    """The environment of a platform admin's shell (a token, as scripts use)."""
    return _env(control_plane, admin.token, tmp_path / "admin.json")


@pytest.fixture
def target(admin: UserClient) -> dict[str, Any]:
    """A fresh studio."""
    return create_studio(admin)


def _member_env(
    control_plane: ControlPlane,
    admin: UserClient,
    new_user: NewUser,
    studio: dict[str, Any],
    config: Path,
) -> tuple[UserClient, Env]:
    """A new developer of ``studio`` and the environment of their shell."""
    user = new_user()
    add_member(admin, studio["id"], user=user.name)
    return user, _env(control_plane, user.token, config)


def _workspace_dir(studio: dict[str, Any], workspace_id: str) -> Path:
    """Where a workspace's files are kept in a ``file://`` storage location."""
    location = urlsplit(studio["storage_location"])
    assert location.scheme == "file", studio["storage_location"]
    return Path(url2pathname(location.path)) / "workspaces" / workspace_id


def test_share_unshare_and_list_shares(
    control_plane: ControlPlane,
    admin: UserClient,
    new_user: NewUser,
    target: dict[str, Any],
    tmp_path: Path,
) -> None:
    studio = target["name"]
    owner, owner_env = _member_env(control_plane, admin, new_user, target, tmp_path / "o.json")
    friend, friend_env = _member_env(control_plane, admin, new_user, target, tmp_path / "f.json")
    outsider = new_user()
    name = unique("ws")

    created = _json(["workspace", "create", name, "--idle-timeout", "600", "-s", studio], owner_env)
    assert created["idle_timeout_seconds"] == 600 and created["status"] == "STOPPED"
    assert created["url"] == f"/workspaces/{created['id']}/lab"
    listed = run(["workspace", "list", "-s", studio], owner_env).stdout
    assert f"{control_plane.url}/workspaces/{created['id']}/lab" in listed and "URL" in listed
    _fails(
        ["workspace", "update", name, "--idle-timeout", "10", "-s", studio],
        owner_env,
        "idle_timeout_seconds",
        "[ValidationError]",
    )
    updated = _json(
        ["workspace", "update", name, "--idle-timeout", "7200", "-s", studio], owner_env
    )
    assert updated["idle_timeout_seconds"] == 7200

    assert (
        "Not shared with anyone."
        in run(["workspace", "shares", name, "-s", studio], owner_env).stdout
    )
    shared = run(["workspace", "share", name, friend.name, "-s", studio], owner_env).stdout
    assert f"Shared workspace {name} with {friend.name}." in shared
    again = _json(["workspace", "share", created["id"], friend.name, "-s", studio], owner_env)
    assert again == {"user_id": friend.user_id, "user": friend.name}, "sharing twice is harmless"
    assert _json(["workspace", "shares", name, "-s", studio], owner_env) == [again]
    table = run(["workspace", "shares", name, "-s", studio], owner_env).stdout
    assert "USER" in table and friend.name in table and friend.user_id in table

    _fails(
        ["workspace", "share", name, outsider.name, "-s", studio],
        owner_env,
        f"{outsider.name} is not a member of studio '{studio}'",
        "[ValidationError]",
    )
    _fails(
        ["workspace", "share", name, owner.name, "-s", studio],
        owner_env,
        "owns the workspace already",
    )
    # Sharing is the owner's (or a studio admin's) to decide, not the friend's.
    _fails(
        ["workspace", "unshare", name, friend.name, "-s", studio],
        friend_env,
        f"only the owner of workspace {name} or a studio admin",
        "[AccessDenied]",
    )

    unshared = run(["workspace", "unshare", name, friend.name, "-s", studio], owner_env).stdout
    assert f"Workspace {name} is no longer shared with {friend.name}." in unshared
    assert _json(["workspace", "shares", name, "-s", studio], owner_env) == []
    _fails(
        ["workspace", "unshare", name, friend.name, "-s", studio],
        owner_env,
        f"workspace {name} is not shared with '{friend.name}'",
        "[NotFound]",
    )


def test_attach_needs_a_usable_cluster_and_detach(
    admin_env: Env, control_plane: ControlPlane, target: dict[str, Any]
) -> None:
    studio = target["name"]
    name = unique("ws")
    workspace = _json(["workspace", "create", name, "-s", studio], admin_env)

    _fails(
        ["workspace", "attach", name, "no-such-cluster", "-s", studio],
        admin_env,
        f"no RUNNING or WAITING cluster named or numbered 'no-such-cluster' in studio '{studio}'",
        "[NotFound]",
    )
    assert _json(["workspace", "describe", name, "-s", studio], admin_env)["cluster_id"] is None

    # A stopped workspace records its cluster; its kernels use it once it runs.
    port = urlsplit(control_plane.url).port
    endpoint = f"sc://127.0.0.1:{port}"
    register = ["cluster", "register", unique("byo"), "--connect-url", endpoint]
    cluster = _json([*register, "--timeout", WAIT, "-s", studio], admin_env)
    try:
        attached = run(["workspace", "attach", name, cluster["name"], "-s", studio], admin_env)
        assert f"attached to cluster {cluster['name']} ({cluster['id']})" in attached.stdout
        by_id = _json(["workspace", "attach", name, cluster["id"], "-s", studio], admin_env)
        assert by_id["cluster_id"] == cluster["id"] and by_id["status"] == "STOPPED"
        listed = run(["workspace", "list", "-s", studio], admin_env).stdout
        assert cluster["id"] in listed

        detached = run(["workspace", "detach", name, "-s", studio], admin_env).stdout
        assert f"Workspace {name} is detached." in detached
        assert (
            _json(["workspace", "detach", workspace["id"], "-s", studio], admin_env)["cluster_id"]
            is None
        )
        codes = [
            e["reason"]["code"]
            for e in _json(["workspace", "events", name, "-s", studio], admin_env)
        ]
        assert codes == ["CREATED", "ATTACHED", "DETACHED"]
    finally:
        run(["cluster", "terminate", cluster["id"], "-s", studio], admin_env)
    _fails(
        ["workspace", "attach", name, cluster["id"], "-s", studio],
        admin_env,
        "a workspace attaches to a RUNNING or WAITING cluster",
        "[InvalidState]",
    )


def test_delete_purge_and_leftovers(
    admin_env: Env,
    control_plane: ControlPlane,
    admin: UserClient,
    new_user: NewUser,
    target: dict[str, Any],
    tmp_path: Path,
) -> None:
    studio = target["name"]
    assert "No files left" in run(["workspace", "leftovers", "-s", studio], admin_env).stdout

    kept = _json(["workspace", "create", unique("kept"), "-s", studio], admin_env)
    purged = _json(["workspace", "create", unique("purged"), "-s", studio], admin_env)
    living = _json(["workspace", "create", unique("living"), "-s", studio], admin_env)
    for workspace in (kept, purged, living):
        directory = _workspace_dir(target, workspace["id"])
        directory.mkdir(parents=True)
        (directory / "analysis.ipynb").write_text('{"cells": []}')
    # The files of existing workspaces are not leftovers.
    assert _json(["workspace", "leftovers", "-s", studio], admin_env) == []

    deleted = run(["workspace", "delete", kept["name"], "-s", studio], admin_env).stdout
    assert "its files stay in the studio's storage" in deleted and "leftovers" in deleted
    result = _json(["workspace", "delete", purged["id"], "--purge", "-s", studio], admin_env)
    assert result == {"ok": True, "id": purged["id"], "purged": True}

    assert (_workspace_dir(target, kept["id"]) / "analysis.ipynb").exists()
    assert not _workspace_dir(target, purged["id"]).exists()
    root = target["storage_location"].rstrip("/") + "/workspaces"
    assert _json(["workspace", "leftovers", "-s", studio], admin_env) == [
        {"workspace_id": kept["id"], "url": f"{root}/{kept['id']}"}
    ]
    table = run(["workspace", "leftovers", "-s", studio], admin_env).stdout
    assert "WORKSPACE ID" in table and kept["id"] in table
    names = [w["name"] for w in _json(["workspace", "list", "-s", studio], admin_env)]
    assert names == [living["name"]]

    # Listing the storage is for studio admins.
    _, developer_env = _member_env(control_plane, admin, new_user, target, tmp_path / "d.json")
    _fails(["workspace", "leftovers", "-s", studio], developer_env, "[AccessDenied]")


def test_stop_and_wait_on_a_stopped_workspace(
    admin_env: Env, control_plane: ControlPlane, admin: UserClient, target: dict[str, Any]
) -> None:
    studio = target["name"]
    name = unique("ws")
    workspace = _json(["workspace", "create", name, "-s", studio], admin_env)

    stopped = run(["workspace", "stop", name, "--wait", "--timeout", WAIT, "-s", studio], admin_env)
    assert f"Workspace {name} ({workspace['id']}) is stopped." in stopped.stdout

    with Client(control_plane.url, admin.token) as client:
        workspaces = client.workspaces
        assert workspaces.open_url(target["id"], workspace["id"]) == (
            f"{control_plane.url}/workspaces/{workspace['id']}/lab"
        )
        found = workspaces.wait(target["id"], workspace["id"], {"STOPPED"}, timeout=5)
        assert found.status == "STOPPED"
        # Waiting for a server that nobody starts fails at once, saying why.
        with pytest.raises(StudioError) as raised:
            workspaces.wait(target["id"], workspace["id"], timeout=5)
        assert raised.value.status == 409 and raised.value.reason == "CREATED"
        assert "is STOPPED and not starting: workspace created" in raised.value.message


def _recording_browser(tmp_path: Path) -> tuple[str, Path]:
    """A stand-in for the user's browser ($BROWSER): it only notes the URLs it is given."""
    opened, script = tmp_path / "opened.txt", tmp_path / "browser.sh"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{opened}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script), opened


def test_start_wait_and_open_serve_jupyterlab(
    admin_env: Env,
    control_plane: ControlPlane,
    admin: UserClient,
    target: dict[str, Any],
    tmp_path: Path,
) -> None:
    studio = target["name"]
    name = unique("ws")
    workspace = _json(["workspace", "create", name, "-s", studio], admin_env)
    url = f"{control_plane.url}/workspaces/{workspace['id']}/lab"
    browser, opened = _recording_browser(tmp_path)
    env = {**admin_env, "BROWSER": browser}  # no real browser is ever launched
    try:
        started = run(["workspace", "start", name, "--wait", "--timeout", "50", "-s", studio], env)
        assert f"Workspace {name} is READY: {url}" in started.stdout, started.stdout
        page = httpx.get(url, headers={"Authorization": f"Bearer {admin.token}"}, timeout=30)
        assert page.status_code == 200 and "JupyterLab" in page.text

        # Open on a running workspace: prints the URL and hands it to the browser.
        opening = run(["workspace", "open", name, "-s", studio], env)
        assert f"Workspace {name} is READY: {url}" in opening.stdout, opening.stdout
        assert opened.read_text().splitlines() == [url]

        # Open on a stopped workspace starts it and waits; --no-browser only prints.
        run(["workspace", "stop", name, "--wait", "--timeout", WAIT, "-s", studio], env)
        open_stopped = ["workspace", "open", workspace["id"], "--no-browser", "-s", studio]
        reopened = _json([*open_stopped, "--timeout", "50"], env)
        assert reopened == {"workspace_id": workspace["id"], "status": "READY", "url": url}
        assert opened.read_text().splitlines() == [url], "--no-browser opened a browser"
        page = httpx.get(url, headers={"Authorization": f"Bearer {admin.token}"}, timeout=30)
        assert page.status_code == 200 and "JupyterLab" in page.text
    finally:
        run(["workspace", "stop", name, "--wait", "--timeout", WAIT, "-s", studio], admin_env)
    with Client(control_plane.url, admin.token) as client:
        assert client.workspaces.get(target["id"], workspace["id"]).status == "STOPPED"


def _git(cwd: Path, *args: str) -> str:
    identity = ["-c", "user.name=x", "-c", "user.email=x@example.com"]
    result = subprocess.run(
        ["git", *identity, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return result.stdout


def _commit(tree: Path, name: str, text: str) -> None:
    (tree / name).write_text(text)
    _git(tree, "add", name)
    _git(tree, "commit", "-q", "-m", f"add {name}")


def _commit_as_owner(place: Place, tree: Path, name: str, text: str) -> None:
    """A commit made in a workspace's working tree by its owner, where they work (as from
    a terminal of it): the tree is their account's."""
    identity = ["-c", "user.name=x", "-c", "user.email=x@example.com"]
    script = f"printf %s {shlex.quote(text)} > {shlex.quote(name)}"
    for argv in (
        ["sh", "-c", script],
        ["git", *identity, "add", name],
        ["git", *identity, "commit", "-q", "-m", f"add {name}"],
    ):
        result = place.run(argv, {"HOME": str(tree)}, writable=(tree,), cwd=tree)
        assert result is not None and result[0] == 0, result


def test_repo_add_list_pull_push_and_remove(
    admin_env: Env, control_plane: ControlPlane, target: dict[str, Any], tmp_path: Path
) -> None:
    studio = target["name"]
    name = unique("ws")
    workspace = _json(["workspace", "create", name, "-s", studio], admin_env)
    # A bare "remote" with one commit, in the studio's storage (a file:// repository is
    # linked from the studio's locations only), and a clone of it to make upstream changes in.
    remote, upstream = studio_folder(target) / "repos" / "project.git", tmp_path / "upstream"
    remote.parent.mkdir(parents=True, exist_ok=True)
    _git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(remote))
    _git(tmp_path, "clone", "-q", str(remote), str(upstream))
    _commit(upstream, "README.md", "hello\n")
    _git(upstream, "push", "-q", "origin", "HEAD:main")
    assert (
        "No repositories linked."
        in run(["workspace", "repo", "list", name, "-s", studio], admin_env).stdout
    )

    add = ["workspace", "repo", "add", name, remote.as_uri(), "--username", "alice"]
    added = run([*add, "--password-stdin", "-s", studio], admin_env, "s3cr3t-token\n").stdout
    assert f"Cloned {remote.as_uri()} into workspace {name} as project/." in added
    listed = _json(["workspace", "repo", "list", workspace["id"], "-s", studio], admin_env)
    assert [(r["name"], r["url"], r["branch"], r["has_credentials"]) for r in listed] == [
        ("project", remote.as_uri(), "", True)
    ]
    table = run(["workspace", "repo", "list", name, "-s", studio], admin_env).stdout
    assert "CREDENTIALS" in table and "project" in table and "s3cr3t-token" not in table
    tree = _workspace_dir(target, workspace["id"]) / "project"
    assert (tree / "README.md").read_text() == "hello\n"

    # An upstream change arrives with a pull; git's output is printed.
    _commit(upstream, "NEWS.md", "news\n")
    _git(upstream, "push", "-q", "origin", "HEAD:main")
    pulled = run(["workspace", "repo", "pull", name, "project", "-s", studio], admin_env).stdout
    assert "NEWS.md" in pulled
    assert (tree / "NEWS.md").read_text() == "news\n"
    # A commit made in the workspace leaves with a push.
    owner = control_plane.isolation.user_place(target["id"], workspace["owner_id"])
    _commit_as_owner(owner, tree, "notes.md", "from the workspace\n")
    pushed = _json(["workspace", "repo", "push", name, "project", "-s", studio], admin_env)
    assert pushed["repo"] == "project" and "main" in pushed["output"]
    assert "add notes.md" in _git(remote, "log", "--oneline", "main")

    # Bad input is refused naming the field; usage errors are caught before any request.
    _fails(
        ["workspace", "repo", "add", name, "not-a-url", "-s", studio],
        admin_env,
        "url: 'not-a-url' is not an https://, http://, ssh://, git:// or file:// URL",
        "[ValidationError]",
    )
    missing = (remote.parent / "nope.git").as_uri()
    _fails(
        ["workspace", "repo", "add", name, missing, "-s", studio],
        admin_env,
        "url: cannot clone it",
        "[ValidationError]",
    )
    _fails(
        ["workspace", "repo", "add", name, remote.as_uri(), "--username", "bob", "-s", studio],
        admin_env,
        "--username",
        "needs --password-stdin",
        code=2,
    )
    _fails(
        ["workspace", "repo", "pull", name, "nothing", "-s", studio],
        admin_env,
        f"workspace {name} links no repository named 'nothing'",
        "[NotFound]",
    )

    removed = run(["workspace", "repo", "remove", name, "project", "-s", studio], admin_env)
    assert f"Unlinked repository project from workspace {name}" in removed.stdout
    assert _json(["workspace", "repo", "list", name, "-s", studio], admin_env) == []
    assert (tree / "notes.md").exists(), "unlinking keeps the working tree"
