"""Workspace servers as users see them: start, stop, attach, detach, share, open.

The API writes what is wanted (the target, the attached cluster); the reconciler
(:mod:`sparkstudio.workspaces.controller`) starts and stops servers and tells a running
server which cluster its kernels use.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio import lifecycle
from sparkstudio.auth.actions import Role
from sparkstudio.auth.identity import Principal, grants_in_studio, principal_of
from sparkstudio.db.models import Cluster, Studio, User, Workspace, WorkspaceShare
from sparkstudio.errors import Conflict, Forbidden, Invalid, NotFound
from sparkstudio.jupyter.attachment import Attachment
from sparkstudio.lifecycle import WORKSPACE, Reason, WorkspaceStatus
from sparkstudio.services.clusters import USABLE
from sparkstudio.settings import Settings

TARGET_RUNNING = WorkspaceStatus.READY.value
TARGET_STOPPED = WorkspaceStatus.STOPPED.value
_W = WorkspaceStatus
RUNNING = frozenset({_W.READY, _W.ATTACHED, _W.IDLE})


def contents_url(storage_location: str, workspace_id: str) -> str:
    """Where a workspace's files live: under its studio's storage location."""
    return f"{workspaces_root(storage_location)}/{workspace_id}"


def workspaces_root(storage_location: str) -> str:
    return f"{storage_location.rstrip('/')}/workspaces"


def storage_options(settings: Settings, url: str) -> dict[str, Any]:
    """fsspec options for a storage URL (the S3-compatible endpoint, when one is set)."""
    if url.startswith("s3://") and settings.s3_endpoint_url:
        return {"client_kwargs": {"endpoint_url": settings.s3_endpoint_url}}
    return {}


# -- who may use a workspace ----------------------------------------------------------


def shared_user_ids(db: Session, workspace: Workspace) -> list[str]:
    return list(
        db.scalars(
            select(WorkspaceShare.user_id).where(WorkspaceShare.workspace_id == workspace.id)
        )
    )


def may_open(db: Session, workspace: Workspace, principal: Principal) -> bool:
    """Only the owner and the members it was shared with open a workspace."""
    if workspace.owner_id == principal.user_id:
        return True
    return principal.user_id in shared_user_ids(db, workspace)


def require_user_of(db: Session, workspace: Workspace, principal: Principal) -> None:
    if not may_open(db, workspace, principal):
        raise Forbidden(
            f"workspace {workspace.name} is {workspace.owner.name}'s and not shared with you"
        )


def require_owner_or_admin(
    db: Session, studio: Studio, workspace: Workspace, principal: Principal
) -> None:
    if workspace.owner_id == principal.user_id or principal.is_platform_admin:
        return
    if any(g.role is Role.ADMIN for g in grants_in_studio(db, principal, studio.id)):
        return
    raise Forbidden(f"only the owner of workspace {workspace.name} or a studio admin may do this")


def require_user_or_admin(
    db: Session, studio: Studio, workspace: Workspace, principal: Principal
) -> None:
    if may_open(db, workspace, principal):
        return
    require_owner_or_admin(db, studio, workspace, principal)


# -- start and stop -------------------------------------------------------------------


def request_start(workspace: Workspace) -> bool:
    """Want the server running; True when that is new (the reconciler must act)."""
    if workspace.target == TARGET_RUNNING and workspace.status != _W.STOPPING:
        return False
    workspace.target = TARGET_RUNNING
    return True


def request_stop(db: Session, workspace: Workspace, reason: Reason, actor: str) -> bool:
    """Want the server stopped, recording why; True when that is new."""
    if workspace.target == TARGET_STOPPED:
        return False
    workspace.target = TARGET_STOPPED
    if workspace.status in RUNNING or workspace.status == _W.STARTING:
        lifecycle.transition(db, WORKSPACE, workspace, _W.STOPPING, reason, actor)
    return True


# -- attach, detach, switch -----------------------------------------------------------


def find_cluster(db: Session, studio: Studio, name_or_id: str) -> Cluster:
    cluster = db.get(Cluster, name_or_id)
    if cluster is None or cluster.studio_id != studio.id:
        candidates = db.scalars(
            select(Cluster)
            .where(Cluster.studio_id == studio.id, Cluster.name == name_or_id)
            .where(Cluster.status.in_([s.value for s in USABLE]))
        ).all()
        cluster = candidates[0] if len(candidates) == 1 else None
    if cluster is None:
        raise NotFound(
            f"no RUNNING or WAITING cluster named or numbered '{name_or_id}' in studio "
            f"'{studio.name}'",
        )
    return cluster


def attach(
    db: Session, studio: Studio, workspace: Workspace, cluster: Cluster, actor: str
) -> Workspace:
    if cluster.studio_id != studio.id:
        raise NotFound(f"no cluster {cluster.id} in studio '{studio.name}'")
    if cluster.network != workspace.network:
        raise Invalid.field(
            "cluster_id",
            f"cluster {cluster.name} is in network '{cluster.network}'; workspace "
            f"{workspace.name} can only attach clusters of its network '{workspace.network}'",
        )
    if cluster.status not in USABLE:
        raise Conflict(
            f"cluster {cluster.name} is {cluster.status}; a workspace attaches to a RUNNING "
            "or WAITING cluster",
            reason="InvalidState",
        )
    previous = workspace.cluster_id
    if previous == cluster.id:
        return workspace
    workspace.cluster_id = cluster.id
    code, verb = ("SWITCHED", "switched") if previous else ("ATTACHED", "attached")
    reason = Reason(code, f"{verb} to cluster {cluster.name} ({cluster.id})")
    _record_attachment(db, workspace, reason, actor)
    return workspace


def detach(db: Session, workspace: Workspace, reason: Reason, actor: str) -> Workspace:
    if workspace.cluster_id is None:
        return workspace
    workspace.cluster_id = None
    _record_attachment(db, workspace, reason, actor)
    return workspace


def _record_attachment(db: Session, workspace: Workspace, reason: Reason, actor: str) -> None:
    """ATTACHED while running with a cluster, READY without; a note otherwise."""
    if workspace.status in RUNNING:
        wanted = _W.ATTACHED if workspace.cluster_id else _W.READY
        if workspace.status != wanted and workspace.status != _W.IDLE:
            lifecycle.transition(db, WORKSPACE, workspace, wanted, reason, actor)
            return
    lifecycle.note(db, WORKSPACE, workspace, reason, actor)
    workspace.status_reason_code, workspace.status_reason_message = reason.code, reason.message


def attachment_of(db: Session, workspace: Workspace) -> Attachment:
    """What the workspace's kernels should use now (a fresh generation each time)."""
    generation = time.time_ns()
    if workspace.cluster_id is None:
        detached = workspace.status_reason_code == "DETACHED"
        reason = workspace.status_reason_message if detached else ""
        return Attachment(generation=generation, reason=reason)
    cluster = db.get(Cluster, workspace.cluster_id)
    if cluster is None or cluster.status not in USABLE:
        return Attachment(generation=generation, reason="its cluster is not usable")
    # Where kernels reach Spark Connect is their place's (the workspace controller says).
    return Attachment(generation=generation, cluster_id=cluster.id, cluster_name=cluster.name)


# -- sharing --------------------------------------------------------------------------


def share(db: Session, studio: Studio, workspace: Workspace, user_name: str) -> User:
    user = db.scalars(select(User).where(User.name == user_name)).first()
    if user is None:
        raise Invalid.field("user", f"no user named '{user_name}'")
    if user.id == workspace.owner_id:
        raise Invalid.field("user", f"{user_name} owns the workspace already")
    member = principal_of(user)
    if not grants_in_studio(db, member, studio.id):
        raise Invalid.field(
            "user", f"{user_name} is not a member of studio '{studio.name}'; add them first"
        )
    if db.get(WorkspaceShare, (workspace.id, user.id)) is None:
        db.add(WorkspaceShare(workspace_id=workspace.id, user_id=user.id))
        db.flush()
    return user


def unshare(db: Session, workspace: Workspace, user_name: str) -> None:
    user = db.scalars(select(User).where(User.name == user_name)).first()
    found = db.get(WorkspaceShare, (workspace.id, user.id)) if user else None
    if found is None:
        raise NotFound(f"workspace {workspace.name} is not shared with '{user_name}'")
    db.delete(found)
    db.flush()


def shared_with(db: Session, workspace: Workspace) -> list[User]:
    return list(
        db.scalars(
            select(User)
            .join(WorkspaceShare, WorkspaceShare.user_id == User.id)
            .where(WorkspaceShare.workspace_id == workspace.id)
            .order_by(User.name)
        )
    )
