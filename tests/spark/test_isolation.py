"""A hostile member of studio A, on real Spark, against studio B, the platform and the host.

Mallory is a DEVELOPER of studio A (the shared cluster's studio) with a workspace attached
to A's cluster. From everywhere her code runs — a notebook kernel, a Spark Connect session,
a notebook run, a job run on the warm driver and one with spark-submit — she tries to read
studio B's files, another member's workspace, the metadata database, the home's key,
another studio's Spark event log, the control plane's environment and host files, to
write into B's storage, another workspace and the home, and to reach the database, the
control plane's port and the history server over the network. Every attempt must fail,
leave nothing written, and her own studio's files must stay usable (the positive
controls). Runs once (SQLite): the boundaries do not depend on the metadata database.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from sparkstudio.processes.isolation import namespace_of
from sparkstudio.processes.netns import enter_command
from sparkstudio.server import ControlPlane
from sparkstudio.serverless.releases import supported_release_labels
from sparkstudio.services.workspace_servers import contents_url
from tests.conftest import SparkCluster
from tests.integration.test_workspace_servers import Lab, run_code, start_and_wait
from tests.support import (
    PASSWORD,
    SHARES_THE_SPARK_CLUSTER,
    UserClient,
    add_member,
    create_studio,
    create_user,
    create_workspace,
    expect,
    expect_error,
    login,
    studio_folder,
    unique,
    wait_for_application,
)

pytestmark = [pytest.mark.spark, SHARES_THE_SPARK_CLUSTER]

ENDED = {"SUCCESS", "FAILED", "CANCELLED"}
TINY_WORKER = {"cpu": "1 vCPU", "memory": "1 GB"}
SECRET = "the-secret-of-studio-b"
PROBE_MARK = "PROBE-RESULT "

# Tries each target and says how it went: the exception's name, or ALLOWED.
PROBE = """
import json, os, socket

def _attempt(action):
    try:
        action()
        return "ALLOWED"
    except BaseException as error:
        return type(error).__name__

def _read(path):
    with open(path, "rb") as f:
        f.read(16)

def _write(path):
    with open(path, "ab") as f:
        f.write(b"planted")

def _connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass

_targets = json.loads(TARGETS)
_results = {}
for _name, _path in _targets["reads"].items():
    _results["read " + _name] = _attempt(lambda: _read(_path))
for _name, _path in _targets["writes"].items():
    _results["write " + _name] = _attempt(lambda: _write(_path))
for _name, _port in _targets["ports"].items():
    _results["connect " + _name] = _attempt(lambda: _connect(_port))
# The control: what the code may do, in its own folder.
_results["own"] = _attempt(lambda: (_write("probe-own.txt"), _read("probe-own.txt")))
print("PROBE-RESULT " + json.dumps(_results))
"""


@dataclass(frozen=True)
class Targets:
    """What the hostile code goes for; ``own`` is a file of studio A's that A's Spark
    processes may read (the positive control of a Spark session)."""

    reads: dict[str, str]
    writes: dict[str, str]
    ports: dict[str, int]
    own: str

    def code(self) -> str:
        payload = json.dumps({"reads": self.reads, "writes": self.writes, "ports": self.ports})
        return f"TARGETS = {payload!r}\n{PROBE}"

    def check(self, output: str) -> dict[str, str]:
        """Every attempt failed, the control succeeded, nothing was written."""
        line = next(line for line in output.splitlines() if line.startswith(PROBE_MARK))
        results: dict[str, str] = json.loads(line.removeprefix(PROBE_MARK))
        allowed = [name for name, outcome in results.items() if outcome == "ALLOWED"]
        assert allowed == ["own"], results
        for path in self.writes.values():
            assert not Path(path).exists() or b"planted" not in Path(path).read_bytes(), path
        return results


@dataclass(frozen=True)
class Studios:
    hostile: dict[str, Any]  # studio A
    victim: dict[str, Any]  # studio B
    mallory: UserClient  # a DEVELOPER of A
    targets: Targets


def _plant(path: Path, text: str, owner: str | None = None) -> Path:
    """A file of someone else's, as they would have left it (owned by their account)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


@pytest.fixture(scope="module")
def studios(
    control_plane: ControlPlane, admin: UserClient, spark_cluster: SparkCluster
) -> Iterator[Studios]:
    if not control_plane.prepared.database.is_sqlite:
        pytest.skip("the boundaries do not depend on the metadata database: run once")
    if not control_plane.isolation.sandboxed:
        pytest.skip(f"needs sandbox isolation (root, bubblewrap): {control_plane.isolation.why}")
    settings = control_plane.settings
    hostile, victim = spark_cluster.studio, create_studio(admin)
    name = unique("mallory")
    create_user(admin, name, password=PASSWORD)
    add_member(admin, hostile["id"], user=name, role="DEVELOPER")
    # Studio B's files, and another member of A's workspace: their owners' own.
    victim_user = create_user(admin, password=None)
    add_member(admin, victim["id"], user=victim_user["name"])
    b_workspace = create_workspace(admin, victim["id"])
    control_plane.isolation.workspace_storage(
        victim["id"], victim_user["id"], victim["storage_location"], b_workspace["id"]
    )
    b_folder = studio_folder(victim)
    b_file = _plant(b_folder / "data" / "secret.txt", SECRET, f"ss-{victim['id']}")
    alice_ws = create_workspace(admin, hostile["id"])
    alice_file = Path(
        contents_url(hostile["storage_location"], alice_ws["id"]).removeprefix("file://")
    )
    control_plane.isolation.workspace_storage(
        hostile["id"], admin.user_id, hostile["storage_location"], alice_ws["id"]
    )
    alice_secret = _plant(alice_file / "notes.txt", SECRET, f"ss-{admin.user_id}")
    # Another studio's event log, as its driver leaves it (its account's, 0770).
    event_log = settings.event_log_dir / f"app-20260101000000-0000-{victim['id']}"
    _plant(event_log, '{"Event":"SparkListenerLogStart"}', f"ss-{victim['id']}")
    event_log.chmod(0o770)
    own = _plant(studio_folder(hostile) / "data" / "own.txt", "mine", f"ss-{hostile['id']}")
    api_port = int(control_plane.url.rsplit(":", 1)[1])
    history = control_plane.clusters.history
    assert history is not None
    history_port = int(history.url().rsplit(":", 1)[1])
    targets = Targets(
        reads={
            "studio B's file": str(b_file),
            "another member's workspace": str(alice_secret),
            "the metadata database": str(settings.home / "sparkstudio.db"),
            "the home's key": str(settings.home / "secret.key"),
            "another studio's event log": str(event_log),
            "the control plane's environment": f"/proc/{os.getpid()}/environ",
            "host shadow passwords": "/etc/shadow",
            "root's home": "/root/.bashrc",
        },
        writes={
            "into studio B": str(b_folder / "data" / "planted.txt"),
            "into another member's workspace": str(alice_file / "planted.txt"),
            "into the home": str(settings.home / "planted.txt"),
            "into the event logs of B": str(event_log),
        },
        ports={
            "the metadata database (PostgreSQL)": 5432,
            "the control plane": api_port,
            "the history server": history_port,
        },
        own=str(own),
    )
    with login(control_plane.api_url, name, PASSWORD) as mallory:
        yield Studios(hostile, victim, mallory, targets)


@pytest.fixture(scope="module")
def kernel(
    control_plane: ControlPlane, studios: Studios, spark_cluster: SparkCluster
) -> Iterator[ClientConnection]:
    """Mallory's PySpark kernel in her own workspace, attached to A's cluster."""
    studio_id = studios.hostile["id"]
    workspace = create_workspace(studios.mallory, studio_id)
    start_and_wait(studios.mallory, studio_id, workspace["id"])
    path = f"/studios/{studio_id}/workspaces/{workspace['id']}/attachment"
    expect(studios.mallory.put(path, json={"cluster_id": spark_cluster.cluster["id"]}), 200)
    lab = Lab(control_plane, studios.mallory, workspace["id"])
    started = expect(lab.http.post("api/kernels", json={"name": "pyspark"}), 201)
    with lab.kernel_socket(started["id"]) as socket:
        yield socket


def test_a_kernel_reaches_nothing_but_its_own_workspace(
    kernel: ClientConnection, studios: Studios
) -> None:
    """Files of B, of another member, of the platform and the host; the database and
    the control plane over the network; the control plane's environment."""
    answer = run_code(kernel, studios.targets.code())
    assert answer["reply"]["status"] == "ok", answer
    results = studios.targets.check(answer["stdout"])
    # The database and the control plane's port are not refused: they do not exist there.
    assert results["connect the metadata database (PostgreSQL)"] == "ConnectionRefusedError"


def test_a_kernel_sees_only_its_own_processes_and_accounts(kernel: ClientConnection) -> None:
    code = (
        "import os\n"
        "print('PIDS', len([p for p in os.listdir('/proc') if p.isdigit()]))\n"
        "print('USERS', sorted(l.split(':')[0] for l in open('/etc/passwd')))\n"
        "print('UID', os.getuid())\n"
        "print('SETTINGS', sorted(k for k in os.environ if k.startswith('SPARKSTUDIO_')))\n"
    )
    answer = run_code(kernel, code)
    out = answer["stdout"]
    assert int(out.split("PIDS ")[1].split()[0]) < 20, out  # the server, its kernel(s)
    users = out.split("USERS ")[1].splitlines()[0]
    assert users.count("'") == 6, users  # root, its own account, nobody
    assert "ss-usr-" in users
    assert int(out.split("UID ")[1].split()[0]) != 0
    settings = out.split("SETTINGS ")[1].splitlines()[0]
    assert "ADMIN" not in settings and "DATABASE" not in settings, settings


def test_a_spark_session_reads_nothing_outside_its_studio(
    kernel: ClientConnection, studios: Studios
) -> None:
    """``spark.read`` runs in A's cluster: B's files, the database, host files fail."""
    reads = {**studios.targets.reads, "own": studios.targets.own}
    code = textwrap.dedent(
        f"""
        outcomes = {{}}
        for name, path in {reads!r}.items():
            try:
                spark.read.text("file://" + path).collect()
                outcomes[name] = "ALLOWED"
            except Exception as error:
                outcomes[name] = type(error).__name__
        print("PROBE-RESULT " + __import__("json").dumps(outcomes))
        """
    )
    answer = run_code(kernel, code, timeout=240)
    assert answer["reply"]["status"] == "ok", answer
    line = next(x for x in answer["stdout"].splitlines() if x.startswith(PROBE_MARK))
    outcomes = json.loads(line.removeprefix(PROBE_MARK))
    assert [name for name, seen in outcomes.items() if seen == "ALLOWED"] == ["own"], outcomes


def _notebook(code: str) -> str:
    book = nbformat.v4.new_notebook()
    book.cells.append(nbformat.v4.new_code_cell(code))
    book.metadata["kernelspec"] = {
        "name": "pyspark",
        "display_name": "PySpark",
        "language": "python",
    }
    return str(nbformat.writes(book))


def test_a_notebook_run_reaches_nothing_outside_its_studio(
    studios: Studios, spark_cluster: SparkCluster
) -> None:
    studio_id = studios.hostile["id"]
    source = _plant(
        studio_folder(studios.hostile) / "notebooks" / f"{unique('probe')}.ipynb",
        _notebook(studios.targets.code()),
        f"ss-{studio_id}",
    )
    body = {
        "notebook": {"uri": source.as_uri()},
        "target": {"kind": "CLUSTER", "id": spark_cluster.cluster["id"]},
    }
    path = f"/studios/{studio_id}/notebook-executions"
    execution = expect(studios.mallory.post(path, json=body), 201)
    done = _wait(studios.mallory, f"{path}/{execution['id']}", {"FINISHED", "FAILED", "STOPPED"})
    assert done["status"] == "FINISHED", done
    text = studios.mallory.get(f"{path}/{execution['id']}/output").text
    outputs = "".join(
        output.get("text", "")
        for cell in nbformat.reads(text, as_version=4).cells
        for output in cell.get("outputs", [])
    )
    studios.targets.check(outputs)


def test_a_notebook_named_through_a_link_out_of_the_studio_is_not_read(
    studios: Studios, spark_cluster: SparkCluster
) -> None:
    """A link A's code could plant in A's storage, pointing at B's file: the platform reads
    the notebook without following it."""
    studio_id = studios.hostile["id"]
    link = studio_folder(studios.hostile) / "notebooks" / f"{unique('link')}.ipynb"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(studios.targets.reads["studio B's file"])
    body = {
        "notebook": {"uri": link.as_uri()},
        "target": {"kind": "CLUSTER", "id": spark_cluster.cluster["id"]},
    }
    path = f"/studios/{studio_id}/notebook-executions"
    execution = expect(studios.mallory.post(path, json=body), 201)
    done = _wait(studios.mallory, f"{path}/{execution['id']}", {"FINISHED", "FAILED", "STOPPED"})
    assert done["status"] == "FAILED", done
    # Refused, not missing: the link is there, the platform does not follow it.
    assert done["status_reason"]["code"] == "NOTEBOOK_UNREADABLE", done
    assert "link" in done["status_reason"]["message"], done
    assert SECRET not in json.dumps(done)


@pytest.fixture(scope="module")
def application(admin: UserClient, studios: Studios) -> dict[str, Any]:
    """An application of A: where Mallory's job runs go."""
    studio_id = studios.hostile["id"]
    body = {
        "name": unique("hostile"),
        "release_label": next(iter(supported_release_labels())),
        "initial_capacity": {
            "DRIVER": {"worker_count": 1, "worker_configuration": TINY_WORKER},
            "EXECUTOR": {"worker_count": 1, "worker_configuration": TINY_WORKER},
        },
        "maximum_capacity": {"cpu": "3 vCPU", "memory": "3 GB"},
    }
    created = expect(admin.post(f"/studios/{studio_id}/applications", json=body), 201)
    wait_for_application(admin, studio_id, created["id"], {"CREATED"})
    return dict(created)


@pytest.mark.parametrize("runtime", ["CONNECT", "CLASSIC"])
def test_a_job_run_reaches_nothing_outside_its_studio(
    studios: Studios, application: dict[str, Any], runtime: str
) -> None:
    """On the warm driver (a DataFrame script) and with spark-submit (the classic API)."""
    studio_id = studios.hostile["id"]
    spark_use = (
        "spark = SparkSession.builder.getOrCreate()\nspark.range(3).count()"
        if runtime == "CONNECT"
        else "from pyspark import SparkContext\nSparkContext.getOrCreate().parallelize([1]).count()"
    )
    script = _plant(
        studio_folder(studios.hostile) / "jobs" / f"{unique('probe')}.py",
        f"from pyspark.sql import SparkSession\n{spark_use}\n{studios.targets.code()}",
        f"ss-{studio_id}",
    )
    path = f"/studios/{studio_id}/applications/{application['id']}/job-runs"
    body = {"job_driver": {"spark_submit": {"entry_point": script.as_uri()}}}
    run = expect(studios.mallory.post(path, json=body), 201)
    done = _wait(studios.mallory, f"{path}/{run['id']}", ENDED, timeout=300)
    assert done["status"] == "SUCCESS", done
    assert done["runtime"] == runtime, done
    stdout = studios.mallory.get(f"{path}/{run['id']}/logs", params={"stream": "stdout"}).text
    studios.targets.check(stdout)


def test_a_member_denied_cluster_connect_gets_no_session(
    control_plane: ControlPlane, admin: UserClient, studios: Studios, spark_cluster: SparkCluster
) -> None:
    """Neither the API's connection, nor a kernel's token, nor a notebook run: the platform
    never hands out the cluster's own secret, and checks the user at every session."""
    studio_id = studios.hostile["id"]
    name = unique("denied")
    create_user(admin, name, password=PASSWORD)
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "cluster:Connect", "Resource": "*"},
        ],
    }
    add_member(admin, studio_id, user=name, role="DEVELOPER", session_policy=policy)
    with login(control_plane.api_url, name, PASSWORD) as denied:
        expect_error(denied.get(f"{spark_cluster.path}/connection"), 403)
        workspace = create_workspace(denied, studio_id)
        start_and_wait(denied, studio_id, workspace["id"])
        path = f"/studios/{studio_id}/workspaces/{workspace['id']}/attachment"
        expect(denied.put(path, json={"cluster_id": spark_cluster.cluster["id"]}), 200)
        lab = Lab(control_plane, denied, workspace["id"])
        started = expect(lab.http.post("api/kernels", json={"name": "pyspark"}), 201)
        with lab.kernel_socket(started["id"]) as socket:
            attachment = run_code(
                socket,
                "import os; print(open(os.environ['SPARKSTUDIO_ATTACHMENT_FILE']).read())",
            )
            assert "token" not in attachment["stdout"].replace('"token": ""', ""), attachment
            answer = run_code(socket, "spark.range(3).count()")
            assert answer["reply"]["status"] == "error", answer
            assert "cluster:Connect" in json.dumps(answer), answer


def test_a_kernel_connection_closes_when_its_token_is_revoked(
    control_plane: ControlPlane, studios: Studios
) -> None:
    studio_id = studios.hostile["id"]
    workspace = create_workspace(studios.mallory, studio_id)
    start_and_wait(studios.mallory, studio_id, workspace["id"])
    token = expect(studios.mallory.post("/tokens", json={"name": unique("tok")}), 201)
    with UserClient(
        control_plane.api_url, user=studios.mallory.user, password=PASSWORD, token=token["token"]
    ) as scripted:
        lab = Lab(control_plane, scripted, workspace["id"])
        started = expect(lab.http.post("api/kernels", json={"name": "python3"}), 201)
        with lab.kernel_socket(started["id"]) as socket:
            assert run_code(socket, "1 + 1")["reply"]["status"] == "ok"
            expect(studios.mallory.delete(f"/tokens/{token['id']}"), 204)
            deadline = time.monotonic() + 15
            with pytest.raises(ConnectionClosed):  # noqa: PT012 (the socket closes meanwhile)
                while time.monotonic() < deadline:
                    run_code(socket, "1 + 1", timeout=5)
                    time.sleep(0.5)


def test_no_spark_or_jupyter_listener_is_outside_a_namespace(
    control_plane: ControlPlane, studios: Studios, kernel: ClientConnection
) -> None:
    """On the host, the platform's own Spark process (the history server) listens on the
    loopback only, and none of a studio's does at all; in a studio's namespace, they
    listen on its loopback only."""
    host = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    ours = ("org.apache.spark", "jupyter", str(control_plane.settings.home))
    for line in host.splitlines():
        for pid in _pids(line):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if any(mark in cmdline for mark in ours):
                assert _loopback(line.split()[3]), (line, cmdline)
                assert "HistoryServer" in cmdline, (line, cmdline)
    namespace = namespace_of(studios.hostile["id"])
    inside = subprocess.run(
        [*enter_command(namespace), "ss", "-ltnH"], capture_output=True, text=True, check=True
    ).stdout
    addresses = [line.split()[3] for line in inside.splitlines() if line.strip()]
    assert addresses, inside  # the cluster, the workspace server, the bridges
    assert all(_loopback(address) for address in addresses), addresses


def _loopback(address: str) -> bool:
    return address.startswith(("127.0.0.1:", "[::1]:", "[::ffff:127.0.0.1]:"))


def _pids(ss_line: str) -> list[int]:
    return [int(part.split("=")[1]) for part in ss_line.replace(",", " ").split() if "pid=" in part]


def _wait(
    client: httpx.Client, path: str, statuses: set[str], timeout: float = 240
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        seen: dict[str, Any] = expect(client.get(path), 200)
        if seen["status"] in statuses:
            return seen
        assert time.monotonic() < deadline, f"still {seen['status']}: {seen}"
        time.sleep(0.2)
