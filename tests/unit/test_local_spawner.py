"""The ``local`` spawner's environment for a workspace server (no process is started):
what the server is told, with what its place gives every process of users' code."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkstudio.jupyter.agent import API_URL_ENV, WORKSPACE_ENV
from sparkstudio.jupyter.attachment import ATTACHMENT_FILE_ENV
from sparkstudio.jupyter.identity import SECRET_ENV
from sparkstudio.processes import identities
from sparkstudio.processes.places import Egress, HostPlace, clean_environment
from sparkstudio.settings import Settings
from sparkstudio.spawners.base import SpawnRequest
from sparkstudio.spawners.local import server_environment

BASE = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/studio",
    "JAVA_HOME": "/usr/lib/jvm/java-17",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
    "JUPYTER_TOKEN": "a-token-of-the-shell",
    "LD_PRELOAD": "/opt/evil.so",
    "PGPASSWORD": "pg-secret",
    # The control plane's settings, and the CLI's own variables.
    "SPARKSTUDIO_ADMIN_PASSWORD": "admin-password",
    "SPARKSTUDIO_DATABASE_URL": "postgresql+psycopg://studio:db-password@db/studio",
    "SPARKSTUDIO_OIDC_PROVIDERS": '[{"client_secret": "oidc-secret"}]',
    "SPARKSTUDIO_HOME": "/home/studio/.sparkstudio",
    "sparkstudio_admin_password": "read case-insensitively too",
    "SPARKSTUDIO_TOKEN": "sst.tok-1.cli-secret",
}
SECRETS = ("admin-password", "db-password", "oidc-secret", "cli-secret", "aws-secret", "pg-secret")


@pytest.fixture(autouse=True)
def control_plane_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control plane runs with all of BASE in its environment."""
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)


def _request(tmp_path: Path, **environment: str) -> SpawnRequest:
    egress = Egress(connect_url="sc://localhost:1", api_url="http://127.0.0.1:8780/api/v1")
    return SpawnRequest(
        workspace_id="ws-1",
        base_url="/workspaces/ws-1/",
        secret="the-proxy-secret",
        workdir=tmp_path,
        contents_url=f"file://{tmp_path}/files",
        place=HostPlace(identities.current(), egress),
        log_dir=tmp_path / "logs",
        environment={
            API_URL_ENV: "http://127.0.0.1:8780/api/v1",
            WORKSPACE_ENV: "ws-1",
            **environment,
        },
    )


def _launched_with(request: SpawnRequest) -> dict[str, str]:
    """The environment the server process gets: the spawner's words, through its place."""
    return clean_environment(server_environment(request), home="/home/of-the-place")


def test_nothing_of_the_control_plane_reaches_the_server(tmp_path: Path) -> None:
    env = _launched_with(_request(tmp_path))
    assert not [value for value in env.values() if any(s in value for s in SECRETS)]
    for name in ("JUPYTER_TOKEN", "LD_PRELOAD", "AWS_ACCESS_KEY_ID", "PGPASSWORD"):
        assert name not in env
    ours = {API_URL_ENV, WORKSPACE_ENV, ATTACHMENT_FILE_ENV, SECRET_ENV}
    assert {name for name in env if name.upper().startswith("SPARKSTUDIO_")} == ours


def test_every_setting_is_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever Settings reads from the environment (SPARKSTUDIO_<FIELD>) stays behind."""
    base = {f"SPARKSTUDIO_{field.upper()}": "x" for field in Settings.model_fields}
    assert len(base) > 10
    for name, value in base.items():
        monkeypatch.setenv(name, value)
    assert set(base) & set(_launched_with(_request(tmp_path))) == set()


def test_the_workspace_gets_what_it_needs(tmp_path: Path) -> None:
    env = _launched_with(_request(tmp_path, EXTRA="from the control plane"))
    # Its own variables (the control plane's address and the workspace id included).
    assert env[API_URL_ENV] == "http://127.0.0.1:8780/api/v1"
    assert env[WORKSPACE_ENV] == "ws-1"
    assert env["EXTRA"] == "from the control plane"
    assert env[SECRET_ENV] == "the-proxy-secret"
    assert env[ATTACHMENT_FILE_ENV] == str(tmp_path / "runtime" / "attachment.json")
    assert env["JUPYTER_CONFIG_DIR"] == str(tmp_path / "config")
    assert env["JUPYTER_PATH"] == str(tmp_path / "data")
    assert env["JUPYTER_RUNTIME_DIR"] == str(tmp_path / "runtime")
    # What every process of users' code gets: programs, Java, its place's home.
    assert env["PATH"].endswith(BASE["PATH"])
    assert env["JAVA_HOME"] == BASE["JAVA_HOME"]
    assert env["HOME"] == "/home/of-the-place"


def test_no_jupyter_token_is_passed(tmp_path: Path) -> None:
    assert "JUPYTER_TOKEN" not in _launched_with(_request(tmp_path))
