"""What one look of the scheduler decides: every due time within the grace period runs,
older ones follow the missed-run policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sparkstudio.db.models import NotebookSchedule
from sparkstudio.db.session import Database
from sparkstudio.notebooks.scheduler import ScheduleController

SIX = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
GRACE = timedelta(minutes=5)


def look(cron: str, due: datetime, now: datetime, policy: str = "SKIP") -> tuple[object, ...]:
    controller = ScheduleController(Database("sqlite://"), lambda: now, GRACE, print)
    schedule = NotebookSchedule(
        cron=cron, time_zone="UTC", next_due_at=due, missed_run_policy=policy
    )
    decision = controller.decide(schedule, now)
    assert decision is not None
    return decision.run_for, decision.missed, decision.next_due_at, decision.caught_up


def test_each_due_time_within_the_grace_runs_in_turn_and_older_ones_are_missed() -> None:
    now = SIX + timedelta(minutes=10, seconds=30)  # 06:05:30 and later are on time
    run_for, missed, next_due_at, caught_up = look("* * * * *", SIX, now)
    assert missed == [SIX + timedelta(minutes=m) for m in range(6)]  # 06:00 to 06:05
    assert (run_for, next_due_at, caught_up) == (
        SIX + timedelta(minutes=6),
        SIX + timedelta(minutes=7),  # due already: the scheduler looks again at once
        False,
    )
    later = look("* * * * *", SIX + timedelta(minutes=7), now)
    assert later == (SIX + timedelta(minutes=7), [], SIX + timedelta(minutes=8), False)


def test_when_none_is_within_the_grace_the_policy_decides() -> None:
    now = SIX + timedelta(days=2, hours=3)
    assert look("0 6 * * *", SIX, now, "SKIP") == (
        None,
        [SIX, SIX + timedelta(days=1), SIX + timedelta(days=2)],
        SIX + timedelta(days=3),
        False,
    )
    assert look("0 6 * * *", SIX, now, "CATCH_UP_ONE") == (
        SIX + timedelta(days=2),
        [SIX, SIX + timedelta(days=1)],
        SIX + timedelta(days=3),
        True,
    )
