"""Accessor for the job runs of serverless applications."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from sparkstudio.client.resources import _given, _Resource
from sparkstudio.errors import StudioError
from sparkstudio.schemas.common import Page
from sparkstudio.schemas.events import EventPublic
from sparkstudio.schemas.job_runs import DashboardPublic, JobRunAttemptPublic, JobRunPublic

# Job run statuses (``sparkstudio.lifecycle.JobRunStatus``) after which nothing changes.
JOB_RUN_ENDED = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
SPARK_DEFAULTS = "spark-defaults"


class JobRuns(_Resource):
    """Job runs of an application: submit, list, describe, cancel, attempts, logs, UI.

    ``submit(studio_id, application_id, "s3://bucket/etl.py", ["2024-01-01"],
    spark_defaults={"spark.executor.memory": "2g"})`` starts a run (and the application,
    when it is stopped and auto-start is on).
    """

    def _path(self, studio_id: str, application_id: str, job_run_id: str = "") -> str:
        base = f"/studios/{studio_id}/applications/{application_id}/job-runs"
        return f"{base}/{job_run_id}" if job_run_id else base

    def submit(
        self,
        studio_id: str,
        application_id: str,
        entry_point: str,
        entry_point_arguments: builtins.list[str] | None = None,
        *,
        name: str | None = None,
        spark_submit_parameters: str | None = None,
        spark_defaults: dict[str, str] | None = None,
        log_uri: str | None = None,
        execution_timeout_minutes: int | None = None,
        max_attempts: int | None = None,
        execution_role_arn: str | None = None,
        tags: dict[str, str] | None = None,
        client_token: str | None = None,
    ) -> JobRunPublic:
        """Submit a run (SUBMITTED); the same ``client_token`` submits it only once."""
        spark_submit = _given(
            entry_point=entry_point,
            entry_point_arguments=entry_point_arguments,
            spark_submit_parameters=spark_submit_parameters,
        )
        overrides: dict[str, Any] = {}
        if spark_defaults:
            overrides["application_configuration"] = [
                {"classification": SPARK_DEFAULTS, "properties": spark_defaults}
            ]
        if log_uri is not None:
            overrides["monitoring_configuration"] = {
                "s3_monitoring_configuration": {"log_uri": log_uri}
            }
        body = _given(
            name=name,
            execution_role_arn=execution_role_arn,
            job_driver={"spark_submit": spark_submit},
            configuration_overrides=overrides or None,
            execution_timeout_minutes=execution_timeout_minutes,
            retry_policy={"max_attempts": max_attempts} if max_attempts is not None else None,
            tags=tags,
        )
        return self.start(studio_id, application_id, body, client_token=client_token)

    def start(
        self,
        studio_id: str,
        application_id: str,
        body: dict[str, Any],
        *,
        client_token: str | None = None,
    ) -> JobRunPublic:
        """Submit a run from a whole request body (the API's JobRunCreate)."""
        response = self._client.request(
            "POST",
            self._path(studio_id, application_id),
            json=body,
            params={"client_token": client_token},
        )
        return JobRunPublic.model_validate(response)

    def list(
        self,
        studio_id: str,
        application_id: str,
        *,
        states: str | Collection[str] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> builtins.list[JobRunPublic]:
        wanted = [states] if isinstance(states, str) else states
        return list(
            self._client.iterate(
                JobRunPublic,
                self._path(studio_id, application_id),
                states=list(wanted) if wanted else None,
                created_after=created_after.isoformat() if created_after else None,
                created_before=created_before.isoformat() if created_before else None,
            )
        )

    def get(self, studio_id: str, application_id: str, job_run_id: str) -> JobRunPublic:
        return self._client.get_model(
            JobRunPublic, self._path(studio_id, application_id, job_run_id)
        )

    def cancel(self, studio_id: str, application_id: str, job_run_id: str) -> JobRunPublic:
        path = self._path(studio_id, application_id, job_run_id) + "/cancel"
        return self._client.send_model(JobRunPublic, "POST", path)

    def attempts(
        self, studio_id: str, application_id: str, job_run_id: str
    ) -> builtins.list[JobRunAttemptPublic]:
        path = self._path(studio_id, application_id, job_run_id) + "/attempts"
        return self._client.get_model(Page[JobRunAttemptPublic], path).items

    def logs(
        self,
        studio_id: str,
        application_id: str,
        job_run_id: str,
        *,
        stream: str = "stdout",
        attempt: int | None = None,
        tail_bytes: int | None = None,
    ) -> str:
        """The end of an attempt's driver stdout or stderr (the latest attempt's default)."""
        path = self._path(studio_id, application_id, job_run_id) + "/logs"
        params = {"stream": stream, "attempt": attempt, "tail_bytes": tail_bytes}
        return self._client.get_text(path, params)

    def dashboard(self, studio_id: str, application_id: str, job_run_id: str) -> str:
        """The URL of the run's Spark UI (live while it runs, its history after)."""
        path = self._path(studio_id, application_id, job_run_id) + "/dashboard"
        return self._client.get_model(DashboardPublic, path).url

    def events(
        self, studio_id: str, application_id: str, job_run_id: str
    ) -> builtins.list[EventPublic]:
        path = self._path(studio_id, application_id, job_run_id) + "/events"
        return list(self._client.iterate(EventPublic, path))

    def wait(
        self,
        studio_id: str,
        application_id: str,
        job_run_id: str,
        *,
        timeout: float | None = None,
        poll: float = 1.0,
        on_change: Callable[[JobRunPublic], None] | None = None,
    ) -> JobRunPublic:
        """Poll until the run has ended (SUCCESS, FAILED or CANCELLED) and return it.

        ``timeout`` (seconds; None: no limit) raises :class:`StudioError` when it passes;
        the run goes on.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        seen: str | None = None
        while True:
            run = self.get(studio_id, application_id, job_run_id)
            if run.status != seen and on_change is not None:
                on_change(run)
            seen = run.status
            if run.status in JOB_RUN_ENDED:
                return run
            if deadline is not None and time.monotonic() >= deadline:
                raise StudioError(
                    f"job run {run.id} is still {run.status} after {timeout:g} s; "
                    f"'sparkstudio job describe {application_id} {run.id}' shows why",
                    reason="WaitTimeout",
                    status=408,
                )
            time.sleep(poll)
