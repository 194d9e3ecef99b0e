"""Serverless usage: job runs' metered utilization, summed by application, run or tag."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio.db.base import utcnow
from sparkstudio.db.models import Application, JobRun, Studio
from sparkstudio.errors import Invalid
from sparkstudio.schemas.job_runs import JobRunUsageReport, JobRunUsageRow
from sparkstudio.services.job_runs import hours

GROUPINGS = "'application', 'job_run', 'created_by' or 'tag:<key>'"
UNTAGGED = "(untagged)"
_SUMS = (
    "vcpu_seconds",
    "memory_gb_seconds",
    "storage_gb_seconds",
    "billed_vcpu_seconds",
    "billed_memory_gb_seconds",
    "billed_storage_gb_seconds",
    "running_seconds",
    "queued_seconds",
)


def check_group_by(group_by: str) -> None:
    if group_by in {"application", "job_run", "created_by"}:
        return
    if group_by.startswith("tag:") and 1 <= len(group_by) - 4 <= 128:
        return
    raise Invalid.field("group_by", f"must be {GROUPINGS} (got {group_by!r})")


def _key(run: JobRun, application: Application | None, group_by: str) -> str:
    if group_by == "application":
        return application.name if application is not None else run.application_id
    if group_by == "job_run":
        return run.id
    if group_by == "created_by":
        return run.created_by
    return run.tags.get(group_by.removeprefix("tag:"), UNTAGGED)


def job_run_usage(
    db: Session, studio: Studio, *, since: datetime, until: datetime | None, group_by: str
) -> JobRunUsageReport:
    """Usage of the studio's job runs submitted between ``since`` and ``until`` (now)."""
    check_group_by(group_by)
    end = until or utcnow()
    if end <= since:
        raise Invalid.field("until", "must be later than since")
    runs = db.scalars(
        select(JobRun).where(
            JobRun.studio_id == studio.id, JobRun.created_at >= since, JobRun.created_at < end
        )
    ).all()
    applications = {
        a.id: a
        for a in db.scalars(
            select(Application).where(Application.id.in_({r.application_id for r in runs}))
        )
    }
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(_SUMS))
    counts: dict[str, int] = defaultdict(int)
    for run in runs:
        key = _key(run, applications.get(run.application_id), group_by)
        counts[key] += 1
        for index, name in enumerate(_SUMS):
            sums[key][index] += float(getattr(run, name))
    rows = [_row(key, counts[key], sums[key]) for key in sorted(sums)]
    total = [sum(values[i] for values in sums.values()) for i in range(len(_SUMS))]
    return JobRunUsageReport(
        studio_id=studio.id,
        since=since,
        until=end,
        group_by=group_by,
        rows=rows,
        total=_row("total", len(runs), total),
    )


def _row(key: str, count: int, values: list[float]) -> JobRunUsageRow:
    return JobRunUsageRow.model_validate(
        {
            "key": key,
            "job_runs": count,
            "total_resource_utilization": hours(*values[0:3]),
            "billed_resource_utilization": hours(*values[3:6]),
            "execution_seconds": round(values[6], 3),
            "queued_seconds": round(values[7], 3),
        }
    )
