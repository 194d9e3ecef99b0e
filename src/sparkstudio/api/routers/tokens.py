from __future__ import annotations

from fastapi import APIRouter, status

from sparkstudio.api.deps import AppSettings, Authorized, Db, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.schemas.common import Limit, Page, PageToken
from sparkstudio.schemas.tokens import AwsKeySecret, TokenCreate, TokenPublic, TokenSecret
from sparkstudio.services import aws_keys
from sparkstudio.services import tokens as service
from sparkstudio.services.users import get_user_or_404

router = APIRouter(prefix="/tokens", tags=["tokens"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=requires(Action.TOKEN_CREATE))
def create_token(
    body: TokenCreate, access: Authorized, db: Db, settings: AppSettings
) -> TokenSecret | AwsKeySecret:
    """Create a personal API token, or with ``aws`` an AWS access key pair acting in one
    studio you belong to; the token's value, or the pair's secret, is in this response only.
    """
    if body.aws:
        key, pair = aws_keys.create_aws_key(db, access.principal, body, settings)
        db.commit()
        public = service.token_public(key).model_dump(exclude={"access_key_id"})
        return AwsKeySecret(
            **public,
            access_key_id=pair.access_key_id,
            secret_access_key=pair.secret_access_key,
        )
    user = get_user_or_404(db, access.principal.user_id)
    token, value = service.create_api_token(db, user, body, settings)
    db.commit()
    return TokenSecret(**service.token_public(token).model_dump(), token=value)


@router.get("", openapi_extra=requires(Action.TOKEN_LIST))
def list_tokens(
    access: Authorized,
    db: Db,
    limit: Limit = 100,
    next_token: PageToken = None,
    include_inactive: bool = False,
) -> Page[TokenPublic]:
    """Your personal API tokens and AWS access key pairs (never their secrets); revoked
    and expired ones on request."""
    rows, token = service.list_tokens(
        db,
        access.principal.user_id,
        limit=limit,
        next_token=next_token,
        include_inactive=include_inactive,
    )
    return Page(items=[service.token_public(t) for t in rows], next_token=token)


@router.delete(
    "/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.TOKEN_DELETE),
)
def revoke_token(token_id: str, access: Authorized, db: Db) -> None:
    service.revoke_token(db, access.principal.user_id, token_id)
    db.commit()
