from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from sparkstudio.api.deps import Authorized, Db, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.lifecycle import WORKSPACE, WorkspaceStatus
from sparkstudio.schemas.common import ID_PATTERN, ID_RULE, Limit, Name, Page, PageToken
from sparkstudio.schemas.events import EventPublic
from sparkstudio.schemas.workspaces import WorkspaceCreate, WorkspacePublic, WorkspaceUpdate
from sparkstudio.services import events as event_service
from sparkstudio.services import workspaces as service

router = APIRouter(
    prefix="/studios/{studio_id}/workspaces", tags=["workspaces"], responses=ERROR_RESPONSES
)


@router.post(
    "", status_code=status.HTTP_201_CREATED, openapi_extra=requires(Action.WORKSPACE_CREATE)
)
def create_workspace(
    studio_id: str, body: WorkspaceCreate, access: Authorized, db: Db
) -> WorkspacePublic:
    workspace = service.create_workspace(db, access.require_studio(), body, access.principal)
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
    studio = access.require_studio()
    workspace = service.get_workspace_or_404(db, studio, workspace_id)
    workspace = service.update_workspace(db, studio, workspace, body)
    db.commit()
    return service.workspace_public(workspace)


@router.delete(
    "/{workspace_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.WORKSPACE_DELETE),
)
def delete_workspace(studio_id: str, workspace_id: str, access: Authorized, db: Db) -> None:
    workspace = service.get_workspace_or_404(db, access.require_studio(), workspace_id)
    service.delete_workspace(db, workspace, access.principal)
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
