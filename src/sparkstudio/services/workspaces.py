"""Workspaces: metadata, lifecycle and deletion (servers: :mod:`.workspace_servers`)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from sparkstudio import lifecycle
from sparkstudio.auth.identity import Principal
from sparkstudio.db.models import Studio, User, Workspace
from sparkstudio.errors import Conflict, Invalid, NotFound
from sparkstudio.ids import new_id
from sparkstudio.lifecycle import WORKSPACE, Reason, WorkspaceStatus
from sparkstudio.schemas.common import Page, StatusReason
from sparkstudio.schemas.workspaces import WorkspaceCreate, WorkspacePublic, WorkspaceUpdate
from sparkstudio.services.common import flush_or_conflict, page_rows


def _taken(studio: Studio, name: str) -> Conflict:
    return Conflict(
        f"a workspace named '{name}' already exists in studio '{studio.name}'",
        reason="AlreadyExists",
    )


def workspace_url(workspace_id: str) -> str:
    """The path JupyterLab opens at, through the control plane's proxy."""
    return f"/workspaces/{workspace_id}/lab"


def create_workspace(
    db: Session,
    studio: Studio,
    data: WorkspaceCreate,
    principal: Principal,
    *,
    default_idle_timeout: int = 3600,
) -> Workspace:
    network = data.network or studio.networks[0]
    if network not in studio.networks:
        raise Invalid.field(
            "network", f"must be one of the studio's networks: {', '.join(studio.networks)}"
        )
    if _find_by_name(db, studio, data.name) is not None:
        raise _taken(studio, data.name)
    workspace = Workspace(
        id=new_id("ws"),
        studio_id=studio.id,
        name=data.name,
        description=data.description,
        owner_id=principal.user_id,
        network=network,
        tags=dict(data.tags),
        idle_timeout_seconds=data.idle_timeout_seconds or default_idle_timeout,
    )
    lifecycle.initialize(
        db, WORKSPACE, workspace, Reason("CREATED", "workspace created"), principal.name
    )
    db.add(workspace)
    flush_or_conflict(db, str(_taken(studio, data.name).message))
    db.refresh(workspace)
    return workspace


def _find_by_name(db: Session, studio: Studio, name: str) -> Workspace | None:
    return db.scalars(
        select(Workspace).where(Workspace.studio_id == studio.id, Workspace.name == name)
    ).first()


def workspace_ids(db: Session, studio: Studio) -> set[str]:
    return set(db.scalars(select(Workspace.id).where(Workspace.studio_id == studio.id)))


def get_workspace_or_404(db: Session, studio: Studio, workspace_id: str) -> Workspace:
    workspace = db.get(Workspace, workspace_id)
    if workspace is None or workspace.studio_id != studio.id:
        raise NotFound(f"no workspace {workspace_id} in studio '{studio.name}'")
    return workspace


def list_workspaces(
    db: Session,
    studio: Studio,
    *,
    limit: int,
    next_token: str | None,
    name: str | None = None,
    owner_id: str | None = None,
    status: WorkspaceStatus | None = None,
) -> Page[WorkspacePublic]:
    """One page of workspaces, read as plain rows: lists are the hottest read path."""
    statement = (
        select(*Workspace.__table__.columns, User.name.label("owner_name"))
        .join(User, User.id == Workspace.owner_id)
        .where(Workspace.studio_id == studio.id)
    )
    if name is not None:
        statement = statement.where(Workspace.name == name)
    if owner_id is not None:
        statement = statement.where(Workspace.owner_id == owner_id)
    if status is not None:
        statement = statement.where(Workspace.status == status.value)
    rows, token = page_rows(db, statement, Workspace.id, limit, next_token)
    # One validation of the whole page in pydantic-core: far cheaper than building
    # models one by one (model_construct is pure Python and slower still).
    return _PAGE.validate_python({"items": [_row_fields(row) for row in rows], "next_token": token})


_PAGE = TypeAdapter(Page[WorkspacePublic])


def _row_fields(row: Row[Any]) -> dict[str, Any]:
    fields = dict(row._mapping)
    fields.pop("server_state", None)
    fields["url"] = workspace_url(fields["id"])
    fields["owner"] = fields.pop("owner_name")
    fields["status_reason"] = {
        "code": fields.pop("status_reason_code"),
        "message": fields.pop("status_reason_message"),
    }
    return fields


def update_workspace(
    db: Session, studio: Studio, workspace: Workspace, data: WorkspaceUpdate
) -> Workspace:
    if data.name is not None and data.name != workspace.name:
        if _find_by_name(db, studio, data.name) is not None:
            raise _taken(studio, data.name)
        workspace.name = data.name
    if data.description is not None:
        workspace.description = data.description
    if data.tags is not None:
        workspace.tags = dict(data.tags)
    if data.idle_timeout_seconds is not None:
        workspace.idle_timeout_seconds = data.idle_timeout_seconds
    flush_or_conflict(db, _taken(studio, data.name or workspace.name).message)
    return workspace


def delete_workspace(db: Session, workspace: Workspace, principal: Principal) -> None:
    """Record DELETING (the event outlives the row) and remove the workspace.

    Its files stay in the store (listed as left behind) unless the caller purged them.
    """
    if workspace.status != WorkspaceStatus.STOPPED or workspace.target != WorkspaceStatus.STOPPED:
        raise Conflict(
            f"workspace {workspace.id} is {workspace.status}; stop it before deleting it",
            reason="InvalidState",
        )
    lifecycle.transition(
        db,
        WORKSPACE,
        workspace,
        WorkspaceStatus.DELETING,
        Reason("USER_REQUEST", "deleted by its user"),
        principal.name,
    )
    db.delete(workspace)
    db.flush()


def workspace_public(workspace: Workspace) -> WorkspacePublic:
    return WorkspacePublic(
        id=workspace.id,
        studio_id=workspace.studio_id,
        name=workspace.name,
        description=workspace.description,
        owner_id=workspace.owner_id,
        owner=workspace.owner.name,
        network=workspace.network,
        tags=workspace.tags,
        status=workspace.status,
        target=workspace.target,
        status_reason=StatusReason(
            code=workspace.status_reason_code, message=workspace.status_reason_message
        ),
        cluster_id=workspace.cluster_id,
        url=workspace_url(workspace.id),
        idle_timeout_seconds=workspace.idle_timeout_seconds,
        last_activity_at=workspace.last_activity_at,
        created_at=workspace.created_at,
        updated_at=workspace.updated_at,
    )
