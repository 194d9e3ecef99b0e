"""Usage metering: core-seconds and memory-GB-seconds from actual worker lifetimes."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sparkstudio.db.base import utcnow
from sparkstudio.db.models import Cluster, Studio, WorkerUsage
from sparkstudio.errors import Invalid
from sparkstudio.schemas.clusters import UsageReport, UsageRow

GROUPINGS = "'cluster', 'template', 'owner' or 'tag:<key>'"
UNTAGGED = "(untagged)"


def _key(cluster: Cluster, group_by: str) -> str:
    if group_by == "cluster":
        return cluster.id
    if group_by == "template":
        return cluster.template_name or "(none)"
    if group_by == "owner":
        return cluster.owner_name
    return cluster.tags.get(group_by.removeprefix("tag:"), UNTAGGED)


def check_group_by(group_by: str) -> None:
    if group_by in {"cluster", "template", "owner"}:
        return
    if group_by.startswith("tag:") and 1 <= len(group_by) - 4 <= 128:
        return
    raise Invalid.field("group_by", f"must be {GROUPINGS} (got {group_by!r})")


def usage_report(
    db: Session,
    studio: Studio,
    *,
    since: datetime,
    until: datetime | None,
    group_by: str,
) -> UsageReport:
    """Usage of the studio's workers between ``since`` and ``until`` (now), grouped."""
    check_group_by(group_by)
    end = until or utcnow()
    if end <= since:
        raise Invalid.field("until", "must be later than since")
    lifetimes = db.scalars(
        select(WorkerUsage).where(
            WorkerUsage.studio_id == studio.id,
            WorkerUsage.started_at < end,
            or_(WorkerUsage.ended_at.is_(None), WorkerUsage.ended_at > since),
        )
    ).all()
    cluster_ids = {w.cluster_id for w in lifetimes}
    clusters = {c.id: c for c in db.scalars(select(Cluster).where(Cluster.id.in_(cluster_ids)))}
    cores: dict[str, float] = defaultdict(float)
    memory: dict[str, float] = defaultdict(float)
    members: dict[str, set[str]] = defaultdict(set)
    now = utcnow()
    for worker in lifetimes:
        cluster = clusters.get(worker.cluster_id)
        key = _key(cluster, group_by) if cluster is not None else worker.cluster_id
        start = max(worker.started_at, since)
        stop = min(worker.ended_at or now, end)
        seconds = max((stop - start).total_seconds(), 0.0)
        cores[key] += seconds * worker.cores
        memory[key] += seconds * worker.memory_mib / 1024
        members[key].add(worker.cluster_id)
    rows = [
        UsageRow(
            key=key,
            clusters=len(members[key]),
            core_seconds=round(cores[key], 3),
            memory_gb_seconds=round(memory[key], 3),
        )
        for key in sorted(cores)
    ]
    total = UsageRow(
        key="total",
        clusters=len(cluster_ids),
        core_seconds=round(sum(cores.values()), 3),
        memory_gb_seconds=round(sum(memory.values()), 3),
    )
    return UsageReport(
        studio_id=studio.id, since=since, until=end, group_by=group_by, rows=rows, total=total
    )
