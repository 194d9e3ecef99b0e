from __future__ import annotations

from datetime import datetime

from pydantic import Field

from sparkstudio.schemas.common import Description, Name, PublicModel, StrictModel

SOURCE_DESCRIPTION = (
    "Empty for a local group; the name of an OpenID Connect provider for a directory group, "
    "whose members follow that provider's groups claim at every sign-in."
)


class GroupCreate(StrictModel):
    name: Name
    description: Description = ""
    source: Name | None = Field(
        default=None,
        description=SOURCE_DESCRIPTION + " Create one ahead of the first sign-in to map it "
        "to a studio.",
    )


class GroupUpdate(StrictModel):
    description: Description | None = None


class GroupPublic(PublicModel):
    id: str
    name: str
    description: str
    source: str | None = Field(default=None, description=SOURCE_DESCRIPTION)
    members: list[str] = Field(description="Names of the users in the group.")
    created_at: datetime
    updated_at: datetime
