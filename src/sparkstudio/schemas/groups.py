from __future__ import annotations

from datetime import datetime

from pydantic import Field

from sparkstudio.schemas.common import Description, Name, PublicModel, StrictModel


class GroupCreate(StrictModel):
    name: Name
    description: Description = ""


class GroupUpdate(StrictModel):
    description: Description | None = None


class GroupPublic(PublicModel):
    id: str
    name: str
    description: str
    members: list[str] = Field(description="Names of the users in the group.")
    created_at: datetime
    updated_at: datetime
