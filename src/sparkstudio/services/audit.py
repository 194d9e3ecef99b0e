"""The audit trail: records are only ever added and read, never changed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from sparkstudio.db.models import AuditRecord
from sparkstudio.db.session import Database
from sparkstudio.errors import Invalid
from sparkstudio.schemas.audit import AuditFilter, AuditRecordPublic
from sparkstudio.schemas.common import decode_page_token, encode_page_token

EXPORT_CHUNK = 500


def add_record(db: Session, record: AuditRecord) -> None:
    db.add(record)
    db.flush()


def _filtered(statement: Select[Any], where: AuditFilter) -> Select[Any]:
    if where.actor is not None:
        statement = statement.where(AuditRecord.actor_name == where.actor)
    if where.action is not None:
        statement = statement.where(AuditRecord.action == where.action)
    if where.studio_id is not None:
        statement = statement.where(AuditRecord.studio_id == where.studio_id)
    if where.outcome is not None:
        statement = statement.where(AuditRecord.outcome == where.outcome.value)
    if where.since is not None:
        statement = statement.where(AuditRecord.at >= where.since)
    if where.until is not None:
        statement = statement.where(AuditRecord.at < where.until)
    if where.resource_prefix is not None:
        # A plain comparison, not LIKE: exact and case-sensitive on every database.
        prefix = where.resource_prefix
        statement = statement.where(func.substr(AuditRecord.resource, 1, len(prefix)) == prefix)
    return statement


def _page_after(next_token: str | None) -> int | None:
    after = decode_page_token(next_token)
    if after is None:
        return None
    if not after.isdigit():
        raise Invalid.field("next_token", "not a page token this API issued")
    return int(after)


def list_records(
    db: Session, where: AuditFilter, *, limit: int, next_token: str | None
) -> tuple[Sequence[AuditRecord], str | None]:
    """One page, newest first (the order records were written)."""
    statement = _filtered(select(AuditRecord), where)
    before = _page_after(next_token)
    if before is not None:
        statement = statement.where(AuditRecord.id < before)
    rows = db.scalars(statement.order_by(AuditRecord.id.desc()).limit(limit + 1)).all()
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_page_token(str(rows[-1].id))
    return rows, None


def last_record_id(db: Session) -> int:
    return int(db.scalar(select(func.max(AuditRecord.id))) or 0)


def export_lines(
    database: Database, where: AuditFilter, *, up_to: int, chunk: int = EXPORT_CHUNK
) -> Iterator[str]:
    """Every matching record up to id ``up_to``, oldest first, as JSON lines.

    Each chunk is read in its own short session: a long export never holds a
    transaction open while the client reads slowly. ``up_to`` bounds the export to what
    existed when it began.
    """
    after = 0
    while True:
        with database.session(write=False) as db:
            statement = _filtered(select(AuditRecord), where).where(
                AuditRecord.id > after, AuditRecord.id <= up_to
            )
            rows = db.scalars(statement.order_by(AuditRecord.id).limit(chunk)).all()
            lines = [record_public(row).model_dump_json() + "\n" for row in rows]
        if lines:
            yield "".join(lines)
        if len(rows) < chunk:
            return
        after = rows[-1].id


def record_public(record: AuditRecord) -> AuditRecordPublic:
    return AuditRecordPublic.model_validate(record)
