"""Workspace servers driven the way JupyterLab drives them, through the control plane.

Real JupyterLab servers: the contents REST API and the kernel WebSocket protocol go
through the proxy at ``/workspaces/{id}/…``. One server is shared by the module's
tests; the persistence and idle tests start their own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from sparkstudio.db.models import Workspace, WorkspaceRepo
from sparkstudio.db.session import Database
from sparkstudio.server import ControlPlane
from sparkstudio.spark import processes
from sparkstudio.spark.processes import ProcessRecord
from sparkstudio.workspaces.controller import WorkspaceController
from tests.integration.test_clusters_api import register_external
from tests.s3 import S3Server
from tests.support import (
    NewUser,
    UserClient,
    add_member,
    create_studio,
    create_workspace,
    expect,
    expect_error,
    studio_folder,
    wait_for_cluster,
    wait_for_workspace,
)

RUNNING = {"READY", "ATTACHED"}
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": "print('hello')",
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


class Lab:
    """A JupyterLab client of one workspace through the proxy, signed in as one user."""

    def __init__(self, plane: ControlPlane, user: UserClient, workspace_id: str) -> None:
        self.base = f"{plane.url}/workspaces/{workspace_id}/"
        self.token = user.headers["authorization"].split(" ", 1)[1]
        self.http = httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )

    def kernel_socket(self, kernel_id: str) -> ClientConnection:
        url = "ws" + self.base.removeprefix("http") + f"api/kernels/{kernel_id}/channels"
        return connect(
            url,
            additional_headers={"Authorization": f"Bearer {self.token}"},
            max_size=None,
            open_timeout=30,
        )


def run_code(socket: ClientConnection, code: str, timeout: float = 120.0) -> dict[str, Any]:
    """Execute ``code`` over the kernel's WebSocket; collect outputs until it is idle."""
    msg_id = uuid.uuid4().hex
    socket.send(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "version": "5.3",
                    "date": "",
                },
                "parent_header": {},
                "metadata": {},
                "content": {"code": code, "silent": False, "store_history": True},
                "channel": "shell",
                "buffers": [],
            }
        )
    )
    result: dict[str, Any] = {"stdout": "", "results": [], "errors": [], "displays": []}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(socket.recv(timeout=deadline - time.monotonic()))
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            result["stdout"] += content["text"]
        elif kind == "execute_result":
            result["results"].append(content["data"])
        elif kind == "display_data":
            result["displays"].append(content["data"])
        elif kind == "error":
            result["errors"].append(content)
        elif kind == "execute_reply":
            result["reply"] = content
        elif kind == "status" and content["execution_state"] == "idle":
            result["idle"] = True
        if "reply" in result and result.get("idle"):  # both channels are done
            return result
    raise AssertionError(f"no answer to {code!r} in {timeout} s: {result}")


def start_and_wait(user: httpx.Client, studio_id: str, workspace_id: str) -> dict[str, Any]:
    expect(user.post(f"/studios/{studio_id}/workspaces/{workspace_id}/start"), 202)
    return wait_for_workspace(user, studio_id, workspace_id, RUNNING)


@pytest.fixture(scope="module")
def owner(control_plane: ControlPlane, admin: UserClient) -> Iterator[UserClient]:
    from tests.support import PASSWORD, create_user, login, unique

    name = unique("owner")
    create_user(admin, name, password=PASSWORD)
    with login(control_plane.api_url, name, PASSWORD) as client:
        yield client


@pytest.fixture(scope="module")
def lab_studio(admin: UserClient, owner: UserClient) -> dict[str, Any]:
    studio = create_studio(admin)
    add_member(admin, studio["id"], user=owner.name, role="DEVELOPER")
    return studio


@pytest.fixture(scope="module")
def workspace(owner: UserClient, lab_studio: dict[str, Any]) -> dict[str, Any]:
    created = create_workspace(owner, lab_studio["id"])
    return start_and_wait(owner, lab_studio["id"], created["id"])


@pytest.fixture(scope="module")
def lab(control_plane: ControlPlane, owner: UserClient, workspace: dict[str, Any]) -> Lab:
    return Lab(control_plane, owner, workspace["id"])


def store_path(studio: dict[str, Any], workspace_id: str, name: str) -> Path:
    root = urlsplit(studio["storage_location"]).path
    return Path(root) / "workspaces" / workspace_id / name


def test_a_started_workspace_serves_jupyterlab_through_the_proxy(
    lab: Lab, workspace: dict[str, Any]
) -> None:
    assert workspace["status"] == "READY"
    assert workspace["url"] == f"/workspaces/{workspace['id']}/lab"
    page = lab.http.get("lab", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "JupyterLab" in page.text
    # The server's own secret never reaches the browser.
    assert '"token": ""' in page.text or '"token":""' in page.text
    specs = expect(lab.http.get("api/kernelspecs"), 200)["kernelspecs"]
    assert {"python3", "pyspark", "spark-scala"} <= set(specs)
    assert specs["pyspark"]["spec"]["display_name"] == "PySpark"


def test_notebooks_saved_through_the_proxy_land_in_the_studio_storage(
    lab: Lab, lab_studio: dict[str, Any], workspace: dict[str, Any]
) -> None:
    model = {"type": "notebook", "content": NOTEBOOK}
    expect(lab.http.put("api/contents/analysis.ipynb", json=model), 201)
    stored = store_path(lab_studio, workspace["id"], "analysis.ipynb")
    assert "".join(json.loads(stored.read_text())["cells"][0]["source"]) == "print('hello')"
    got = expect(lab.http.get("api/contents/analysis.ipynb"), 200)
    assert got["content"]["cells"][0]["source"] == "print('hello')"
    checkpoint = expect(lab.http.post("api/contents/analysis.ipynb/checkpoints"), 201)
    assert checkpoint["id"]
    expect(lab.http.delete("api/contents/analysis.ipynb"), 204)
    assert not stored.exists()


@pytest.mark.parametrize(
    "path", ["..%2F..%2Fescape.txt", "%2e%2e/escape.txt", "a/..%2f..%2fescape.txt"]
)
def test_paths_outside_the_workspace_are_refused(
    lab: Lab, lab_studio: dict[str, Any], workspace: dict[str, Any], path: str
) -> None:
    answer = lab.http.put(
        f"api/contents/{path}", json={"type": "file", "format": "text", "content": "x"}
    )
    assert answer.status_code in (400, 403, 404), answer.text
    root = store_path(lab_studio, workspace["id"], "").parent
    assert not (root / "escape.txt").exists()
    assert not (root.parent / "escape.txt").exists()


def test_a_kernel_runs_code_over_the_proxied_websocket(lab: Lab) -> None:
    kernel = expect(lab.http.post("api/kernels", json={"name": "python3"}), 201)
    try:
        with lab.kernel_socket(kernel["id"]) as socket:
            answer = run_code(socket, "import os\nprint(os.environ.get('SPARKSTUDIO_USER'))\n6*7")
        assert answer["reply"]["status"] == "ok", answer
        assert answer["results"][0]["text/plain"] == "42"
    finally:
        expect(lab.http.delete(f"api/kernels/{kernel['id']}"), 204)


def test_a_pyspark_kernel_without_a_cluster_says_how_to_attach(lab: Lab) -> None:
    kernel = expect(lab.http.post("api/kernels", json={"name": "pyspark"}), 201)
    try:
        with lab.kernel_socket(kernel["id"]) as socket:
            answer = run_code(socket, "spark.range(3).count()")
        assert answer["reply"]["status"] == "error"
        message = " ".join(e["evalue"] for e in answer["errors"]) + str(answer["errors"])
        assert "not attached to a cluster" in message, repr(answer)[:3000]
        assert "%attach" in message
    finally:
        expect(lab.http.delete(f"api/kernels/{kernel['id']}"), 204)


def test_only_the_owner_and_shared_members_get_through(
    control_plane: ControlPlane,
    admin: UserClient,
    owner: UserClient,
    new_user: NewUser,
    lab_studio: dict[str, Any],
    workspace: dict[str, Any],
) -> None:
    url = f"{control_plane.url}/workspaces/{workspace['id']}/api/contents"
    # Nobody without a token; a stranger cannot tell the workspace exists.
    assert httpx.get(url).status_code == 401
    stranger = new_user()
    assert httpx.get(url, headers=dict(stranger.headers)).status_code == 404
    # A member of the studio the workspace was not shared with is refused.
    member = new_user()
    add_member(admin, lab_studio["id"], user=member.name, role="DEVELOPER")
    assert httpx.get(url, headers=dict(member.headers)).status_code == 403
    with pytest.raises(InvalidStatus):
        Lab(control_plane, member, workspace["id"]).kernel_socket("0" * 32).close()
    # Shared with them, they get in; unshared, they are out again.
    shares = f"/studios/{lab_studio['id']}/workspaces/{workspace['id']}/shares"
    expect(member.post(shares, json={"user": member.name}), 403)  # only the owner shares
    expect(owner.post(shares, json={"user": member.name}), 201)
    assert [s["user"] for s in expect(owner.get(shares), 200)] == [member.name]
    assert httpx.get(url, headers=dict(member.headers)).status_code == 200
    expect(owner.delete(f"{shares}/{member.name}"), 204)
    assert httpx.get(url, headers=dict(member.headers)).status_code == 403
    body = expect_error(owner.post(shares, json={"user": stranger.name}), 422, "ValidationError")
    assert "not a member" in body["message"]


def test_a_browser_needs_the_xsrf_echo_to_change_anything(
    control_plane: ControlPlane, owner: UserClient, workspace: dict[str, Any]
) -> None:
    token = owner.headers["authorization"].split(" ", 1)[1]
    base = f"{control_plane.url}/workspaces/{workspace['id']}/api/contents/"
    cookies = {"sparkstudio_session": token, "_xsrf": "abc123"}
    body = {"type": "file", "format": "text", "content": "x"}
    with httpx.Client(cookies=cookies) as browser:
        assert browser.get(base).status_code == 200  # reads need no echo
        assert browser.put(base + "xsrf.txt", json=body).status_code == 403
        answer = browser.put(base + "xsrf.txt", json=body, headers={"X-XSRFToken": "abc123"})
        assert answer.status_code == 201, answer.text
    with pytest.raises(InvalidStatus):  # a WebSocket from another site is refused
        connect(
            "ws" + base.removeprefix("http").replace("contents/", "events/subscribe"),
            additional_headers={
                "Cookie": f"sparkstudio_session={token}",
                "Origin": "http://evil.example",
            },
        ).close()


def test_users_cannot_change_the_attachment_behind_the_studio(lab: Lab) -> None:
    answer = lab.http.put("sparkstudio/attachment", content=b'{"cluster_id": "cl-x"}')
    assert answer.status_code == 403
    assert expect(lab.http.get("sparkstudio/attachment"), 200)["attached"] is False


def test_a_workspace_cannot_attach_a_cluster_of_another_studio(
    control_plane: ControlPlane,
    admin: UserClient,
    owner: UserClient,
    lab_studio: dict[str, Any],
) -> None:
    other = create_studio(admin)
    add_member(admin, other["id"], user=owner.name, role="DEVELOPER")  # they see both
    foreign = register_external(admin, control_plane, other["id"])
    own = register_external(admin, control_plane, lab_studio["id"])
    for cluster, studio in ((foreign, other), (own, lab_studio)):
        wait_for_cluster(admin, studio["id"], cluster["id"], {"WAITING"}, 30)
    created = create_workspace(owner, lab_studio["id"])
    path = f"/studios/{lab_studio['id']}/workspaces/{created['id']}"
    try:
        for handle in (foreign["id"], foreign["name"]):
            body = expect_error(
                owner.put(f"{path}/attachment", json={"cluster_id": handle}), 404, "NotFound"
            )
            assert body["message"] == (
                f"no RUNNING or WAITING cluster named or numbered '{handle}' in studio "
                f"'{lab_studio['name']}'"
            )
        assert expect(owner.get(path), 200)["cluster_id"] is None
        # The same request with a cluster of the workspace's own studio attaches it.
        attached = expect(owner.put(f"{path}/attachment", json={"cluster_id": own["id"]}), 200)
        assert attached["cluster_id"] == own["id"]
    finally:
        expect(admin.delete(f"/studios/{other['id']}/clusters/{foreign['id']}"), 202)
        expect(admin.delete(f"/studios/{lab_studio['id']}/clusters/{own['id']}"), 202)


def test_a_killed_server_loses_nothing_saved_and_reopens_on_the_next_open(
    control_plane: ControlPlane,
    database: Database,
    owner: UserClient,
    lab_studio: dict[str, Any],
) -> None:
    created = create_workspace(owner, lab_studio["id"])
    start_and_wait(owner, lab_studio["id"], created["id"])
    lab = Lab(control_plane, owner, created["id"])
    text = "saved before the crash\n"
    model = {"type": "file", "format": "text", "content": text}
    expect(lab.http.put("api/contents/notes.txt", json=model), 201)
    with database.session(write=False) as db:
        row = db.get(Workspace, created["id"])
        assert row is not None and row.server_state is not None
        pid = row.server_state["process"]["pid"]
    os.killpg(pid, signal.SIGKILL)
    stopped = wait_for_workspace(owner, lab_studio["id"], created["id"], {"STOPPED"})
    assert stopped["status_reason"]["code"] == "SERVER_LOST"
    # The next open starts it again: first a "starting" answer, then the file.
    first = lab.http.get("api/contents/notes.txt")
    assert first.status_code == 503
    assert first.headers["Retry-After"]
    wait_for_workspace(owner, lab_studio["id"], created["id"], RUNNING)
    assert expect(lab.http.get("api/contents/notes.txt"), 200)["content"] == text


def test_the_first_request_after_the_server_died_answers_that_it_starts_again(
    control_plane: ControlPlane,
    database: Database,
    owner: UserClient,
    lab_studio: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created = create_workspace(owner, lab_studio["id"])
    start_and_wait(owner, lab_studio["id"], created["id"])
    lab = Lab(control_plane, owner, created["id"])
    expect(lab.http.get("api/contents/"), 200)
    record = server_process(database, created["id"])
    observe = WorkspaceController._observe

    def unobserved(controller: WorkspaceController, snap: Any) -> float | None:
        # The reconciler does not look at this workspace: the request comes first.
        return 0.2 if snap.id == created["id"] else observe(controller, snap)

    with monkeypatch.context() as patch:
        patch.setattr(WorkspaceController, "_observe", unobserved)
        os.killpg(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while processes.is_alive(record):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        first = lab.http.get("api/contents/")
        assert first.status_code == 503, first.text
        assert first.headers["Retry-After"] and first.json()["reason"] == "WorkspaceStarting"
    # It starts again without being asked twice.
    wait_for_workspace(owner, lab_studio["id"], created["id"], RUNNING)
    events = expect(
        owner.get(f"/studios/{lab_studio['id']}/workspaces/{created['id']}/events"), 200
    )["items"]
    lost = [e for e in events if e["reason"]["code"] == "SERVER_LOST"]
    assert [e["to_status"] for e in lost] == ["STOPPED"]
    assert events[-1]["to_status"] in RUNNING
    expect(lab.http.get("api/contents/"), 200)
    assert server_process(database, created["id"]).pid != record.pid


def server_process(database: Database, workspace_id: str) -> ProcessRecord:
    """The process recorded for the workspace's running server."""
    with database.session(write=False) as db:
        row = db.get(Workspace, workspace_id)
        assert row is not None and row.server_state is not None
        return ProcessRecord.from_json(row.server_state["process"])


def test_an_idle_workspace_stops_itself(
    control_plane: ControlPlane,
    database: Database,
    owner: UserClient,
    lab_studio: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It stops, its server process with it, and the next open starts it again."""
    created = create_workspace(owner, lab_studio["id"])
    with database.transaction() as db:  # below the API's 60 s floor, to keep the test short
        row = db.get(Workspace, created["id"])
        assert row is not None
        row.idle_timeout_seconds = 2
    start_and_wait(owner, lab_studio["id"], created["id"])
    first = server_process(database, created["id"])
    assert processes.is_alive(first)
    stopped = wait_for_workspace(owner, lab_studio["id"], created["id"], {"STOPPED"}, timeout=60)
    assert stopped["status_reason"]["code"] == "IDLE_TIMEOUT"
    events = expect(
        owner.get(f"/studios/{lab_studio['id']}/workspaces/{created['id']}/events"), 200
    )["items"]
    assert [e["to_status"] for e in events][-3:] == ["IDLE", "STOPPING", "STOPPED"]
    # A stopped workspace has no process: the server and its process group are gone.
    # (A sandbox's inner bubblewrap, left to the host's init, may stay a zombie a while.)
    assert not processes.is_alive(first)
    assert processes.group_members(first) == []
    with database.transaction() as db:  # the reopened server must not idle out mid-test
        row = db.get(Workspace, created["id"])
        assert row is not None and row.server_state is None
        row.idle_timeout_seconds = 3600
    # The control plane's settings variables do not reach the new server and its kernels.
    canary = uuid.uuid4().hex
    monkeypatch.setenv("SPARKSTUDIO_ADMIN_PASSWORD", canary)
    # Opening it in a browser starts it again: a "starting" page first, then JupyterLab.
    lab = Lab(control_plane, owner, created["id"])
    starting = lab.http.get("lab", headers={"Accept": "text/html"})
    assert starting.status_code == 503, starting.text
    assert "Starting your workspace" in starting.text and starting.headers["Retry-After"]
    wait_for_workspace(owner, lab_studio["id"], created["id"], RUNNING)
    page = lab.http.get("lab", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "JupyterLab" in page.text
    second = server_process(database, created["id"])
    assert second.pid != first.pid and processes.is_alive(second)
    kernel = expect(lab.http.post("api/kernels", json={"name": "python3"}), 201)
    try:
        with lab.kernel_socket(kernel["id"]) as socket:
            names = "sorted(k for k in os.environ if k.upper().startswith('SPARKSTUDIO_'))"
            answer = run_code(socket, f"import os\nprint(' '.join({names}))")
            leaked = run_code(
                socket, f"print([k for k, v in os.environ.items() if {canary!r} in v])"
            )
        assert answer["reply"]["status"] == "ok", answer
        assert answer["stdout"].split() == [
            "SPARKSTUDIO_API_URL",
            "SPARKSTUDIO_ATTACHMENT_FILE",
            "SPARKSTUDIO_USER",
            "SPARKSTUDIO_WORKSPACE_ID",
            "SPARKSTUDIO_WORKSPACE_SECRET",
        ]
        assert leaked["stdout"] == "[]\n", leaked
    finally:
        expect(lab.http.delete(f"api/kernels/{kernel['id']}"), 204)


def test_a_running_workspace_cannot_be_deleted_and_purge_removes_its_files(
    owner: UserClient, admin: UserClient, lab_studio: dict[str, Any], lab: Lab
) -> None:
    studio_id = lab_studio["id"]
    running = f"/studios/{studio_id}/workspaces/{lab.base.rstrip('/').rsplit('/', 1)[1]}"
    expect_error(owner.delete(running), 409, "InvalidState")
    kept, purged = create_workspace(owner, studio_id), create_workspace(owner, studio_id)
    for created in (kept, purged):
        path = store_path(lab_studio, created["id"], "data.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a,b\n")
    expect(owner.delete(f"/studios/{studio_id}/workspaces/{kept['id']}"), 204)
    expect(owner.delete(f"/studios/{studio_id}/workspaces/{purged['id']}?purge=true"), 204)
    assert store_path(lab_studio, kept["id"], "data.csv").exists()
    assert not store_path(lab_studio, purged["id"], "data.csv").exists()
    leftovers = expect(admin.get(f"/studios/{studio_id}/workspace-leftovers"), 200)
    assert [item["workspace_id"] for item in leftovers] == [kept["id"]]
    expect(owner.get(f"/studios/{studio_id}/workspace-leftovers"), 403)


def test_a_workspace_on_s3_storage_keeps_its_files_in_the_bucket(
    control_plane: ControlPlane,
    database: Database,
    admin: UserClient,
    owner: UserClient,
    s3_server: S3Server,
) -> None:
    bucket = s3_server.create_bucket()
    studio = create_studio(admin, storage_location=f"s3://{bucket}/team")
    add_member(admin, studio["id"], user=owner.name, role="DEVELOPER")
    created = create_workspace(owner, studio["id"])
    start_and_wait(owner, studio["id"], created["id"])
    lab = Lab(control_plane, owner, created["id"])
    expect(
        lab.http.put("api/contents/s3.ipynb", json={"type": "notebook", "content": NOTEBOOK}), 201
    )
    key = f"team/workspaces/{created['id']}/s3.ipynb"
    assert key in s3_server.keys(bucket)
    body = s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    assert "print('hello')" in "".join(json.loads(body)["cells"][0]["source"])
    # A new server (after a crash) reads what the bucket holds.
    with database.session(write=False) as db:
        row = db.get(Workspace, created["id"])
        assert row is not None and row.server_state is not None
        pid = row.server_state["process"]["pid"]
    os.killpg(pid, signal.SIGKILL)
    wait_for_workspace(owner, studio["id"], created["id"], {"STOPPED"})
    start_and_wait(owner, studio["id"], created["id"])
    listing = expect(lab.http.get("api/contents/"), 200)["content"]
    assert [item["name"] for item in listing] == ["s3.ipynb"]
    expect(lab.http.delete("api/contents/s3.ipynb"), 204)
    assert key not in s3_server.keys(bucket)


def git(cwd: Path, *args: str) -> str:
    identity = ["-c", "user.name=Upstream", "-c", "user.email=upstream@example.com"]
    result = subprocess.run(
        ["git", *identity, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return result.stdout


def upstream_repository(tmp_path: Path, studio: dict[str, Any]) -> tuple[Path, Path]:
    """A bare "remote" with one commit in the studio's storage (a file:// repository is
    linked from the studio's locations only), and a clone of it to make upstream changes
    in."""
    remote, work = studio_folder(studio) / "repos" / "project.git", tmp_path / "upstream"
    remote.parent.mkdir(parents=True, exist_ok=True)
    git(tmp_path, "init", "--bare", "--initial-branch=main", str(remote))
    git(tmp_path, "clone", str(remote), str(work))
    (work / "README.md").write_text("hello\n")
    git(work, "add", "README.md")
    git(work, "commit", "-m", "first")
    git(work, "push", "origin", "HEAD:main")
    return remote, work


def test_linked_repositories_are_cloned_pulled_and_pushed(
    tmp_path: Path,
    database: Database,
    owner: UserClient,
    lab_studio: dict[str, Any],
    workspace: dict[str, Any],
    lab: Lab,
) -> None:
    remote, upstream = upstream_repository(tmp_path, lab_studio)
    repos = f"/studios/{lab_studio['id']}/workspaces/{workspace['id']}/repos"
    body = {"url": remote.as_uri(), "username": "alice", "password": "s3cr3t-token"}
    linked = expect(owner.post(repos, json=body), 201)
    assert (linked["name"], linked["has_credentials"]) == ("project", True)
    assert expect(lab.http.get("api/contents/project/README.md"), 200)["content"] == "hello\n"
    with database.session(write=False) as db:  # the credentials are encrypted at rest
        row = db.get(WorkspaceRepo, linked["id"])
        assert row is not None and row.credentials_encrypted
        assert "s3cr3t-token" not in row.credentials_encrypted
    # An upstream change arrives with a pull.
    (upstream / "NEWS.md").write_text("news\n")
    git(upstream, "add", "NEWS.md")
    git(upstream, "commit", "-m", "news")
    git(upstream, "push", "origin", "HEAD:main")
    expect(owner.post(f"{repos}/project/pull"), 200)
    assert expect(lab.http.get("api/contents/project/NEWS.md"), 200)["content"] == "news\n"
    # A change made in JupyterLab, committed with its Git extension, leaves with a push.
    note = {"type": "file", "format": "text", "content": "from the workspace\n"}
    expect(lab.http.put("api/contents/project/notes.md", json=note), 201)
    identity = {"options": {"user.name": "Alice", "user.email": "alice@example.com"}}
    expect(lab.http.post("git/project/config", json=identity), 201)
    expect(lab.http.post("git/project/add_all_untracked"), 200)
    expect(lab.http.post("git/project/commit", json={"commit_msg": "notes"}), 200)
    expect(owner.post(f"{repos}/project/push"), 200)
    assert "notes" in git(remote, "log", "--oneline", "main")
    # Bad input: a URL that is not one, a second link of the same name, a 4th repository.
    bad = expect_error(owner.post(repos, json={"url": "not a url"}), 422)
    assert bad["fields"][0]["field"] == "url"
    expect_error(owner.post(repos, json={"url": remote.as_uri()}), 409)
    missing = expect_error(
        owner.post(repos, json={"url": (remote.parent / "nope").as_uri(), "name": "x"}), 422
    )
    assert "cannot clone" in missing["message"]
    for name in ("two", "three"):
        expect(owner.post(repos, json={"url": remote.as_uri(), "name": name}), 201)
    too_many = expect_error(owner.post(repos, json={"url": remote.as_uri(), "name": "four"}), 422)
    assert "at most 3" in too_many["message"]
    assert [r["name"] for r in expect(owner.get(repos), 200)] == ["project", "three", "two"]
    for name in ("project", "two", "three"):
        expect(owner.delete(f"{repos}/{name}"), 204)
    # Unlinking keeps the working tree (the files are the user's).
    expect(lab.http.get("api/contents/project/README.md"), 200)
