from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, model_validator

from sparkstudio.auth.actions import Role
from sparkstudio.auth.policy import SessionPolicy
from sparkstudio.schemas.common import Name, PublicModel, StrictModel, UserName


class PrincipalType(StrEnum):
    USER = "USER"
    GROUP = "GROUP"


class MemberCreate(StrictModel):
    user: UserName | None = Field(default=None, description="User name; give this or group.")
    group: Name | None = Field(default=None, description="Group name; give this or user.")
    role: Role
    session_policy: SessionPolicy | None = None

    @model_validator(mode="after")
    def _one_principal(self) -> MemberCreate:
        if (self.user is None) == (self.group is None):
            raise ValueError("give exactly one of 'user' or 'group'")
        return self


class MemberUpdate(StrictModel):
    role: Role | None = None
    session_policy: SessionPolicy | None = Field(
        default=None, description="A new policy; send null to remove the policy."
    )


class MemberPublic(PublicModel):
    id: str
    studio_id: str
    principal_type: PrincipalType
    principal_id: str
    principal_name: str
    role: Role
    session_policy: SessionPolicy | None
    created_at: datetime
    updated_at: datetime
