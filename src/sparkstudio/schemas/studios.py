from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field

from sparkstudio.schemas.common import (
    STORAGE_PATTERN,
    STORAGE_RULE,
    Description,
    Name,
    PublicModel,
    StrictModel,
)


def _check_storage(uri: str) -> str:
    if uri.startswith("file:///") and "/../" not in uri + "/":
        return uri.rstrip("/") or "file:///"
    if uri.startswith("s3://") and "/../" not in uri + "/":
        return uri.rstrip("/")
    raise ValueError(f"must be {STORAGE_RULE}, without '..' segments")


StorageLocation = Annotated[
    str,
    Field(max_length=1024, pattern=STORAGE_PATTERN, description=STORAGE_RULE),
    AfterValidator(_check_storage),
]


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a network")
    return values


Networks = Annotated[
    list[Name],
    Field(
        min_length=1,
        max_length=16,
        description="1 to 16 distinct network names.",
        json_schema_extra={"uniqueItems": True},
    ),
    AfterValidator(_unique),
]


class AuthMode(StrEnum):
    """How a studio's members may log in (EMR Studio calls its equivalent AuthMode)."""

    PASSWORD_OR_SSO = "PASSWORD_OR_SSO"  # noqa: S105 (a mode, not a password)
    SSO_ONLY = "SSO_ONLY"  # members' password logins are refused


AUTH_MODE_DESCRIPTION = (
    "PASSWORD_OR_SSO (the default), or SSO_ONLY: password logins of the studio's members "
    "(direct or through a group) are refused; SSO_ONLY needs an OpenID Connect provider."
)


AllowedLocations = Annotated[
    list[StorageLocation],
    Field(
        max_length=20,
        description="Further locations (file:///… or s3://…) the studio's users may name as "
        "sources, outputs, entry points, log locations or Git repositories; set by platform "
        "admins only.",
    ),
]


class StudioCreate(StrictModel):
    name: Name
    description: Description = ""
    storage_location: StorageLocation | None = Field(
        default=None, description="Default storage of the studio; under the home when omitted."
    )
    allowed_locations: AllowedLocations = []
    networks: Networks | None = Field(
        default=None, description="Networks the studio's workspaces may use; 'default' if omitted."
    )
    auth_mode: AuthMode = Field(default=AuthMode.PASSWORD_OR_SSO, description=AUTH_MODE_DESCRIPTION)


class StudioUpdate(StrictModel):
    description: Description | None = None
    storage_location: StorageLocation | None = Field(
        default=None, description="Platform admins only: the studio's admins cannot move it."
    )
    allowed_locations: AllowedLocations | None = None
    networks: Networks | None = None
    auth_mode: AuthMode | None = Field(default=None, description=AUTH_MODE_DESCRIPTION)


class StudioPublic(PublicModel):
    id: str
    name: str
    description: str
    storage_location: str
    allowed_locations: list[str]
    networks: list[str]
    auth_mode: AuthMode
    created_at: datetime
    updated_at: datetime
