"""Users of the platform (local accounts)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload

from sparkstudio.auth.passwords import hash_password
from sparkstudio.db.models import Cluster, User, Workspace
from sparkstudio.errors import Conflict, NotFound
from sparkstudio.ids import new_id
from sparkstudio.lifecycle import CLUSTER_ENDED
from sparkstudio.schemas.users import UserCreate, UserPublic, UserUpdate
from sparkstudio.services.common import flush_or_conflict, page
from sparkstudio.services.tokens import revoke_every_token


def create_user(db: Session, data: UserCreate) -> User:
    # Hash first: argon2 takes ~0.1 s and the write lock may be taken by the first query.
    password_hash = hash_password(data.password.get_secret_value()) if data.password else None
    if get_user_by_name(db, data.name) is not None:
        raise Conflict(f"a user named '{data.name}' already exists", reason="AlreadyExists")
    user = User(
        id=new_id("usr"),
        name=data.name,
        display_name=data.display_name,
        email=data.email,
        password_hash=password_hash,
        is_platform_admin=data.is_platform_admin,
        groups=[],
    )
    db.add(user)
    flush_or_conflict(db, f"a user named '{data.name}' already exists")
    return user


def get_user_by_name(db: Session, name: str) -> User | None:
    return db.scalars(select(User).where(User.name == name)).first()


def get_user_or_404(db: Session, user_id: str) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def list_users(
    db: Session, *, limit: int, next_token: str | None, name: str | None = None
) -> tuple[Sequence[User], str | None]:
    statement = select(User).options(selectinload(User.groups))
    if name is not None:
        statement = statement.where(User.name == name)
    return page(db, statement, User.id, limit, next_token)


def update_user(db: Session, user: User, data: UserUpdate, *, actor_id: str) -> User:
    if data.password is not None:
        user.password_hash = hash_password(data.password.get_secret_value())
    if data.display_name is not None:
        user.display_name = data.display_name
    if "email" in data.model_fields_set:
        user.email = data.email
    if data.is_platform_admin is not None:
        if user.id == actor_id and not data.is_platform_admin:
            raise Conflict("you cannot remove your own platform admin role", reason="SelfLockout")
        user.is_platform_admin = data.is_platform_admin
    if data.disabled is not None:
        if user.id == actor_id and data.disabled:
            raise Conflict("you cannot disable yourself", reason="SelfLockout")
        user.disabled = data.disabled
        if data.disabled:
            # For good: enabling the user again must not bring old sessions back.
            revoke_every_token(db, user.id)
    db.flush()
    return user


def delete_user(db: Session, user: User, *, actor_id: str) -> None:
    if user.id == actor_id:
        raise Conflict("you cannot delete yourself", reason="SelfLockout")
    if db.scalar(select(exists().where(Workspace.owner_id == user.id))):
        raise Conflict(
            f"user '{user.name}' owns workspaces; delete them or disable the user instead",
            reason="InUse",
        )
    live = Cluster.owner_id == user.id, Cluster.status.not_in(CLUSTER_ENDED)
    if db.scalar(select(exists().where(*live))):
        raise Conflict(
            f"user '{user.name}' has clusters that are not terminated; terminate them or "
            "disable the user instead",
            reason="InUse",
        )
    db.delete(user)
    db.flush()


def user_public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        name=user.name,
        display_name=user.display_name,
        email=user.email,
        is_platform_admin=user.is_platform_admin,
        disabled=user.disabled,
        groups=[group.name for group in user.groups],
        identity_provider=user.identity_provider,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )
