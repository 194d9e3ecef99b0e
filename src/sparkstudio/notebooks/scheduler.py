"""The scheduler: one reconciler key per active schedule, looked at when it is due.

A look locks the schedule's row, decides (:meth:`ScheduleController.decide`) and, in the
same transaction, starts the run and moves ``next_due_at`` on. Every due time within the
grace period gets its run, as if on time: the earliest first, one per look, the next look
at once. Older ones were missed and go by the missed-run policy. A control plane that
stops before the commit leaves the due time to the next look (after a restart, each due
time that passed meanwhile runs then if within the grace period); one that stops after it
finds the due time dealt with. The unique (schedule_id, scheduled_for) of executions
keeps two control planes on one database from both running it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sparkstudio import lifecycle
from sparkstudio.db.models import NotebookSchedule
from sparkstudio.db.session import Database
from sparkstudio.lifecycle import NOTEBOOK_SCHEDULE, NotebookScheduleStatus, Reason
from sparkstudio.notebooks.cron import (
    MAX_DUE_TIMES,
    Decision,
    MissedRunPolicy,
    decide,
    due_times,
    next_due,
)
from sparkstudio.services.notebook_schedules import runs_in_progress, start_run, when

log = logging.getLogger("sparkstudio.scheduler")

ACTOR = "sparkstudio"
Clock = Callable[[], datetime]
# A schedule due later is looked at again after this long anyway, so that a wall clock
# that jumps (or a test clock moved on) is noticed.
LONGEST_SLEEP_SECONDS = 60.0
_INSTANT = timedelta(microseconds=1)


class ScheduleController:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        grace: timedelta,
        started: Callable[[str, str, str], None],
    ) -> None:
        """``started(execution_id, target_kind, target_id)`` is told of every run started."""
        self.database, self.clock, self.grace, self.started = database, clock, grace, started

    def handle(self, schedule_id: str) -> float | None:
        now = self.clock()
        with self.database.session(write=False) as db:  # most looks find nothing due
            due = db.scalar(
                select(NotebookSchedule.next_due_at).where(
                    NotebookSchedule.id == schedule_id,
                    NotebookSchedule.status == NotebookScheduleStatus.ACTIVE,
                )
            )
        if due is None:
            return None
        if due > now:
            return self._sleep(due, now)
        with self.database.transaction() as db:
            schedule = db.scalars(
                select(NotebookSchedule).where(NotebookSchedule.id == schedule_id).with_for_update()
            ).one_or_none()
            if schedule is None or schedule.status != NotebookScheduleStatus.ACTIVE:
                return None
            decision = self.decide(schedule, now)
            if decision is None:
                return self._sleep(schedule.next_due_at, now)
            started = self._apply(db, schedule, decision)
            schedule.last_due_at = decision.run_for or decision.missed[-1]
            schedule.next_due_at = decision.next_due_at
            next_due_at = schedule.next_due_at
        if started is not None:
            self.started(*started)
        return self._sleep(next_due_at, now)

    def decide(self, schedule: NotebookSchedule, now: datetime) -> Decision | None:
        """The earliest due time within the grace period runs (those before it, older
        than the grace, were missed) and the next look is at the one after it; when none
        is within the grace, the missed-run policy decides (``cron.decide``)."""
        cron, zone, due = schedule.cron, schedule.time_zone, schedule.next_due_at
        if due > now:
            return None
        window = now - self.grace  # due times from here on are on time
        first_on_time = due if due >= window else next_due(cron, zone, window - _INSTANT)
        if first_on_time > now:
            policy = MissedRunPolicy(schedule.missed_run_policy)
            return decide(cron, zone, due, now, policy, self.grace)
        missed = due_times(cron, zone, due, window - _INSTANT) if due < window else []
        return Decision(first_on_time, missed, next_due(cron, zone, first_on_time))

    def _sleep(self, due: datetime, now: datetime) -> float:
        return min(max((due - now).total_seconds(), 0.0), LONGEST_SLEEP_SECONDS)

    def _apply(
        self, db: Session, schedule: NotebookSchedule, decision: Decision
    ) -> tuple[str, str, str] | None:
        if decision.missed:
            self._note_missed(db, schedule, decision)
        due = decision.run_for
        if due is None:
            return None
        running = runs_in_progress(db, schedule.id)
        if running >= schedule.max_concurrent_runs:
            message = (
                f"the run due at {when(due)} was skipped: {running} run(s) in progress "
                f"(max_concurrent_runs {schedule.max_concurrent_runs})"
            )
            lifecycle.note(db, NOTEBOOK_SCHEDULE, schedule, Reason("SKIPPED", message), ACTOR)
            return None
        late = decision.caught_up
        reason = Reason(
            "CAUGHT_UP" if late else "SCHEDULED",
            f"schedule {schedule.name}, due at {when(due)}" + (" (caught up)" if late else ""),
        )
        execution = start_run(db, schedule, due, reason)
        if execution is None:
            log.info("schedule %s: the run due at %s was started already", schedule.id, due)
            return None
        note = Reason(reason.code, f"execution {execution.id} started for {when(due)}")
        lifecycle.note(db, NOTEBOOK_SCHEDULE, schedule, note, ACTOR)
        return execution.id, execution.target_kind, execution.target_id

    def _note_missed(self, db: Session, schedule: NotebookSchedule, decision: Decision) -> None:
        missed = decision.missed
        count = f"at least {len(missed)}" if len(missed) >= MAX_DUE_TIMES - 1 else len(missed)
        span = when(missed[0]) + (f" to {when(missed[-1])}" if len(missed) > 1 else "")
        if decision.run_for is None:
            what = f"none is run (missed_run_policy {schedule.missed_run_policy})"
        elif decision.caught_up:
            what = f"only the latest due time, {when(decision.run_for)}, is run"
        else:
            what = f"those from {when(decision.run_for)} on, within the grace period, are run"
        message = f"{count} run(s) due {span} were missed while none could start; {what}"
        lifecycle.note(db, NOTEBOOK_SCHEDULE, schedule, Reason("MISSED", message), ACTOR)
