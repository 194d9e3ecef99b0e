from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from sparkstudio.api.deps import AppSettings, Authorized, Db, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.schemas.common import Limit, Name, Page, PageToken
from sparkstudio.schemas.groups import GroupCreate, GroupPublic, GroupUpdate
from sparkstudio.services import groups as service
from sparkstudio.services.users import get_user_or_404

router = APIRouter(prefix="/groups", tags=["groups"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=requires(Action.GROUP_CREATE))
def create_group(
    body: GroupCreate, access: Authorized, db: Db, settings: AppSettings
) -> GroupPublic:
    group = service.create_group(db, body, [p.name for p in settings.oidc_providers])
    db.commit()
    return service.group_public(group)


@router.get("", openapi_extra=requires(Action.GROUP_LIST))
def list_groups(
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
    name: Annotated[Name | None, Query()] = None,
) -> Page[GroupPublic]:
    rows, token = service.list_groups(db, limit=limit, next_token=next_token, name=name)
    return Page(items=[service.group_public(g) for g in rows], next_token=token)


@router.get("/{group_id}", openapi_extra=requires(Action.GROUP_DESCRIBE))
def describe_group(group_id: str, access: Authorized, db: Db) -> GroupPublic:
    return service.group_public(service.get_group_or_404(db, group_id))


@router.patch("/{group_id}", openapi_extra=requires(Action.GROUP_UPDATE))
def update_group(group_id: str, body: GroupUpdate, access: Authorized, db: Db) -> GroupPublic:
    group = service.update_group(db, service.get_group_or_404(db, group_id), body)
    db.commit()
    return service.group_public(group)


@router.delete(
    "/{group_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.GROUP_DELETE),
)
def delete_group(group_id: str, access: Authorized, db: Db) -> None:
    service.delete_group(db, service.get_group_or_404(db, group_id))
    db.commit()


@router.put("/{group_id}/members/{user_id}", openapi_extra=requires(Action.GROUP_UPDATE))
def add_group_member(group_id: str, user_id: str, access: Authorized, db: Db) -> GroupPublic:
    group = service.get_group_or_404(db, group_id)
    group = service.add_member(db, group, get_user_or_404(db, user_id))
    db.commit()
    return service.group_public(group)


@router.delete("/{group_id}/members/{user_id}", openapi_extra=requires(Action.GROUP_UPDATE))
def remove_group_member(group_id: str, user_id: str, access: Authorized, db: Db) -> GroupPublic:
    group = service.get_group_or_404(db, group_id)
    group = service.remove_member(db, group, get_user_or_404(db, user_id))
    db.commit()
    return service.group_public(group)
