"""The sparkstudio command, run as a user runs it: real processes, real control plane."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from sparkstudio.auth.actions import render_markdown

CLI = [sys.executable, "-m", "sparkstudio.cli.main"]
ROOT = Path(__file__).resolve().parents[2]


def run(
    args: list[str], env: dict[str, str], stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*CLI, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed: {result.stdout}\n{result.stderr}")
    return result


class Up:
    """`sparkstudio up` in a subprocess."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.process = subprocess.Popen(
            [*CLI, "up", "--port", "0", "--home", str(home)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = ""
        assert self.process.stdout is not None
        deadline = time.monotonic() + 60
        while "Press Ctrl-C" not in self.output:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError(f"sparkstudio up exited early:\n{self.output}")
            self.output += line
            assert time.monotonic() < deadline, self.output
        self.url = json.loads((home / "run" / "server.json").read_text())["url"]

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SPARKSTUDIO_")}
    clean["SPARKSTUDIO_CONFIG"] = str(tmp_path / "config.json")
    clean["COLUMNS"] = "200"
    return clean


@pytest.fixture
def up(tmp_path: Path, env: dict[str, str]) -> Iterator[Up]:
    server = Up(tmp_path / "home", env)
    yield server
    if server.process.poll() is None:
        server.interrupt()


def test_up_prints_where_to_go_and_admin_password_once(
    up: Up, tmp_path: Path, env: dict[str, str]
) -> None:
    assert f"sparkstudio is running at {up.url}" in up.output
    assert f"OpenAPI:  {up.url}/api/v1/openapi.json" in up.output
    assert f"console:  {up.url}/console" in up.output
    sign_in = httpx.get(f"{up.url}/console", follow_redirects=True)
    assert sign_in.url.path == "/console/login" and "login.js" in sign_in.text
    password = re.search(r"password: (\S+)", up.output)
    assert password is not None
    assert httpx.get(f"{up.url}/api/v1/openapi.json").json()["info"]["title"] == "sparkstudio"
    login = httpx.post(
        f"{up.url}/api/v1/auth/login", json={"username": "admin", "password": password.group(1)}
    )
    assert login.status_code == 200
    # Migrations were applied to the embedded SQLite under the home.
    assert (tmp_path / "home" / "sparkstudio.db").exists()

    assert up.interrupt() == 0, "Ctrl-C must stop the control plane cleanly"
    assert not (tmp_path / "home" / "run" / "server.json").exists()

    # Second start on the same home: same admin, no new password printed.
    again = Up(tmp_path / "home", env)
    try:
        assert "password:" not in again.output
        relogin = httpx.post(
            f"{again.url}/api/v1/auth/login",
            json={"username": "admin", "password": password.group(1)},
        )
        assert relogin.status_code == 200
    finally:
        assert again.interrupt() == 0


def test_admin_password_from_environment(tmp_path: Path, env: dict[str, str]) -> None:
    env = {**env, "SPARKSTUDIO_ADMIN_PASSWORD": "from-the-environment"}
    server = Up(tmp_path / "home", env)
    try:
        assert "from-the-environment" not in server.output
        assert "password:" not in server.output
        login = httpx.post(
            f"{server.url}/api/v1/auth/login",
            json={"username": "admin", "password": "from-the-environment"},
        )
        assert login.status_code == 200
    finally:
        assert server.interrupt() == 0


def test_cli_user_story(up: Up, env: dict[str, str], tmp_path: Path) -> None:
    password = re.search(r"password: (\S+)", up.output)
    assert password is not None
    run(["login", "--url", up.url, "--user", "admin", "--password-stdin"], env, password.group(1))
    config = Path(env["SPARKSTUDIO_CONFIG"])
    assert config.stat().st_mode & 0o077 == 0, "the saved token must be readable by its owner only"

    run(["studio", "create", "analytics", "--network", "default", "--network", "private"], env)
    run(["user", "create", "alice", "--password-stdin"], env, "alice-password\n")
    run(["group", "create", "data-eng"], env)
    run(["group", "add-member", "data-eng", "alice"], env)
    added = json.loads(
        run(
            [
                "member",
                "add",
                "-s",
                "analytics",
                "--group",
                "data-eng",
                "--role",
                "developer",
                "--json",
            ],
            env,
        ).stdout
    )
    assert added["principal_name"] == "data-eng" and added["role"] == "DEVELOPER"
    run(["studio", "use", "analytics"], env)

    created = json.loads(
        run(["workspace", "create", "etl", "--tag", "team=data", "--json"], env).stdout
    )
    assert created["tags"] == {"team": "data"} and created["status"] == "STOPPED"
    duplicate = run(["workspace", "create", "etl"], env, check=False)
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr and "Traceback" not in duplicate.stderr
    bad_network = run(["workspace", "create", "x", "--network", "nope"], env, check=False)
    assert bad_network.returncode == 1 and "network" in bad_network.stderr

    table = run(["workspace", "list"], env).stdout
    assert "etl" in table and "STOPPED" in table
    events = json.loads(run(["workspace", "events", "etl", "--json"], env).stdout)
    assert [e["to_status"] for e in events] == ["STOPPED"]

    # Alice, a developer through her group, sees the studio but not the user list.
    alice_env = {**env, "SPARKSTUDIO_CONFIG": str(tmp_path / "alice.json")}
    run(
        ["login", "--url", up.url, "--user", "alice", "--password-stdin"],
        alice_env,
        "alice-password",
    )
    studios = json.loads(run(["studio", "list", "--json"], alice_env).stdout)
    assert [s["name"] for s in studios] == ["analytics"]
    denied = run(["user", "list"], alice_env, check=False)
    assert denied.returncode == 1 and "AccessDenied" in denied.stderr
    mine = run(["workspace", "create", "alice-ws", "-s", "analytics", "--json"], alice_env)
    assert json.loads(mine.stdout)["owner"] == "alice"

    # A personal API token works for scripts and stops working when revoked.
    token = json.loads(run(["token", "create", "ci", "--json"], alice_env).stdout)
    script_env = {**env, "SPARKSTUDIO_URL": up.url, "SPARKSTUDIO_TOKEN": token["token"]}
    who = json.loads(run(["whoami", "--json"], script_env).stdout)
    assert who["user"]["name"] == "alice" and who["token_kind"] == "API"
    listed = run(["token", "list", "--json"], alice_env).stdout
    assert token["id"] in listed and token["token"] not in listed
    run(["token", "revoke", token["id"]], alice_env)
    refused = run(["whoami"], script_env, check=False)
    assert refused.returncode == 1 and "Unauthenticated" in refused.stderr

    # An AWS access key pair, printed once, signs boto3's requests in its studio.
    pair = json.loads(
        run(
            ["token", "create", "boto", "--aws", "--studio", "analytics", "--json"], alice_env
        ).stdout
    )
    assert {"id", "access_key_id", "secret_access_key", "expires_at"} <= pair.keys()
    emr = boto3.client(
        "emr-serverless",
        endpoint_url=f"{up.url}/aws/emr-serverless",
        region_name="us-east-1",
        aws_access_key_id=pair["access_key_id"],
        aws_secret_access_key=pair["secret_access_key"],
    )
    assert emr.list_applications()["applications"] == []
    listed = run(["token", "list"], alice_env).stdout
    assert pair["access_key_id"] in listed and pair["secret_access_key"] not in listed
    shown = run(["token", "create", "shown", "--aws", "--studio", "analytics"], alice_env).stdout
    assert "Store the secret access key now" in shown and "aws_secret_access_key = " in shown
    lone = run(["token", "create", "lone", "--aws"], alice_env, check=False)
    assert lone.returncode != 0 and "--studio" in lone.stderr

    run(["logout"], alice_env)
    after = run(["studio", "list"], alice_env, check=False)
    assert after.returncode == 1 and "not logged in" in after.stderr


def test_cli_without_login_says_how(env: dict[str, str]) -> None:
    result = run(["workspace", "list", "-s", "x"], env, check=False)
    assert result.returncode == 1
    assert "sparkstudio login" in result.stderr


def test_authorization_doc_matches_the_action_table() -> None:
    doc = (ROOT / "docs" / "authorization.md").read_text()
    assert render_markdown() in doc, "regenerate with: python -m sparkstudio.auth.actions"


def test_up_refuses_clusters_when_java_is_missing(tmp_path: Path, env: dict[str, str]) -> None:
    """Without a usable Java, `up` says so and cluster launches answer 503 with the reason."""
    no_java = tmp_path / "no-java"
    no_java.mkdir()
    env = {**env, "JAVA_HOME": str(no_java), "SPARKSTUDIO_ADMIN_PASSWORD": "pw-for-java-test"}
    server = Up(tmp_path / "home", env)
    try:
        assert "clusters: REFUSED: clusters cannot start: no java found on JAVA_HOME" in (
            server.output
        )
        api = f"{server.url}/api/v1"
        token = httpx.post(
            f"{api}/auth/login", json={"username": "admin", "password": "pw-for-java-test"}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        studio = httpx.post(f"{api}/studios", json={"name": "java"}, headers=headers).json()
        httpx.put(f"{api}/templates/single-node/shares/{studio['id']}", headers=headers)
        refused = httpx.post(
            f"{api}/studios/{studio['id']}/clusters",
            json={"name": "c", "template": "single-node"},
            headers=headers,
        )
        assert refused.status_code == 503
        assert refused.json()["reason"] == "BackendUnavailable"
        assert "install Java 17 or 21" in refused.json()["message"]
        # Nothing was recorded: no half-made cluster.
        listed = httpx.get(f"{api}/studios/{studio['id']}/clusters", headers=headers).json()
        assert listed["items"] == []
    finally:
        assert server.interrupt() == 0
