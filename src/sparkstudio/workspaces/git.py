"""Git repositories linked to a workspace: a mirror the platform keeps, and a working tree
in the workspace's files.

The platform never runs git with the network inside a tree its users can write: a
repository's configuration can run programs (hooks, ``core.fsmonitor``, filters), and
the platform's git must not run theirs. So each linked repository has a bare **mirror**
under the home, which only the platform writes and which is the only git that reaches
the network — with hooks off, no system or global configuration, only the protocols the
URL was checked for, after checking that its host resolves to public addresses only, and
with errors that name no internal address (:mod:`sparkstudio.rules.git_urls`). The
**working tree** is the owner's: its git runs as their OS identity in their sandbox,
without a network, reading the mirror (its ``origin``) read-only.

- link: the mirror clones the URL; the tree clones the mirror;
- pull: the mirror fetches; the tree merges from it;
- push: the tree writes a bundle of its branch; the mirror takes the bundle (plain data)
  and pushes it.

Credentials reach the mirror's git through a credential helper that reads them from the
environment of that one git process: never on a command line or in a configuration file.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from sparkstudio.processes.places import Place, clean_environment
from sparkstudio.rules.git_urls import (
    generic_git_error,
    git_config_args,
    git_environment_hardening,
    public_address_problem,
    url_host,
)
from sparkstudio.storage.confined import copy_out_beneath

TIMEOUT_SECONDS = 300
BUNDLE = ".sparkstudio-push.bundle"
_HELPER = (
    "!f() { echo username=$SPARKSTUDIO_GIT_USERNAME; echo password=$SPARKSTUDIO_GIT_PASSWORD; }; f"
)
# No program of a repository's own runs: hooks, fsmonitor, pagers, editors.
_NO_PROGRAMS = [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.pager=cat",
    "-c",
    "core.editor=false",
]


class GitFailed(RuntimeError):
    """git exited with an error, or was not allowed to connect; the message says why."""


def mirror_of(home: Path, repo_id: str) -> Path:
    return home / "git" / f"{repo_id}.git"


# -- the mirror: the platform's git, with the network -------------------------------------


def _mirror_git(
    args: list[str],
    cwd: Path,
    url: str,
    credentials: tuple[str, str] | None,
    *,
    own_file: bool = False,
) -> str:
    """``own_file``: the command reads a file of the platform's own (a bundle it made)."""
    host = url_host(url) if url else ""
    if host:
        problem = public_address_problem(host.strip("[]"))
        if problem:
            raise GitFailed(f"the repository's host cannot be used: {problem}")
    allow_file = own_file or url.startswith("file://")
    env = clean_environment(git_environment_hardening(allow_file=allow_file), home=str(cwd))
    config = [*git_config_args(allow_file), *_NO_PROGRAMS]
    if credentials is not None:
        env["SPARKSTUDIO_GIT_USERNAME"], env["SPARKSTUDIO_GIT_PASSWORD"] = credentials
        config += ["-c", "credential.helper=", "-c", f"credential.helper={_HELPER}"]
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
        raise GitFailed(generic_git_error(result.stderr or result.stdout) or "git failed")
    return (result.stdout + result.stderr).strip()


# -- the working tree: the owner's git, in their sandbox, without a network ----------------


def _trust_file(mirror: Path) -> Path:
    """The working tree's git's global configuration: it may read the mirror, which is
    another account's (git passes no command-line setting to a local upload-pack)."""
    path = mirror.parent / f"{mirror.name}.gitconfig"
    path.write_text(f"[safe]\n\tdirectory = {mirror}\n")
    path.chmod(0o644)
    return path


def _tree_git(place: Place, args: list[str], cwd: Path, mirror: Path) -> str:
    trust = _trust_file(mirror)
    env = {
        **git_environment_hardening(allow_file=True),
        "GIT_CONFIG_GLOBAL": str(trust),
        "GIT_AUTHOR_NAME": place.identity.name,
        "GIT_AUTHOR_EMAIL": f"{place.identity.name}@sparkstudio",
        "GIT_COMMITTER_NAME": place.identity.name,
        "GIT_COMMITTER_EMAIL": f"{place.identity.name}@sparkstudio",
    }
    result = place.run(
        ["git", *git_config_args(True), *args],
        env,
        writable=(cwd,),
        readable=(mirror, trust),
        cwd=cwd,
        timeout=TIMEOUT_SECONDS,
    )
    if result is None:
        raise GitFailed(f"git {args[0]} took longer than {TIMEOUT_SECONDS} s")
    code, output = result
    if code != 0:
        raise GitFailed(generic_git_error(output) or f"git {args[0]} failed")
    return output.strip()


def clone(
    place: Place,
    mirror: Path,
    url: str,
    branch: str,
    destination: Path,
    credentials: tuple[str, str] | None,
) -> str:
    """Mirror ``url``, then check it out at ``destination`` (which must not exist);
    nothing is left of either if it fails."""
    if destination.exists():
        raise GitFailed(f"{destination.name} already exists in the workspace")
    mirror.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(mirror, ignore_errors=True)
    parent = destination.parent
    try:
        branch_args = ["--branch", branch] if branch else []
        _mirror_git(
            ["clone", "--bare", *branch_args, "--", url, str(mirror)],
            mirror.parent,
            url,
            credentials,
        )
        _open_to_readers(mirror)  # the owner's sandbox reads it (it is bound in read-only)
        if not parent.exists():
            place.own(parent)
        output = _tree_git(
            place, ["clone", *branch_args, "--", str(mirror), str(destination)], parent, mirror
        )
    except GitFailed:
        shutil.rmtree(mirror, ignore_errors=True)
        if destination.exists():
            place.run(["rm", "-rf", "--", str(destination)], {}, writable=(parent,), cwd=parent)
        raise
    return output


def pull(
    place: Place, mirror: Path, tree: Path, url: str, credentials: tuple[str, str] | None
) -> str:
    """Fetch into the mirror, then merge into the working tree."""
    fetched = _mirror_git(
        ["fetch", "--prune", "--", url, "+refs/heads/*:refs/heads/*"], mirror, url, credentials
    )
    _open_to_readers(mirror)
    merged = _tree_git(place, ["pull", "--no-rebase", "--no-edit", "origin"], tree, mirror)
    return "\n".join(part for part in (fetched, merged) if part)


def push(
    place: Place, mirror: Path, tree: Path, url: str, credentials: tuple[str, str] | None
) -> str:
    """The working tree's branch goes to the mirror as a bundle, then to the remote."""
    branch = _tree_git(place, ["rev-parse", "--abbrev-ref", "HEAD"], tree, mirror)
    if not branch or branch == "HEAD":
        raise GitFailed("the working tree is on no branch: check one out first")
    bundle = tree / BUNDLE
    taken = mirror.parent / f"{mirror.name}.bundle"
    try:
        _tree_git(place, ["bundle", "create", str(bundle), branch], tree, mirror)
        copy_out_beneath(tree, BUNDLE, taken)  # never through a link the tree holds
        fetch = ["fetch", "--", str(taken), f"+{branch}:{branch}"]
        _mirror_git(fetch, mirror, "", None, own_file=True)
    finally:
        taken.unlink(missing_ok=True)
        place.run(["rm", "-f", "--", str(bundle)], {}, writable=(tree,), cwd=tree)
    return _mirror_git(["push", "--", url, f"{branch}:{branch}"], mirror, url, credentials)


def _open_to_readers(mirror: Path) -> None:
    """The mirror's objects readable by the owner's sandbox (the platform's umask may have
    closed them); it stays the platform's to write."""
    read_only = stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH
    passable = read_only | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
    mirror.chmod(passable)
    for root, folders, files in os.walk(mirror):
        for name in folders:
            Path(root, name).chmod(passable)
        for name in files:
            Path(root, name).chmod(read_only)
