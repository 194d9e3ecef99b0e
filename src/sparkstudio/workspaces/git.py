"""Git working trees of a workspace: clone, pull, push with stored credentials.

Credentials reach git through a credential helper that reads them from the environment
of that one git process: they never appear on a command line or in ``.git/config``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

TIMEOUT_SECONDS = 300
_HELPER = (
    "!f() { echo username=$SPARKSTUDIO_GIT_USERNAME; echo password=$SPARKSTUDIO_GIT_PASSWORD; }; f"
)


class GitFailed(RuntimeError):
    """git exited with an error; the message is git's own."""


def run_git(args: list[str], cwd: Path, credentials: tuple[str, str] | None = None) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    config: list[str] = []
    if credentials is not None:
        env["SPARKSTUDIO_GIT_USERNAME"], env["SPARKSTUDIO_GIT_PASSWORD"] = credentials
        config = ["-c", "credential.helper=", "-c", f"credential.helper={_HELPER}"]
    try:
        result = subprocess.run(  # noqa: S603
            ["git", *config, *args],  # noqa: S607
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitFailed(f"git {args[0]} took longer than {TIMEOUT_SECONDS} s") from None
    if result.returncode != 0:
        raise GitFailed((result.stderr or result.stdout).strip() or f"git {args[0]} failed")
    return (result.stdout + result.stderr).strip()


def clone(url: str, branch: str, destination: Path, credentials: tuple[str, str] | None) -> str:
    """Clone into ``destination`` (which must not exist); nothing is left if it fails."""
    if destination.exists():
        raise GitFailed(f"{destination.name} already exists in the workspace")
    destination.parent.mkdir(parents=True, exist_ok=True)
    args = ["clone", *(["--branch", branch] if branch else []), "--", url, str(destination)]
    try:
        return run_git(args, destination.parent, credentials)
    except GitFailed:
        shutil.rmtree(destination, ignore_errors=True)
        raise


def pull(tree: Path, credentials: tuple[str, str] | None) -> str:
    return run_git(["pull", "--no-rebase", "--no-edit"], tree, credentials)


def push(tree: Path, credentials: tuple[str, str] | None) -> str:
    return run_git(["push", "origin", "HEAD"], tree, credentials)
