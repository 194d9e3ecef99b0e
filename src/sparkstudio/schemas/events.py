from __future__ import annotations

from datetime import datetime

from sparkstudio.schemas.common import PublicModel, StatusReason


class EventPublic(PublicModel):
    id: int
    resource_kind: str
    resource_id: str
    from_status: str | None
    to_status: str
    reason: StatusReason
    actor: str
    created_at: datetime
