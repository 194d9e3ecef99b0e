from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from sparkstudio.schemas.common import PublicModel, StrictModel

MAX_TEMPLATE_BYTES = 256 * 1024
Scalar = str | int | float | bool


class TemplatePublish(StrictModel):
    body: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEMPLATE_BYTES)] = Field(
        description="The template's YAML text; its 'name' says which template this versions."
    )


class TemplateParameterPublic(BaseModel):
    name: str
    label: str
    type: str
    description: str
    default: Scalar | None
    allowed_values: list[Scalar] | None
    min: float | None
    max: float | None


class TemplateSummary(PublicModel):
    id: str
    name: str
    description: str
    latest_version: int
    created_at: datetime
    updated_at: datetime


class TemplatePublic(TemplateSummary):
    """A template version as studio members see it: what to choose, not how it resolves."""

    version: int
    parameters: list[TemplateParameterPublic]


class TemplateDetail(TemplatePublic):
    """A template version as platform admins see it: also its text and its shares."""

    body: str
    published_by: str
    versions: list[int]
    shared_with: list[str] = Field(description="Ids of the studios it is shared with.")
