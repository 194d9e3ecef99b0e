from __future__ import annotations

import shutil
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from fastapi.concurrency import run_in_threadpool

from sparkstudio.api.deps import AppSettings, Authorized, Db, Runtime, Workspaces, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.db.models import Workspace
from sparkstudio.errors import Conflict, Invalid
from sparkstudio.ids import new_id
from sparkstudio.lifecycle import WORKSPACE, Reason, WorkspaceStatus
from sparkstudio.rules.git_urls import check_git_url
from sparkstudio.schemas.common import ID_PATTERN, ID_RULE, Limit, Name, Page, PageToken
from sparkstudio.schemas.events import EventPublic
from sparkstudio.schemas.workspaces import (
    GitOutput,
    LeftoverFiles,
    RepoCreate,
    RepoPublic,
    SharePublic,
    WorkspaceAttach,
    WorkspaceCreate,
    WorkspacePublic,
    WorkspaceShare,
    WorkspaceUpdate,
)
from sparkstudio.services import events as event_service
from sparkstudio.services import workspace_repos as repos
from sparkstudio.services import workspace_servers as servers
from sparkstudio.services import workspaces as service
from sparkstudio.services.user_locations import studio_roots
from sparkstudio.storage import stores
from sparkstudio.workspaces import git

router = APIRouter(
    prefix="/studios/{studio_id}/workspaces", tags=["workspaces"], responses=ERROR_RESPONSES
)


def _writable(access: Authorized, db: Db, workspace_id: str) -> Workspace:
    return service.get_workspace_or_404(db, access.require_studio(), workspace_id)


def _used(access: Authorized, db: Db, workspace_id: str) -> Workspace:
    """The workspace, if the caller owns it or it is shared with the caller."""
    workspace = _writable(access, db, workspace_id)
    servers.require_user_of(db, workspace, access.principal)
    return workspace


def _managed(access: Authorized, db: Db, workspace_id: str) -> Workspace:
    """The workspace, if the caller owns it or is an admin of the studio."""
    workspace = _writable(access, db, workspace_id)
    servers.require_owner_or_admin(db, access.require_studio(), workspace, access.principal)
    return workspace


def _woken(db: Db, runtime: Workspaces, workspace: Workspace, changed: bool) -> WorkspacePublic:
    """Commit, then have the server manager act on the change, if any."""
    db.commit()
    if changed:
        runtime.wake(workspace.id)
    return service.workspace_public(workspace)


def _attachment_pushed(db: Db, runtime: Workspaces, workspace: Workspace) -> WorkspacePublic:
    """Commit, then hand the workspace's (new) attachment to its running server."""
    attachment = servers.attachment_of(db, workspace)
    db.commit()
    runtime.push(workspace.id, attachment)
    return service.workspace_public(workspace)


@router.post(
    "", status_code=status.HTTP_201_CREATED, openapi_extra=requires(Action.WORKSPACE_CREATE)
)
def create_workspace(
    studio_id: str, body: WorkspaceCreate, access: Authorized, db: Db, settings: AppSettings
) -> WorkspacePublic:
    workspace = service.create_workspace(
        db,
        access.require_studio(),
        body,
        access.principal,
        default_idle_timeout=settings.workspace_idle_timeout_seconds,
    )
    db.commit()
    return service.workspace_public(workspace)


@router.get("", openapi_extra=requires(Action.WORKSPACE_LIST))
def list_workspaces(
    studio_id: str,
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
    name: Annotated[Name | None, Query()] = None,
    owner_id: Annotated[str | None, Query(pattern=ID_PATTERN, description=ID_RULE)] = None,
    status: Annotated[WorkspaceStatus | None, Query()] = None,
) -> Page[WorkspacePublic]:
    return service.list_workspaces(
        db,
        access.require_studio(),
        limit=limit,
        next_token=next_token,
        name=name,
        owner_id=owner_id,
        status=status,
    )


@router.get("/{workspace_id}", openapi_extra=requires(Action.WORKSPACE_DESCRIBE))
def describe_workspace(
    studio_id: str, workspace_id: str, access: Authorized, db: Db
) -> WorkspacePublic:
    workspace = service.get_workspace_or_404(db, access.require_studio(), workspace_id)
    return service.workspace_public(workspace)


@router.patch("/{workspace_id}", openapi_extra=requires(Action.WORKSPACE_UPDATE))
def update_workspace(
    studio_id: str, workspace_id: str, body: WorkspaceUpdate, access: Authorized, db: Db
) -> WorkspacePublic:
    """Rename, retag, describe or change the idle timeout: the owner's or a studio
    admin's to do (members it is shared with use it; they do not change it)."""
    studio = access.require_studio()
    workspace = service.get_workspace_or_404(db, studio, workspace_id)
    servers.require_owner_or_admin(db, studio, workspace, access.principal)
    workspace = service.update_workspace(db, studio, workspace, body)
    db.commit()
    return service.workspace_public(workspace)


@router.delete(
    "/{workspace_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.WORKSPACE_DELETE),
)
async def delete_workspace(
    studio_id: str,
    workspace_id: str,
    access: Authorized,
    db: Db,
    settings: AppSettings,
    purge: Annotated[
        bool, Query(description="Also delete the workspace's files from the studio's storage.")
    ] = False,
) -> None:
    """Delete a stopped workspace; its files stay in the storage unless ``purge`` is set."""
    studio = access.require_studio()
    workspace = _managed(access, db, workspace_id)
    service.delete_workspace(db, workspace, access.principal)
    if purge:  # before the commit: a purge that fails keeps the workspace, to try again
        url = servers.contents_url(studio.storage_location, workspace.id)
        await run_in_threadpool(stores.purge, url, servers.storage_options(settings, url))
    db.commit()


@router.get("/{workspace_id}/events", openapi_extra=requires(Action.WORKSPACE_DESCRIBE))
def list_workspace_events(
    studio_id: str,
    workspace_id: str,
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
) -> Page[EventPublic]:
    """The workspace's status changes, oldest first, with reasons and actors."""
    workspace = service.get_workspace_or_404(db, access.require_studio(), workspace_id)
    rows, token = event_service.list_events(
        db, WORKSPACE.kind, workspace.id, limit=limit, next_token=next_token
    )
    return Page(items=[event_service.event_public(e) for e in rows], next_token=token)


@router.post(
    "/{workspace_id}/start",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=requires(Action.WORKSPACE_START),
)
def start_workspace(
    studio_id: str, workspace_id: str, access: Authorized, db: Db, runtime: Workspaces
) -> WorkspacePublic:
    """Start the workspace's JupyterLab server (202: it is STARTING; READY in seconds)."""
    workspace = _used(access, db, workspace_id)
    runtime.require_spawner()
    changed = servers.request_start(workspace)
    return _woken(db, runtime, workspace, changed)


@router.post(
    "/{workspace_id}/stop",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=requires(Action.WORKSPACE_STOP),
)
def stop_workspace(
    studio_id: str, workspace_id: str, access: Authorized, db: Db, runtime: Workspaces
) -> WorkspacePublic:
    """Stop the server and its kernels; files are kept (they are in the storage)."""
    studio = access.require_studio()
    workspace = _writable(access, db, workspace_id)
    servers.require_user_or_admin(db, studio, workspace, access.principal)
    reason = Reason("USER_REQUEST", f"stopped by {access.actor}")
    changed = servers.request_stop(db, workspace, reason, access.actor)
    return _woken(db, runtime, workspace, changed)


@router.put("/{workspace_id}/attachment", openapi_extra=requires(Action.WORKSPACE_ATTACH))
def attach_workspace(
    studio_id: str,
    workspace_id: str,
    body: WorkspaceAttach,
    access: Authorized,
    db: Db,
    runtime: Workspaces,
) -> WorkspacePublic:
    """Attach to a RUNNING or WAITING cluster, or switch to another one: running kernels
    re-create their Spark session there at their next cell."""
    studio = access.require_studio()
    workspace = _used(access, db, workspace_id)
    cluster = servers.find_cluster(db, studio, body.cluster_id)
    servers.attach(db, studio, workspace, cluster, access.actor)
    return _attachment_pushed(db, runtime, workspace)


@router.delete("/{workspace_id}/attachment", openapi_extra=requires(Action.WORKSPACE_ATTACH))
def detach_workspace(
    studio_id: str, workspace_id: str, access: Authorized, db: Db, runtime: Workspaces
) -> WorkspacePublic:
    workspace = _used(access, db, workspace_id)
    reason = Reason("DETACHED", f"detached by {access.actor}")
    servers.detach(db, workspace, reason, access.actor)
    return _attachment_pushed(db, runtime, workspace)


@router.get("/{workspace_id}/shares", openapi_extra=requires(Action.WORKSPACE_DESCRIBE))
def list_shares(studio_id: str, workspace_id: str, access: Authorized, db: Db) -> list[SharePublic]:
    workspace = _writable(access, db, workspace_id)
    return [SharePublic(user_id=u.id, user=u.name) for u in servers.shared_with(db, workspace)]


@router.post(
    "/{workspace_id}/shares",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=requires(Action.WORKSPACE_SHARE),
)
def share_workspace(
    studio_id: str, workspace_id: str, body: WorkspaceShare, access: Authorized, db: Db
) -> SharePublic:
    """Let a member of the studio open the workspace."""
    studio = access.require_studio()
    workspace = _managed(access, db, workspace_id)
    user = servers.share(db, studio, workspace, body.user)
    db.commit()
    return SharePublic(user_id=user.id, user=user.name)


@router.delete(
    "/{workspace_id}/shares/{user_name}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.WORKSPACE_SHARE),
)
def unshare_workspace(
    studio_id: str, workspace_id: str, user_name: str, access: Authorized, db: Db
) -> None:
    workspace = _managed(access, db, workspace_id)
    servers.unshare(db, workspace, user_name)
    db.commit()


leftovers_router = APIRouter(
    prefix="/studios/{studio_id}", tags=["workspaces"], responses=ERROR_RESPONSES
)


@leftovers_router.get(
    "/workspace-leftovers", openapi_extra=requires(Action.WORKSPACE_LIST_LEFTOVERS)
)
async def list_leftover_files(
    studio_id: str, access: Authorized, db: Db, settings: AppSettings
) -> list[LeftoverFiles]:
    """Files in the studio's storage of workspaces that were deleted without purging."""
    studio = access.require_studio()
    root = servers.workspaces_root(studio.storage_location)
    names = await run_in_threadpool(
        stores.list_roots, root, servers.storage_options(settings, root)
    )
    existing = service.workspace_ids(db, studio)
    return [
        LeftoverFiles(workspace_id=name, url=f"{root}/{name}")
        for name in sorted(names)
        if name not in existing
    ]


@router.get("/{workspace_id}/repos", openapi_extra=requires(Action.WORKSPACE_DESCRIBE))
def list_repos(studio_id: str, workspace_id: str, access: Authorized, db: Db) -> list[RepoPublic]:
    workspace = _writable(access, db, workspace_id)
    return [repos.repo_public(r) for r in db.scalars(repos.linked(workspace))]


@router.post(
    "/{workspace_id}/repos",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=requires(Action.WORKSPACE_REPOS),
)
async def link_repo(
    studio_id: str,
    workspace_id: str,
    body: RepoCreate,
    access: Authorized,
    db: Db,
    settings: AppSettings,
    runtime: Runtime,
) -> RepoPublic:
    """Link a Git repository (at most three) and clone it into the workspace's files.

    https:// and ssh only (file:// inside the studio's locations); the platform keeps a
    mirror and the working tree is checked out as the workspace's owner."""
    studio = access.require_studio()
    workspace = _used(access, db, workspace_id)
    url = check_git_url(body.url, "url", allowed_file_roots=studio_roots(studio))
    name = repos.repo_name(body)
    repos.check_new(db, workspace, name)
    root = repos.working_root(studio, workspace)
    place = runtime.isolation.user_place(studio.id, workspace.owner_id)
    runtime.isolation.workspace_storage(
        studio.id, workspace.owner_id, studio.storage_location, workspace.id
    )
    repo_id = new_id("rp")
    mirror = git.mirror_of(settings.home, repo_id)
    db.commit()  # no lock held while git runs
    given = (body.username, body.password.get_secret_value()) if body.password else None
    try:
        await run_in_threadpool(git.clone, place, mirror, url, body.branch, root / name, given)
    except git.GitFailed as error:
        raise Invalid.field("url", f"cannot clone it: {error}") from None
    try:
        repo = repos.record(db, settings.home, workspace, name, body, repo_id=repo_id, url=url)
        db.commit()
    except Exception:
        shutil.rmtree(mirror, ignore_errors=True)
        raise
    return repos.repo_public(repo)


@router.delete(
    "/{workspace_id}/repos/{repo_name}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.WORKSPACE_REPOS),
)
def unlink_repo(
    studio_id: str, workspace_id: str, repo_name: str, access: Authorized, db: Db
) -> None:
    """Forget the link and its credentials; the working tree stays in the files."""
    workspace = _used(access, db, workspace_id)
    db.delete(repos.get_or_404(db, workspace, repo_name))
    db.commit()


@router.post(
    "/{workspace_id}/repos/{repo_name}/{operation}",
    openapi_extra=requires(Action.WORKSPACE_REPOS),
)
async def sync_repo(
    studio_id: str,
    workspace_id: str,
    repo_name: str,
    operation: Annotated[str, Path(pattern="^(pull|push)$", description="pull or push")],
    access: Authorized,
    db: Db,
    settings: AppSettings,
    runtime: Runtime,
) -> GitOutput:
    """``pull`` (merge the remote branch) or ``push`` (the current branch to origin)."""
    studio = access.require_studio()
    workspace = _used(access, db, workspace_id)
    repo = repos.get_or_404(db, workspace, repo_name)
    tree = repos.working_root(studio, workspace) / repo.name
    given = repos.credentials(settings.home, repo)
    place = runtime.isolation.user_place(studio.id, workspace.owner_id)
    mirror = git.mirror_of(settings.home, repo.id)
    url = repo.url
    db.commit()  # no lock held while git runs
    run = git.pull if operation == "pull" else git.push
    try:
        output = await run_in_threadpool(run, place, mirror, tree, url, given)
    except git.GitFailed as error:
        raise Conflict(f"git {operation} failed: {error}", reason="GitFailed") from None
    return GitOutput(repo=repo.name, output=output)
