"""Reading the audit trail (platform admins). Nothing here, or anywhere, changes it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BeforeValidator

from sparkstudio.api.deps import AppDatabase, Authorized, Db, requires
from sparkstudio.api.errors import ERROR_RESPONSES
from sparkstudio.auth.actions import Action
from sparkstudio.errors import Invalid
from sparkstudio.schemas.audit import LOGIN_ACTION, AuditFilter, AuditRecordPublic, Outcome
from sparkstudio.schemas.common import ID_PATTERN, Limit, Page, PageToken
from sparkstudio.services import audit as service

router = APIRouter(prefix="/audit", tags=["audit"], responses=ERROR_RESPONSES)

NDJSON = "application/x-ndjson"
RECORDED_ACTIONS = frozenset({action.value for action in Action} | {LOGIN_ACTION})
_STUDIO_ID = re.compile(ID_PATTERN)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_only(value: Any) -> Any:
    # Without this, "1700000000" or "0.5" would be read as seconds since 1970.
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("must be an ISO 8601 time such as '2026-11-02T09:00:00Z'")
    return value


Time = Annotated[datetime | None, BeforeValidator(_iso_only)]


def _utc(moment: datetime | None) -> datetime | None:
    """A time without an offset is taken as UTC, like every time this API writes."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def audit_filter(
    actor: Annotated[
        str | None,
        Query(max_length=64, description="The caller's user name (for logins: the name given)."),
    ] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=64,
            description="An action of GET /actions, or 'session:Login'.",
            json_schema_extra={"enum": sorted(RECORDED_ACTIONS)},
        ),
    ] = None,
    studio_id: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Records about this studio.",
            json_schema_extra={"pattern": ID_PATTERN},
        ),
    ] = None,
    outcome: Annotated[Outcome | None, Query(description="SUCCEEDED, FAILED or DENIED.")] = None,
    since: Annotated[
        Time, Query(description="Records at or after this time (UTC unless an offset is given).")
    ] = None,
    until: Annotated[Time, Query(description="Records before this time.")] = None,
    resource_prefix: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=1024,
            description="Records whose resource starts with this, e.g. 'studio/st-…/workspace/'.",
        ),
    ] = None,
) -> AuditFilter:
    """The filters of both reading routes; each one given must match."""
    if action is not None and action not in RECORDED_ACTIONS:
        allowed = "an action of GET /actions (e.g. 'workspace:Start') or 'session:Login'"
        raise Invalid.field("action", f"must be {allowed}")
    if studio_id is not None and not _STUDIO_ID.match(studio_id):
        raise Invalid.field("studio_id", "must be a studio id such as 'st-01hx3k2m9qabcdef'")
    start, end = _utc(since), _utc(until)
    if start is not None and end is not None and end <= start:
        raise Invalid.field("until", "must be later than since")
    return AuditFilter(
        actor=actor,
        action=action,
        studio_id=studio_id,
        outcome=outcome,
        since=start,
        until=end,
        resource_prefix=resource_prefix,
    )


Filter = Annotated[AuditFilter, Depends(audit_filter)]


@router.get("", openapi_extra=requires(Action.AUDIT_LIST))
def list_audit_records(
    access: Authorized,
    db: Db,
    where: Filter,
    limit: Limit = 100,
    next_token: PageToken = None,
) -> Page[AuditRecordPublic]:
    """The audit trail, newest first: changes attempted and denied attempts."""
    rows, token = service.list_records(db, where, limit=limit, next_token=next_token)
    return Page(items=[service.record_public(r) for r in rows], next_token=token)


@router.get(
    "/export",
    openapi_extra=requires(Action.AUDIT_LIST),
    response_class=StreamingResponse,
    responses={200: {"description": "One record per line, oldest first.", "content": {NDJSON: {}}}},
)
def export_audit_records(
    access: Authorized, db: Db, database: AppDatabase, where: Filter
) -> StreamingResponse:
    """Every matching record as JSON lines, oldest first, streamed (no page limit).

    The export ends with the last record written when it began.
    """
    up_to = service.last_record_id(db)
    db.close()  # the export reads in short sessions of its own, chunk by chunk
    lines = service.export_lines(database, where, up_to=up_to)
    return StreamingResponse(lines, media_type=NDJSON)
