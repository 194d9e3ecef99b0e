"""Groups of users; a studio membership may name a group."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from sparkstudio.db.models import Group, User
from sparkstudio.errors import Conflict, Invalid, NotFound
from sparkstudio.ids import new_id
from sparkstudio.schemas.groups import GroupCreate, GroupPublic, GroupUpdate
from sparkstudio.services.common import flush_or_conflict, page


def create_group(db: Session, data: GroupCreate, providers: Collection[str] = ()) -> Group:
    """A local group, or (``source``: one of ``providers``) an empty directory group."""
    if data.source is not None and data.source not in providers:
        known = ", ".join(sorted(providers)) or "none is configured"
        raise Invalid.field(
            "source", f"must name an OpenID Connect provider of this platform ({known})"
        )
    if get_group_by_name(db, data.name) is not None:
        raise Conflict(f"a group named '{data.name}' already exists", reason="AlreadyExists")
    group = Group(
        id=new_id("grp"),
        name=data.name,
        description=data.description,
        source=data.source,
        members=[],
    )
    db.add(group)
    flush_or_conflict(db, f"a group named '{data.name}' already exists")
    return group


def get_group_by_name(db: Session, name: str) -> Group | None:
    return db.scalars(select(Group).where(Group.name == name)).first()


def get_group_or_404(db: Session, group_id: str) -> Group:
    group = db.get(Group, group_id)
    if group is None:
        raise NotFound(f"no group {group_id}")
    return group


def list_groups(
    db: Session, *, limit: int, next_token: str | None, name: str | None = None
) -> tuple[Sequence[Group], str | None]:
    statement = select(Group).options(selectinload(Group.members))
    if name is not None:
        statement = statement.where(Group.name == name)
    return page(db, statement, Group.id, limit, next_token)


def update_group(db: Session, group: Group, data: GroupUpdate) -> Group:
    if data.description is not None:
        group.description = data.description
    db.flush()
    return group


def delete_group(db: Session, group: Group) -> None:
    db.delete(group)
    db.flush()


def _refuse_directory_group(group: Group) -> None:
    if group.source is not None:
        raise Conflict(
            f"group '{group.name}' is a directory group of identity provider '{group.source}': "
            "its members follow the provider's groups claim at every sign-in; change them there",
            reason="DirectoryGroup",
        )


def add_member(db: Session, group: Group, user: User) -> Group:
    _refuse_directory_group(group)
    if user not in group.members:
        group.members.append(user)
        flush_or_conflict(db, f"user '{user.name}' is already in group '{group.name}'")
    return group


def remove_member(db: Session, group: Group, user: User) -> Group:
    _refuse_directory_group(group)
    if user not in group.members:
        raise NotFound(f"user '{user.name}' is not in group '{group.name}'")
    group.members.remove(user)
    db.flush()
    return group


def group_public(group: Group) -> GroupPublic:
    return GroupPublic(
        id=group.id,
        name=group.name,
        description=group.description,
        source=group.source,
        members=[user.name for user in group.members],
        created_at=group.created_at,
        updated_at=group.updated_at,
    )
