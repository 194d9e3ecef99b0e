from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from sparkstudio.api.deps import AppSettings, Authorized, Db, Runtime, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.schemas.common import Limit, Name, Page, PageToken
from sparkstudio.schemas.studios import StudioCreate, StudioPublic, StudioUpdate
from sparkstudio.services import studios as service

router = APIRouter(prefix="/studios", tags=["studios"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=requires(Action.STUDIO_CREATE))
def create_studio(
    body: StudioCreate, access: Authorized, db: Db, settings: AppSettings
) -> StudioPublic:
    studio = service.create_studio(db, body, settings)
    db.commit()
    return service.studio_public(studio)


@router.get("", openapi_extra=requires(Action.STUDIO_LIST))
def list_studios(
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
    name: Annotated[Name | None, Query()] = None,
) -> Page[StudioPublic]:
    """The studios you belong to; platform admins see every studio."""
    rows, token = service.list_studios(
        db, access.principal, limit=limit, next_token=next_token, name=name
    )
    return Page(items=[service.studio_public(s) for s in rows], next_token=token)


@router.get("/{studio_id}", openapi_extra=requires(Action.STUDIO_DESCRIBE))
def describe_studio(studio_id: str, access: Authorized) -> StudioPublic:
    return service.studio_public(access.require_studio())


@router.patch("/{studio_id}", openapi_extra=requires(Action.STUDIO_UPDATE))
def update_studio(
    studio_id: str, body: StudioUpdate, access: Authorized, db: Db, settings: AppSettings
) -> StudioPublic:
    studio = service.update_studio(db, access.require_studio(), body, settings, access.principal)
    db.commit()
    return service.studio_public(studio)


@router.delete(
    "/{studio_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.STUDIO_DELETE),
)
def delete_studio(studio_id: str, access: Authorized, db: Db, runtime: Runtime) -> None:
    studio = access.require_studio()
    service.delete_studio(db, studio)
    db.commit()
    runtime.isolation.forget_studio(studio.id)
