"""Login sessions and personal API tokens."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sparkstudio.auth import tokens
from sparkstudio.auth.identity import LAST_USED_PRECISION
from sparkstudio.auth.passwords import verify_password
from sparkstudio.auth.tokens import TokenKind
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import ApiToken, User
from sparkstudio.errors import Invalid, NotFound, Unauthenticated
from sparkstudio.ids import new_id
from sparkstudio.schemas.common import USER_NAME_PATTERN
from sparkstudio.schemas.tokens import TokenCreate, TokenPublic
from sparkstudio.services.common import page
from sparkstudio.settings import Settings

USER_NAME = re.compile(USER_NAME_PATTERN)


def _issue(
    db: Session, user: User, kind: TokenKind, name: str, lifetime: timedelta
) -> tuple[ApiToken, str]:
    issued = tokens.issue(new_id("tok"))
    row = ApiToken(
        id=issued.token_id,
        user_id=user.id,
        kind=kind.value,
        name=name,
        secret_hash=issued.secret_hash,
        expires_at=utcnow() + lifetime,
    )
    db.add(row)
    db.flush()
    return row, issued.value


def check_password_login(db: Session, username: str, password: str) -> User:
    """The user these credentials belong to; every failure is the same 401.

    Takes ~0.1 s of argon2: call it with a read session, never while holding a write lock.
    """
    plausible = USER_NAME.match(username) is not None
    user = db.scalars(select(User).where(User.name == username)).first() if plausible else None
    hash_ = user.password_hash if user is not None else None
    if not verify_password(hash_, password) or user is None or user.disabled:
        raise Unauthenticated("wrong user name or password", reason="LoginFailed")
    return user


def issue_session(db: Session, user: User, settings: Settings) -> tuple[ApiToken, str]:
    lifetime = timedelta(hours=settings.session_ttl_hours)
    return _issue(db, user, TokenKind.SESSION, "login", lifetime)


def check_lifetime(data: TokenCreate, settings: Settings) -> timedelta:
    if data.expires_in_days > settings.token_max_days:
        raise Invalid.field(
            "expires_in_days", f"must be at most {settings.token_max_days} on this platform"
        )
    return timedelta(days=data.expires_in_days)


def create_api_token(
    db: Session, user: User, data: TokenCreate, settings: Settings
) -> tuple[ApiToken, str]:
    if data.studio is not None:
        raise Invalid.field("studio", "is only for an AWS access key pair (set 'aws')")
    return _issue(db, user, TokenKind.API, data.name, check_lifetime(data, settings))


def list_tokens(
    db: Session, user_id: str, *, limit: int, next_token: str | None, include_inactive: bool
) -> tuple[Sequence[ApiToken], str | None]:
    listed = (TokenKind.API, TokenKind.AWS_KEY)  # login sessions are not listed
    statement = select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.kind.in_(listed))
    if not include_inactive:
        statement = statement.where(ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow())
    return page(db, statement, ApiToken.id, limit, next_token)


def revoke_token(db: Session, user_id: str, token_id: str) -> ApiToken:
    token = db.get(ApiToken, token_id)
    if token is None or token.user_id != user_id:
        raise NotFound(f"no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.flush()
    return token


def presented_session(db: Session, presented: str | None) -> ApiToken | None:
    """The login session a client presents (e.g. a cookie), with its secret and not
    revoked; None otherwise. A token id alone, which is no secret, names nothing, and API
    tokens are never one, whatever a client puts in its cookie."""
    parsed = tokens.parse(presented) if presented else None
    if parsed is None:
        return None
    token_id, secret = parsed
    token = db.get(ApiToken, token_id)
    if (
        token is None
        or token.kind != TokenKind.SESSION
        or token.revoked_at is not None
        or not tokens.secret_matches(secret, token.secret_hash)
    ):
        return None
    return token


def revoke_session(db: Session, token_id: str | None) -> bool:
    """Revoke a login session by id; True if it was still active. API tokens are left
    alone."""
    token = db.get(ApiToken, token_id) if token_id is not None else None
    if token is None or token.kind != TokenKind.SESSION or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    db.flush()
    return True


def revoke_presented_session(db: Session, presented: str) -> bool:
    """Revoke the login session a client presents (e.g. an old cookie); True if one was."""
    token = presented_session(db, presented)
    return revoke_session(db, token.id) if token is not None else False


def revoke_every_token(db: Session, user_id: str) -> None:
    """Revoke all of a user's login sessions and API tokens (when the user is disabled)."""
    db.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def touch(db: Session, token_id: str) -> None:
    now = utcnow()
    db.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < now - LAST_USED_PRECISION),
        )
        .values(last_used_at=now)
    )


def token_public(token: ApiToken) -> TokenPublic:
    return TokenPublic.model_validate(token)
