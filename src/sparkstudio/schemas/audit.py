"""The audit trail: what one record shows, and the filters a reader may apply."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from sparkstudio.schemas.common import PublicModel

# Actions recorded that no API route declares (the action table has the others).
LOGIN_ACTION = "session:Login"


class Outcome(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # the request was allowed but did not succeed (4xx, 5xx)
    DENIED = "DENIED"  # not authenticated, not allowed, or a resource hidden from the caller


class AuditRecordPublic(PublicModel):
    """One recorded attempt; also the shape of each line of the JSON lines export."""

    id: int
    at: datetime = Field(description="When the request arrived (UTC).")
    actor_id: str | None = Field(description="The caller's user id; null when not authenticated.")
    actor_name: str = Field(
        description="The caller's user name; for logins, the name given; '' when unknown."
    )
    action: str = Field(description="The action attempted, e.g. 'workspace:Start'.")
    resource: str = Field(
        description="The resource the action was checked against, or the request path."
    )
    studio_id: str | None
    method: str
    path: str
    source_address: str = Field(description="The client's IP address as the server saw it.")
    outcome: Outcome
    status_code: int
    message: str = Field(description="The public error message of a failure or denial.")


@dataclass(frozen=True)
class AuditFilter:
    """Which records to read; ``None`` means no condition on that field."""

    actor: str | None = None
    action: str | None = None
    studio_id: str | None = None
    outcome: Outcome | None = None
    since: datetime | None = None
    until: datetime | None = None
    resource_prefix: str | None = None
