"""Studio memberships: a user or group, a role and an optional session policy."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio.auth.actions import Role
from sparkstudio.auth.policy import SessionPolicy
from sparkstudio.db.models import GroupMember, Membership, Studio
from sparkstudio.errors import Conflict, Invalid, NotFound
from sparkstudio.ids import new_id
from sparkstudio.schemas.members import MemberCreate, MemberPublic, MemberUpdate, PrincipalType
from sparkstudio.services.common import flush_or_conflict, page
from sparkstudio.services.groups import get_group_by_name
from sparkstudio.services.users import get_user_by_name


def _policy_json(policy: SessionPolicy | None) -> dict[str, object] | None:
    return policy.model_dump(by_alias=True, exclude_none=True) if policy else None


def people_with_access(db: Session) -> set[str]:
    """The ids of every user a studio is mapped to, directly or through a group."""
    people = set(db.scalars(select(Membership.user_id).where(Membership.user_id.is_not(None))))
    groups = select(Membership.group_id).where(Membership.group_id.is_not(None))
    people |= set(db.scalars(select(GroupMember.user_id).where(GroupMember.group_id.in_(groups))))
    return {person for person in people if person}


def check_single_user(db: Session, data: MemberCreate) -> None:
    """In single-user mode every member's code runs as the control plane's OS user and can
    read every other member's data: a second person needs the operator's word."""
    people = people_with_access(db)
    if data.user is not None:
        user = get_user_by_name(db, data.user)
        newcomers = {user.id} if user is not None else set()
    else:
        group = get_group_by_name(db, data.group or "")
        newcomers = {member.id for member in group.members} if group is not None else set()
    if len(people | newcomers) > 1:
        raise Conflict(
            "this platform runs in single-user mode: every member's code runs as the control "
            "plane's own OS user and can read every other member's data, so it takes a second "
            "person only when the operator acknowledges it (SPARKSTUDIO_SINGLE_USER_ACKNOWLEDGED"
            "=true), or runs it as root with bubblewrap for sandboxed studios",
            reason="SingleUserMode",
        )


def create_member(db: Session, studio: Studio, data: MemberCreate) -> Membership:
    membership = Membership(
        id=new_id("mb"),
        studio_id=studio.id,
        role=data.role.value,
        session_policy=_policy_json(data.session_policy),
    )
    if data.user is not None:
        user = get_user_by_name(db, data.user)
        if user is None:
            raise Invalid.field("user", f"no user named '{data.user}'")
        membership.user_id, membership.user, label = user.id, user, f"user '{user.name}'"
        taken = Membership.user_id == user.id
    else:
        assert data.group is not None
        group = get_group_by_name(db, data.group)
        if group is None:
            raise Invalid.field("group", f"no group named '{data.group}'")
        membership.group_id, membership.group, label = group.id, group, f"group '{group.name}'"
        taken = Membership.group_id == group.id
    message = f"{label} is already a member of studio '{studio.name}'"
    if db.scalars(select(Membership).where(Membership.studio_id == studio.id, taken)).first():
        raise Conflict(message, reason="AlreadyExists")
    db.add(membership)
    flush_or_conflict(db, message)
    return membership


def get_member_or_404(db: Session, studio: Studio, member_id: str) -> Membership:
    membership = db.get(Membership, member_id)
    if membership is None or membership.studio_id != studio.id:
        raise NotFound(f"no member {member_id} in studio '{studio.name}'")
    return membership


def list_members(
    db: Session, studio: Studio, *, limit: int, next_token: str | None
) -> tuple[Sequence[Membership], str | None]:
    statement = select(Membership).where(Membership.studio_id == studio.id)
    return page(db, statement, Membership.id, limit, next_token)


def update_member(db: Session, membership: Membership, data: MemberUpdate) -> Membership:
    if data.role is not None:
        membership.role = data.role.value
    if "session_policy" in data.model_fields_set:
        membership.session_policy = _policy_json(data.session_policy)
    db.flush()
    return membership


def delete_member(db: Session, membership: Membership) -> None:
    db.delete(membership)
    db.flush()


def member_public(membership: Membership) -> MemberPublic:
    if membership.user is not None:
        kind, principal_id, name = PrincipalType.USER, membership.user.id, membership.user.name
    else:
        assert membership.group is not None
        kind, principal_id, name = PrincipalType.GROUP, membership.group.id, membership.group.name
    policy = membership.session_policy
    return MemberPublic(
        id=membership.id,
        studio_id=membership.studio_id,
        principal_type=kind,
        principal_id=principal_id,
        principal_name=name,
        role=Role(membership.role),
        session_policy=SessionPolicy.model_validate(policy) if policy else None,
        created_at=membership.created_at,
        updated_at=membership.updated_at,
    )
