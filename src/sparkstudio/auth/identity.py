"""The authenticated caller, resolved from a bearer token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from sparkstudio.auth import tokens
from sparkstudio.auth.actions import Role
from sparkstudio.auth.policy import Grant, SessionPolicy
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import ApiToken, GroupMember, Membership, User
from sparkstudio.errors import Unauthenticated

# Recording every use would turn each read into a write; minutes of precision are enough.
LAST_USED_PRECISION = timedelta(minutes=5)


@dataclass(frozen=True)
class Principal:
    user_id: str
    name: str
    is_platform_admin: bool
    group_ids: frozenset[str]
    token_id: str
    token_kind: str
    # True when the token's last-use time is stale enough to be worth a write.
    needs_touch: bool = False


def authenticate(db: Session, presented: str | None) -> Principal:
    """Resolve a bearer token to its user; every failure is the same 401."""
    return load_principal(db, presented)[0]


def load_principal(db: Session, presented: str | None) -> tuple[Principal, datetime]:
    """The token's user and the time the token expires; every failure is the same 401."""
    failure = Unauthenticated(
        "missing, invalid or expired token; log in or send 'Authorization: Bearer <token>'"
    )
    parsed = tokens.parse(presented) if presented else None
    if parsed is None:
        raise failure
    token_id, secret = parsed
    row = db.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.id == token_id)
    ).first()
    if row is None:
        raise failure
    token, user = row
    if (
        token.kind == tokens.TokenKind.AWS_KEY  # signs requests; never a bearer token
        or not tokens.secret_matches(secret, token.secret_hash)
        or not is_active(token, user)
    ):
        raise failure
    return principal_of_token(db, token, user), token.expires_at


def is_active(token: ApiToken, user: User) -> bool:
    """Neither revoked nor expired, and its user is not disabled."""
    return token.revoked_at is None and token.expires_at > utcnow() and not user.disabled


def principal_of_token(db: Session, token: ApiToken, user: User) -> Principal:
    """The principal acting with ``token`` (already checked) of ``user``."""
    group_ids = db.scalars(select(GroupMember.group_id).where(GroupMember.user_id == user.id))
    return Principal(
        user_id=user.id,
        name=user.name,
        is_platform_admin=user.is_platform_admin,
        group_ids=frozenset(group_ids),
        token_id=token.id,
        token_kind=token.kind,
        needs_touch=token.last_used_at is None
        or token.last_used_at < utcnow() - LAST_USED_PRECISION,
    )


def principal_of(user: User) -> Principal:
    """A user as a principal without a token: to check what they may do in a studio."""
    return Principal(
        user_id=user.id,
        name=user.name,
        is_platform_admin=user.is_platform_admin,
        group_ids=frozenset(group.id for group in user.groups),
        token_id="",
        token_kind="",
    )


def is_member(principal: Principal) -> ColumnElement[bool]:
    """A membership row that is the principal's, directly or through one of their groups."""
    condition = Membership.user_id == principal.user_id
    if principal.group_ids:
        condition = condition | Membership.group_id.in_(principal.group_ids)
    return condition


def grants_in_studio(db: Session, principal: Principal, studio_id: str) -> list[Grant]:
    """The caller's memberships in a studio, directly and through their groups."""
    rows = db.execute(
        select(Membership.role, Membership.session_policy).where(
            Membership.studio_id == studio_id, is_member(principal)
        )
    ).all()
    return [
        Grant(Role(role), SessionPolicy.model_validate(policy) if policy else None)
        for role, policy in rows
    ]
