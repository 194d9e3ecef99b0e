from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from sparkstudio.api.deps import Authorized, Db, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.schemas.common import Limit, Page, PageToken, UserName
from sparkstudio.schemas.users import UserCreate, UserPublic, UserUpdate
from sparkstudio.services import users as service

router = APIRouter(prefix="/users", tags=["users"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=requires(Action.USER_CREATE))
def create_user(body: UserCreate, access: Authorized, db: Db) -> UserPublic:
    user = service.create_user(db, body)
    db.commit()
    return service.user_public(user)


@router.get("", openapi_extra=requires(Action.USER_LIST))
def list_users(
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
    name: Annotated[UserName | None, Query()] = None,
) -> Page[UserPublic]:
    rows, token = service.list_users(db, limit=limit, next_token=next_token, name=name)
    return Page(items=[service.user_public(u) for u in rows], next_token=token)


@router.get("/{user_id}", openapi_extra=requires(Action.USER_DESCRIBE))
def describe_user(user_id: str, access: Authorized, db: Db) -> UserPublic:
    return service.user_public(service.get_user_or_404(db, user_id))


@router.patch("/{user_id}", openapi_extra=requires(Action.USER_UPDATE))
def update_user(user_id: str, body: UserUpdate, access: Authorized, db: Db) -> UserPublic:
    user = service.update_user(
        db, service.get_user_or_404(db, user_id), body, actor_id=access.principal.user_id
    )
    db.commit()
    return service.user_public(user)


@router.delete(
    "/{user_id}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=requires(Action.USER_DELETE)
)
def delete_user(user_id: str, access: Authorized, db: Db) -> None:
    service.delete_user(db, service.get_user_or_404(db, user_id), actor_id=access.principal.user_id)
    db.commit()
