from __future__ import annotations

from datetime import datetime

from pydantic import Field, SecretStr

from sparkstudio.schemas.common import Count, Flag, Name, PublicModel, StrictModel
from sparkstudio.schemas.users import UserPublic


class LoginRequest(StrictModel):
    username: str = Field(min_length=1, max_length=64)
    password: SecretStr = Field(min_length=1, max_length=256)
    session_cookie: Flag = Field(
        default=False,
        description="Also set the token as an HttpOnly cookie (for browsers: the proxied "
        "Spark UIs). Off by default, so that scripts never receive it in a header.",
    )


class TokenCreate(StrictModel):
    name: Name
    expires_in_days: Count = Field(default=90, ge=1, le=3650, description="Lifetime in days.")
    aws: Flag = Field(
        default=False,
        description="Create an AWS access key pair (for AWS SDKs and the AWS CLI, signing "
        "with SigV4) instead of a bearer token; needs 'studio'.",
    )
    studio: str | None = Field(
        default=None,
        max_length=64,
        description="The studio (id or name) an AWS access key pair acts in; you must "
        "belong to it.",
    )


class TokenPublic(PublicModel):
    id: str
    name: str
    kind: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    studio_id: str | None = Field(
        default=None, description="The studio an AWS access key pair acts in."
    )
    access_key_id: str | None = Field(
        default=None, description="An AWS access key pair's access key id (not a secret)."
    )


class TokenSecret(TokenPublic):
    token: str = Field(description="The bearer token; shown only now.")


class AwsKeySecret(TokenPublic):
    access_key_id: str = Field(description="The access key id (not a secret).")
    secret_access_key: str = Field(description="The secret access key; shown only now.")


class LoginResponse(PublicModel):
    token: str = Field(description="Send as 'Authorization: Bearer <token>'.")
    token_type: str = "bearer"  # noqa: S105
    expires_at: datetime
    user: UserPublic
