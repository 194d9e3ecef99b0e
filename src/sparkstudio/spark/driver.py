"""What a Spark driver is doing, read from its UI: metrics servlet and REST API.

The control plane decides idleness and scaling from this: running jobs and stages,
the job counter (a job that started and ended between two looks still counts), and
tasks waiting for a free slot (the backlog managed scaling reacts to).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sparkstudio.processes.reach import get_json

TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class DriverActivity:
    app_id: str
    all_jobs: int  # jobs ever submitted: a change means work happened
    active_jobs: int
    running_stages: int
    running_tasks: int
    pending_tasks: int  # tasks of active stages not yet running: the backlog

    @property
    def busy(self) -> bool:
        return self.active_jobs > 0 or self.running_stages > 0


def _gauge(gauges: dict[str, Any], suffix: str) -> int:
    for name, gauge in gauges.items():
        if name.endswith(suffix):
            return int(gauge.get("value", 0))
    return 0


def read_activity(ui_url: str) -> DriverActivity | None:
    """The driver's activity, or None when its UI does not answer (yet).

    ``ui_url`` is ``http://host:port`` or ``unix:<bridge>`` (see processes.reach)."""
    try:
        metrics = get_json(ui_url, "/metrics/json/", TIMEOUT_SECONDS)
        gauges: dict[str, Any] = metrics.get("gauges", {})
        app_id = next((name.split(".driver.", 1)[0] for name in gauges if ".driver." in name), "")
        running_stages = _gauge(gauges, ".driver.DAGScheduler.stage.runningStages")
        running = pending = 0
        if running_stages and app_id:
            path = f"/api/v1/applications/{app_id}/stages?status=active"
            stages = get_json(ui_url, path, TIMEOUT_SECONDS)
            for stage in stages:
                total, active = int(stage.get("numTasks", 0)), int(stage.get("numActiveTasks", 0))
                running += active
                pending += max(total - active - int(stage.get("numCompleteTasks", 0)), 0)
        return DriverActivity(
            app_id=app_id,
            all_jobs=_gauge(gauges, ".driver.DAGScheduler.job.allJobs"),
            active_jobs=_gauge(gauges, ".driver.DAGScheduler.job.activeJobs"),
            running_stages=running_stages,
            running_tasks=running,
            pending_tasks=pending,
        )
    except (OSError, ValueError, AttributeError):
        return None
