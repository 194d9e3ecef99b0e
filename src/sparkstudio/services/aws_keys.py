"""AWS access key pairs: issued to a studio member, looked up to verify SigV4 requests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio import secrets_box
from sparkstudio.auth.aws_keys import KeyPair, is_access_key_id, new_key_pair
from sparkstudio.auth.identity import (
    Principal,
    grants_in_studio,
    is_active,
    principal_of_token,
)
from sparkstudio.auth.tokens import TokenKind
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import ApiToken, Studio, User
from sparkstudio.errors import Invalid, NotFound
from sparkstudio.ids import new_id
from sparkstudio.schemas.tokens import TokenCreate
from sparkstudio.services.studios import get_studio_by_name
from sparkstudio.services.tokens import check_lifetime
from sparkstudio.settings import Settings


def _studio_of_member(db: Session, principal: Principal, studio_ref: str) -> Studio:
    """The studio named by id or name, if the caller may act in it (else it is not found)."""
    studio = db.get(Studio, studio_ref) or get_studio_by_name(db, studio_ref)
    if studio is None or not (
        principal.is_platform_admin or grants_in_studio(db, principal, studio.id)
    ):
        raise NotFound(f"no studio {studio_ref}")
    return studio


def create_aws_key(
    db: Session, principal: Principal, data: TokenCreate, settings: Settings
) -> tuple[ApiToken, KeyPair]:
    """A new pair of the caller's, acting in ``data.studio``; the secret is returned once."""
    if data.studio is None:
        raise Invalid.field("studio", "is required for an AWS access key pair")
    lifetime = check_lifetime(data, settings)
    studio = _studio_of_member(db, principal, data.studio)
    pair = new_key_pair()
    row = ApiToken(
        id=new_id("tok"),
        user_id=principal.user_id,
        kind=TokenKind.AWS_KEY.value,
        name=data.name,
        secret_hash="",  # nothing to compare: SigV4 needs the secret itself
        studio_id=studio.id,
        access_key_id=pair.access_key_id,
        secret_encrypted=secrets_box.encrypt(settings.home, pair.secret_access_key),
        expires_at=utcnow() + lifetime,
    )
    db.add(row)
    db.flush()
    return row, pair


@dataclass(frozen=True)
class ActiveKey:
    """A usable pair: who acts with it, in which studio, and the secret to verify with."""

    principal: Principal
    studio_id: str
    secret_access_key: str


def find_active_key(db: Session, home: Path, access_key_id: str) -> ActiveKey | None:
    """The pair with this access key id, or None if there is none that may be used now
    (revoked, expired, or its user disabled): all are refused alike."""
    if not is_access_key_id(access_key_id):
        return None
    row = db.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.access_key_id == access_key_id, ApiToken.kind == TokenKind.AWS_KEY)
    ).first()
    if row is None:
        return None
    token, user = row
    if not is_active(token, user) or token.studio_id is None or token.secret_encrypted is None:
        return None
    return ActiveKey(
        principal=principal_of_token(db, token, user),
        studio_id=token.studio_id,
        secret_access_key=secrets_box.decrypt(home, token.secret_encrypted),
    )
