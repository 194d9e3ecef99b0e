"""When a schedule is due: cron expressions in an IANA time zone, and missed runs.

Pure functions of the expression, the zone and the time, so that the scheduler can be
driven by any clock. Times in and out are aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

CRON_RULE = (
    "five fields (minute hour day-of-month month day-of-week, e.g. '0 6 * * 1-5') "
    "or one of @hourly, @daily, @weekly, @monthly, @yearly"
)
MACROS = frozenset(
    {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}
)
# Due times looked at in one go: a schedule due every minute and not looked at for longer
# than this reports "at least" this many missed runs.
MAX_DUE_TIMES = 1000


class MissedRunPolicy(StrEnum):
    """What to do with due times that passed while nobody could run them."""

    SKIP = "SKIP"
    CATCH_UP_ONE = "CATCH_UP_ONE"


def check_cron(expression: str) -> str:
    """The expression, if it is a standard cron expression; ValueError saying why not."""
    text = " ".join(expression.split())
    fields = text.split(" ")
    if not (text in MACROS or len(fields) == 5) or not croniter.is_valid(text):
        raise ValueError(f"not a cron expression: {expression!r}; use {CRON_RULE}")
    try:
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except ValueError as error:  # a day that never comes, e.g. '0 0 31 2 *'
        raise ValueError(f"{expression!r} is never due (no such day)") from error
    return text


def check_time_zone(name: str) -> str:
    """The name, if it is an IANA time zone this host knows; ValueError otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"not an IANA time zone: {name!r} (e.g. 'UTC', 'Europe/Paris')") from error
    return name


def next_due(expression: str, time_zone: str, after: datetime) -> datetime:
    """The first due time strictly after ``after``.

    Times are read on the zone's wall clock. A fixed-hour expression runs once when the
    clock goes back (as cron does): the repeated wall time is not due again.
    """
    zone = ZoneInfo(time_zone)
    schedule = croniter(expression, after.astimezone(zone))
    fixed_hour = schedule.expanded[1] != ["*"]
    while True:
        candidate: datetime = schedule.get_next(datetime)
        if not (fixed_hour and candidate.fold == 1):
            return candidate.astimezone(UTC)


def due_times(expression: str, time_zone: str, first: datetime, now: datetime) -> list[datetime]:
    """Due times from ``first`` (itself due) up to ``now``, at most :data:`MAX_DUE_TIMES`."""
    times: list[datetime] = []
    due = first
    while due <= now and len(times) < MAX_DUE_TIMES:
        times.append(due)
        due = next_due(expression, time_zone, due)
    return times


@dataclass(frozen=True)
class Decision:
    """What one look at a due schedule does."""

    run_for: datetime | None  # the due time to start a run for, if any
    missed: list[datetime]  # due times passed over (not run)
    next_due_at: datetime
    caught_up: bool = False  # run_for is older than the grace period (CATCH_UP_ONE)


def decide(
    expression: str,
    time_zone: str,
    next_due_at: datetime,
    now: datetime,
    policy: MissedRunPolicy,
    grace: timedelta,
) -> Decision | None:
    """None while the schedule is not due; otherwise which run to start and what was missed.

    A due time at most ``grace`` old is run whatever the policy (a look a little late, a
    restart of the control plane). Older ones were missed: SKIP runs none of them,
    CATCH_UP_ONE runs the latest. Only the latest due time is ever run: earlier ones it
    passes over are missed.
    """
    if next_due_at > now:
        return None
    times = due_times(expression, time_zone, next_due_at, now)
    latest = times[-1]
    following = next_due(expression, time_zone, now)
    on_time = now - latest <= grace
    if on_time or policy == MissedRunPolicy.CATCH_UP_ONE:
        return Decision(latest, times[:-1], following, caught_up=not on_time)
    return Decision(run_for=None, missed=times, next_due_at=following)
