from __future__ import annotations

from pydantic import BaseModel

from sparkstudio.auth.actions import Role
from sparkstudio.schemas.users import UserPublic


class StudioRole(BaseModel):
    studio_id: str
    studio_name: str
    roles: list[Role]


class WhoAmI(BaseModel):
    user: UserPublic
    studios: list[StudioRole]
    token_kind: str


class ActionInfo(BaseModel):
    action: str
    scope: str
    description: str
    roles: list[str]
