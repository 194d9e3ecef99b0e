"""The event log: every status change of every resource."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio.db.models import Event
from sparkstudio.errors import Invalid
from sparkstudio.schemas.common import StatusReason
from sparkstudio.schemas.events import EventPublic


def list_events(
    db: Session, kind: str, resource_id: str, *, limit: int, next_token: str | None
) -> tuple[Sequence[Event], str | None]:
    statement = select(Event).where(Event.resource_kind == kind, Event.resource_id == resource_id)
    after = next_token
    if after is not None:
        if not after.isdigit() or len(after) > 18:  # ids fit in 63 bits
            raise Invalid.field("next_token", "not a page token this API issued")
        statement = statement.where(Event.id > int(after))
    rows = db.scalars(statement.order_by(Event.id).limit(limit + 1)).all()
    if len(rows) > limit:
        return rows[:limit], str(rows[limit - 1].id)
    return rows, None


def event_public(event: Event) -> EventPublic:
    return EventPublic(
        id=event.id,
        resource_kind=event.resource_kind,
        resource_id=event.resource_id,
        from_status=event.from_status,
        to_status=event.to_status,
        reason=StatusReason(code=event.reason_code, message=event.reason_message),
        actor=event.actor,
        created_at=event.created_at,
    )
