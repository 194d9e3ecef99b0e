from __future__ import annotations

from datetime import datetime

from pydantic import Field

from sparkstudio.schemas.common import (
    Description,
    Name,
    PublicModel,
    StatusReason,
    StrictModel,
    Tags,
)


class WorkspaceCreate(StrictModel):
    name: Name
    description: Description = ""
    network: Name | None = Field(
        default=None, description="One of the studio's networks; its first one when omitted."
    )
    tags: Tags = Field(default_factory=dict)


class WorkspaceUpdate(StrictModel):
    name: Name | None = None
    description: Description | None = None
    tags: Tags | None = Field(default=None, description="Replaces all tags.")


class WorkspacePublic(PublicModel):
    id: str
    studio_id: str
    name: str
    description: str
    owner_id: str
    owner: str = Field(description="Name of the owner.")
    network: str
    tags: dict[str, str]
    status: str
    target: str
    status_reason: StatusReason
    cluster_id: str | None
    created_at: datetime
    updated_at: datetime
