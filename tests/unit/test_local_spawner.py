"""The ``local`` spawner's environment for a workspace server (no process is started)."""

from __future__ import annotations

from pathlib import Path

from sparkstudio.jupyter.agent import API_URL_ENV, WORKSPACE_ENV
from sparkstudio.jupyter.attachment import ATTACHMENT_FILE_ENV
from sparkstudio.jupyter.identity import SECRET_ENV
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
    # The control plane's settings, and the CLI's own variables.
    "SPARKSTUDIO_ADMIN_PASSWORD": "admin-password",
    "SPARKSTUDIO_DATABASE_URL": "postgresql+psycopg://studio:db-password@db/studio",
    "SPARKSTUDIO_OIDC_PROVIDERS": '[{"client_secret": "oidc-secret"}]',
    "SPARKSTUDIO_HOME": "/home/studio/.sparkstudio",
    "sparkstudio_admin_password": "read case-insensitively too",
    "SPARKSTUDIO_TOKEN": "sst.tok-1.cli-secret",
}


def _request(tmp_path: Path, **environment: str) -> SpawnRequest:
    return SpawnRequest(
        workspace_id="ws-1",
        base_url="/workspaces/ws-1/",
        secret="the-proxy-secret",
        workdir=tmp_path,
        contents_url=f"file://{tmp_path}/files",
        environment={
            API_URL_ENV: "http://127.0.0.1:8780/api/v1",
            WORKSPACE_ENV: "ws-1",
            **environment,
        },
    )


def test_the_control_plane_settings_do_not_reach_the_server(tmp_path: Path) -> None:
    env = server_environment(BASE, _request(tmp_path))
    leaked = {name for name in BASE if name.upper().startswith("SPARKSTUDIO_")} & set(env)
    assert leaked == set()
    secrets = ("admin-password", "db-password", "oidc-secret", "cli-secret")
    assert not [value for value in env.values() if any(s in value for s in secrets)]


def test_every_setting_is_left_out(tmp_path: Path) -> None:
    """Whatever Settings reads from the environment (SPARKSTUDIO_<FIELD>) stays behind."""
    base = {f"SPARKSTUDIO_{field.upper()}": "x" for field in Settings.model_fields}
    assert len(base) > 10
    env = server_environment({**BASE, **base}, _request(tmp_path))
    assert set(base) & set(env) == set()


def test_the_workspace_gets_what_it_needs(tmp_path: Path) -> None:
    env = server_environment(BASE, _request(tmp_path, EXTRA="from the control plane"))
    # Its own variables (the control plane's address and the workspace id included).
    assert env[API_URL_ENV] == "http://127.0.0.1:8780/api/v1"
    assert env[WORKSPACE_ENV] == "ws-1"
    assert env["EXTRA"] == "from the control plane"
    assert env[SECRET_ENV] == "the-proxy-secret"
    assert env[ATTACHMENT_FILE_ENV] == str(tmp_path / "attachment.json")
    assert env["JUPYTER_CONFIG_DIR"] == str(tmp_path / "config")
    assert env["JUPYTER_PATH"] == str(tmp_path / "data")
    assert env["JUPYTER_RUNTIME_DIR"] == str(tmp_path / "runtime")
    # What the host gives every process: programs, home, Java, object-store credentials.
    for name in ("PATH", "HOME", "JAVA_HOME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[name] == BASE[name]


def test_no_jupyter_token_is_passed(tmp_path: Path) -> None:
    assert "JUPYTER_TOKEN" not in server_environment(BASE, _request(tmp_path))
    from_request = _request(tmp_path, JUPYTER_TOKEN="x")
    assert "JUPYTER_TOKEN" not in server_environment(BASE, from_request)


def test_the_request_wins_over_the_host(tmp_path: Path) -> None:
    env = server_environment({**BASE, "EXTRA": "host"}, _request(tmp_path, EXTRA="request"))
    assert env["EXTRA"] == "request"
