from __future__ import annotations

from fastapi import APIRouter, status

from sparkstudio.api.deps import AppSettings, Authorized, Db, Runtime, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.schemas.common import Limit, Page, PageToken
from sparkstudio.schemas.members import MemberCreate, MemberPublic, MemberUpdate
from sparkstudio.services import members as service

router = APIRouter(
    prefix="/studios/{studio_id}/members", tags=["members"], responses=ERROR_RESPONSES
)


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=requires(Action.MEMBER_CREATE))
def create_member(
    studio_id: str,
    body: MemberCreate,
    access: Authorized,
    db: Db,
    settings: AppSettings,
    runtime: Runtime,
) -> MemberPublic:
    """Map a user or a group to the studio with a role and an optional session policy.

    In single-user mode a second person is refused unless the operator acknowledged it."""
    if not runtime.isolation.sandboxed and not settings.single_user_acknowledged:
        service.check_single_user(db, body)
    membership = service.create_member(db, access.require_studio(), body)
    db.commit()
    return service.member_public(membership)


@router.get("", openapi_extra=requires(Action.MEMBER_LIST))
def list_members(
    studio_id: str, access: Authorized, db: Db, limit: Limit = 100, next_token: PageToken = None
) -> Page[MemberPublic]:
    rows, token = service.list_members(
        db, access.require_studio(), limit=limit, next_token=next_token
    )
    return Page(items=[service.member_public(m) for m in rows], next_token=token)


@router.get("/{member_id}", openapi_extra=requires(Action.MEMBER_DESCRIBE))
def describe_member(studio_id: str, member_id: str, access: Authorized, db: Db) -> MemberPublic:
    return service.member_public(service.get_member_or_404(db, access.require_studio(), member_id))


@router.patch("/{member_id}", openapi_extra=requires(Action.MEMBER_UPDATE))
def update_member(
    studio_id: str, member_id: str, body: MemberUpdate, access: Authorized, db: Db
) -> MemberPublic:
    membership = service.get_member_or_404(db, access.require_studio(), member_id)
    membership = service.update_member(db, membership, body)
    db.commit()
    return service.member_public(membership)


@router.delete(
    "/{member_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.MEMBER_DELETE),
)
def delete_member(studio_id: str, member_id: str, access: Authorized, db: Db) -> None:
    service.delete_member(db, service.get_member_or_404(db, access.require_studio(), member_id))
    db.commit()
