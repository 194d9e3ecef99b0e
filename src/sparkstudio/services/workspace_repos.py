"""Git repositories linked to a workspace (at most three), cloned into its files.

A working tree needs a file system: repositories can be linked to workspaces whose
studio keeps files on this host (``file://``). Credentials are stored encrypted.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from sparkstudio import secrets_box
from sparkstudio.db.models import Studio, Workspace, WorkspaceRepo
from sparkstudio.errors import Conflict, Invalid, NotFound
from sparkstudio.schemas.common import NAME_PATTERN
from sparkstudio.schemas.workspaces import MAX_REPOS, RepoCreate, RepoPublic
from sparkstudio.services.workspace_servers import contents_url


def working_root(studio: Studio, workspace: Workspace) -> Path:
    url = contents_url(studio.storage_location, workspace.id)
    if not url.startswith("file://"):
        raise Conflict(
            f"studio '{studio.name}' keeps files in {studio.storage_location}; Git repositories "
            "need a file:// storage location (a working tree needs a file system)",
            reason="Unsupported",
        )
    return Path(urlsplit(url).path)


def repo_name(data: RepoCreate) -> str:
    if data.name:
        return data.name
    last = re.split(r"[/:]", data.url.rstrip("/"))[-1].removesuffix(".git")
    if not re.match(NAME_PATTERN, last):
        raise Invalid.field("name", f"cannot be derived from the URL ({last!r}); give one")
    return last


def check_new(db: Session, workspace: Workspace, name: str) -> None:
    count = db.scalar(
        select(func.count())
        .select_from(WorkspaceRepo)
        .where(WorkspaceRepo.workspace_id == workspace.id)
    )
    if (count or 0) >= MAX_REPOS:
        raise Invalid.field("url", f"a workspace links at most {MAX_REPOS} repositories")
    if find(db, workspace, name) is not None:
        raise Conflict(f"workspace {workspace.name} already links a repository named '{name}'")


def linked(workspace: Workspace) -> Select[WorkspaceRepo]:
    return (
        select(WorkspaceRepo)
        .where(WorkspaceRepo.workspace_id == workspace.id)
        .order_by(WorkspaceRepo.name)
    )


def find(db: Session, workspace: Workspace, name: str) -> WorkspaceRepo | None:
    return db.scalars(
        select(WorkspaceRepo).where(
            WorkspaceRepo.workspace_id == workspace.id, WorkspaceRepo.name == name
        )
    ).first()


def get_or_404(db: Session, workspace: Workspace, name: str) -> WorkspaceRepo:
    repo = find(db, workspace, name)
    if repo is None:
        raise NotFound(f"workspace {workspace.name} links no repository named '{name}'")
    return repo


def record(
    db: Session,
    home: Path,
    workspace: Workspace,
    name: str,
    data: RepoCreate,
    *,
    repo_id: str,
    url: str,
) -> WorkspaceRepo:
    """The link, under the id its mirror was made for; ``url`` as it was checked."""
    secret = ""
    if data.password is not None:
        secret = secrets_box.encrypt(home, f"{data.username}\n{data.password.get_secret_value()}")
    repo = WorkspaceRepo(
        id=repo_id,
        workspace_id=workspace.id,
        name=name,
        url=url,
        branch=data.branch,
        credentials_encrypted=secret,
    )
    db.add(repo)
    db.flush()
    return repo


def credentials(home: Path, repo: WorkspaceRepo) -> tuple[str, str] | None:
    if not repo.credentials_encrypted:
        return None
    username, _, password = secrets_box.decrypt(home, repo.credentials_encrypted).partition("\n")
    return username, password


def repo_public(repo: WorkspaceRepo) -> RepoPublic:
    return RepoPublic(
        id=repo.id,
        name=repo.name,
        url=repo.url,
        branch=repo.branch,
        has_credentials=bool(repo.credentials_encrypted),
        created_at=repo.created_at,
    )
