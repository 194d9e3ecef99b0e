"""The audit trail (platform admins): read it page by page or export it as JSON lines."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any, TypedDict, Unpack

from sparkstudio.client.clusters import _iso
from sparkstudio.client.resources import _Resource
from sparkstudio.schemas.audit import AuditRecordPublic

_PAGE_MAX = 1000


class AuditFilters(TypedDict, total=False):
    """The filters of :meth:`Audit.list` and :meth:`Audit.export_lines`."""

    actor: str | None
    action: str | None
    studio_id: str | None
    outcome: str | None
    since: datetime | None
    until: datetime | None
    resource_prefix: str | None


def _filters(
    *,
    actor: str | None = None,
    action: str | None = None,
    studio_id: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    resource_prefix: str | None = None,
) -> dict[str, Any]:
    return {
        "actor": actor,
        "action": action,
        "studio_id": studio_id,
        "outcome": outcome,
        "since": _iso(since),
        "until": _iso(until),
        "resource_prefix": resource_prefix,
    }


class Audit(_Resource):
    """Every filter given must match; times without an offset are taken as UTC."""

    def list(
        self, *, limit: int | None = None, **filters: Unpack[AuditFilters]
    ) -> builtins.list[AuditRecordPublic]:
        """Matching records, newest first: the ``limit`` newest, or all of them."""
        params = _filters(**filters)
        params["limit"] = min(limit, _PAGE_MAX) if limit is not None else _PAGE_MAX
        records = self._client.iterate(AuditRecordPublic, "/audit", **params)
        return builtins.list(islice(records, limit))

    def export_lines(self, **filters: Unpack[AuditFilters]) -> Iterator[str]:
        """Every matching record, oldest first, as the server's JSON lines (streamed)."""
        params = _filters(**filters)
        for line in self._client.stream_lines("/audit/export", params):
            if line:
                yield line

    def export(self, **filters: Unpack[AuditFilters]) -> Iterator[AuditRecordPublic]:
        """Like :meth:`export_lines`, each line read into a record."""
        for line in self.export_lines(**filters):
            yield AuditRecordPublic.model_validate_json(line)
