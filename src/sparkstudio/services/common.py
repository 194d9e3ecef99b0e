"""Helpers shared by the services: conflicts on flush, keyset pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Row, Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from sparkstudio.errors import Conflict
from sparkstudio.schemas.common import decode_page_token, encode_page_token

T = TypeVar("T")


def flush_or_conflict(db: Session, message: str) -> None:
    """Flush; a unique-constraint race lost to a concurrent writer becomes a 409."""
    try:
        db.flush()
    except IntegrityError as error:
        db.rollback()
        raise Conflict(message, reason="AlreadyExists") from error


def page(
    db: Session,
    statement: Select[T],
    id_column: InstrumentedAttribute[Any],
    limit: int,
    next_token: str | None,
) -> tuple[Sequence[T], str | None]:
    """One keyset page ordered by id (ids are time-ordered, so this is creation order)."""
    after = decode_page_token(next_token)
    if after is not None:
        statement = statement.where(id_column > after)
    rows = db.scalars(statement.order_by(id_column).limit(limit + 1)).unique().all()
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_page_token(getattr(rows[-1], "id"))  # noqa: B009
    return rows, None


def page_rows(
    db: Session,
    statement: Select[Any],
    id_column: InstrumentedAttribute[Any],
    limit: int,
    next_token: str | None,
) -> tuple[Sequence[Row[Any]], str | None]:
    """Like :func:`page` for column selects (hot list paths skip ORM object loading)."""
    after = decode_page_token(next_token)
    if after is not None:
        statement = statement.where(id_column > after)
    rows = db.execute(statement.order_by(id_column).limit(limit + 1)).all()
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_page_token(rows[-1].id)
    return rows, None
