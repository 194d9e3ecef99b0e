"""``sparkstudio login --sso``: the CLI signs in through the browser (RFC 8252 loopback).

The CLI command runs for real, in this process so that only the browser can be replaced:
``webbrowser.open`` becomes a browser made of an httpx client, in a thread of its own as
a real browser would be, which follows the URL the CLI opens through the control plane,
the provider's form and back to the CLI's listener.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import webbrowser
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from sparkstudio.cli.main import app
from sparkstudio.errors import StudioError
from sparkstudio.server import ControlPlane
from tests.oidc import MockProvider, query_of
from tests.support import TIMEOUT, create_user, expect_error, unique

CLI = [sys.executable, "-m", "sparkstudio.cli.main"]


class FakeBrowser:
    """Stands in for ``webbrowser.open``: signs ``subject`` in at the provider's form.

    ``before_cli`` sees the address the control plane sends the browser to (the CLI's
    listener, with the one-time code) before the browser goes there.
    """

    def __init__(self, subject: str, before_cli: Callable[[str], None] = lambda url: None):
        self.subject = subject
        self.before_cli = before_cli
        self.opened: list[str] = []
        self.to_cli: list[str] = []
        self.failures: list[BaseException] = []
        self.done = threading.Event()

    def open(self, url: str, *args: Any, **kwargs: Any) -> bool:
        self.opened.append(url)
        threading.Thread(target=self._follow, args=(url,), daemon=True).start()
        return True

    def _follow(self, url: str) -> None:
        try:
            with httpx.Client(timeout=TIMEOUT) as http:
                at_plane = http.get(url)
                assert at_plane.status_code == 302, at_plane.text
                back = http.post(at_plane.headers["location"], data={"sub": self.subject})
                assert back.status_code == 302, back.text
                to_cli = http.get(back.headers["location"])
                assert to_cli.status_code == 302, to_cli.text
                self.to_cli.append(to_cli.headers["location"])
                self.before_cli(to_cli.headers["location"])
                shown = http.get(to_cli.headers["location"])
                assert shown.status_code == 200, shown.text
        except BaseException as error:
            self.failures.append(error)
        finally:
            self.done.set()


def run_cli(args: list[str], config: Path) -> Result:
    env = {"SPARKSTUDIO_CONFIG": str(config), "SPARKSTUDIO_URL": None, "SPARKSTUDIO_TOKEN": None}
    return CliRunner().invoke(app, args, env=env)  # type: ignore[arg-type]


def test_the_cli_signs_in_through_the_browser(
    sso_plane: ControlPlane,
    oidc_provider: MockProvider,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subject, name = oidc_provider.new_person()
    config = tmp_path / "config.json"
    stolen: list[httpx.Response] = []

    def someone_tries_the_code_first(to_cli: str) -> None:
        # A code caught on its way to the CLI is of no use without the CLI's verifier.
        code = query_of(to_cli)["code"]
        stolen.append(
            httpx.post(
                f"{sso_plane.api_url}/auth/oidc/cli-token",
                json={"code": code, "code_verifier": "a" * 43},
            )
        )

    browser = FakeBrowser(subject, before_cli=someone_tries_the_code_first)
    monkeypatch.setattr(webbrowser, "open", browser.open)

    result = run_cli(["login", "--url", sso_plane.url, "--sso", "corp", "--json"], config)

    assert browser.done.wait(30) and not browser.failures, browser.failures
    assert result.exit_code == 0, result.output
    # The CLI opened the control plane's sign-in route with its port and challenge, and
    # printed the address for when no browser opens.
    opened = browser.opened[0]
    assert opened.startswith(f"{sso_plane.api_url}/auth/oidc/corp/login?")
    port, challenge = query_of(opened)["cli_port"], query_of(opened)["cli_challenge"]
    assert len(challenge) == 43 and opened in result.stderr
    assert browser.to_cli[0].startswith(f"http://127.0.0.1:{port}/callback?code=")
    body = expect_error(stolen[0], 401, "InvalidCode")
    assert "verifier does not match" in body["message"]

    printed = json.loads(result.stdout)
    assert printed["user"] == name
    saved = json.loads(config.read_text())
    assert saved["user"] == name and saved["token"].startswith("sst.")
    expires_at = datetime.fromisoformat(saved["expires_at"])
    assert timedelta(hours=11) < expires_at - datetime.now(UTC) <= timedelta(hours=12)
    assert config.stat().st_mode & 0o077 == 0

    who = run_cli(["whoami", "--json"], config)
    assert who.exit_code == 0, who.output
    me = json.loads(who.stdout)
    assert me["user"]["name"] == name and me["token_kind"] == "SESSION"

    # The code was good once.
    replay = httpx.post(
        f"{sso_plane.api_url}/auth/oidc/cli-token",
        json={"code": query_of(browser.to_cli[0])["code"], "code_verifier": "a" * 43},
    )
    expect_error(replay, 401, "InvalidCode")


def test_the_cli_is_told_why_a_sign_in_failed(
    sso_plane: ControlPlane,
    oidc_provider: MockProvider,
    sso_admin: httpx.Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken = create_user(sso_admin)
    subject = f"subject-{unique('taken')}"
    oidc_provider.set_claims(subject, preferred_username=taken["name"])
    browser = FakeBrowser(subject)
    monkeypatch.setattr(webbrowser, "open", browser.open)

    result = run_cli(["login", "--url", sso_plane.url, "--sso", "corp"], tmp_path / "c.json")

    assert browser.done.wait(30) and not browser.failures, browser.failures
    assert query_of(browser.to_cli[0])["error"] == "UserNameTaken"
    assert isinstance(result.exception, StudioError), result.output
    assert result.exception.reason == "UserNameTaken"
    assert taken["name"] in result.exception.message
    assert not (tmp_path / "c.json").exists()


def cli(args: list[str], config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKSTUDIO_")}
    env["SPARKSTUDIO_CONFIG"] = str(config)
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60)


def test_the_cli_asks_which_provider_when_there_are_several(
    sso_plane: ControlPlane, tmp_path: Path
) -> None:
    result = cli(["login", "--url", sso_plane.url, "--sso"], tmp_path / "config.json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "several providers (corp, stale, down)" in result.stderr
    assert "--sso NAME" in result.stderr


def test_an_expired_login_says_to_log_in_again(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    yesterday = datetime.now(UTC) - timedelta(days=1)
    saved = {
        "url": "http://127.0.0.1:9",
        "token": "sst.tok-0000000000000000.expired",
        "user": "ada",
        "studio": None,
        "expires_at": yesterday.isoformat(),
    }
    config.write_text(json.dumps(saved))
    result = cli(["whoami"], config)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "your login to http://127.0.0.1:9 expired" in result.stderr
    assert "sparkstudio login --url http://127.0.0.1:9" in result.stderr
    assert "LoginExpired" in result.stderr
