from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, SecretStr

from sparkstudio.schemas.common import (
    EMAIL_PATTERN,
    EMAIL_RULE,
    TEXT_PATTERN,
    Flag,
    PublicModel,
    StrictModel,
    UserName,
)

PASSWORD_RULE = "8 to 256 characters"  # noqa: S105
Password = Annotated[SecretStr, Field(min_length=8, max_length=256, description=PASSWORD_RULE)]
DisplayName = Annotated[str, Field(max_length=128, pattern=TEXT_PATTERN)]
Email = Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN, description=EMAIL_RULE)]


class UserCreate(StrictModel):
    name: UserName
    password: Password | None = Field(
        default=None, description="Omit for a user who cannot log in with a password."
    )
    display_name: DisplayName = ""
    email: Email | None = None
    is_platform_admin: Flag = False


class UserUpdate(StrictModel):
    password: Password | None = None
    display_name: DisplayName | None = None
    email: Email | None = None
    is_platform_admin: Flag | None = None
    disabled: Flag | None = None


class UserPublic(PublicModel):
    id: str
    name: str
    display_name: str
    email: str | None
    is_platform_admin: bool
    disabled: bool
    groups: list[str] = Field(description="Names of the groups the user belongs to.")
    identity_provider: str | None = Field(
        default=None, description="The provider of a user created by a single sign-on."
    )
    created_at: datetime
    updated_at: datetime


class PasswordChange(StrictModel):
    current_password: SecretStr = Field(max_length=256)
    new_password: Password
