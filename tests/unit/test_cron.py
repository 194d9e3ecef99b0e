"""When a notebook schedule is due: cron in a time zone, daylight saving, missed runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sparkstudio.notebooks.cron import (
    MissedRunPolicy,
    check_cron,
    check_time_zone,
    decide,
    next_due,
)

GRACE = timedelta(minutes=5)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    "expression", ["0 6 * * 1-5", "*/15 * * * *", "@daily", "30  2 1 * *", "0 0 1 1 *"]
)
def test_standard_expressions_are_accepted(expression: str) -> None:
    assert check_cron(expression) == " ".join(expression.split())


@pytest.mark.parametrize(
    "expression", ["", "0 6 * *", "0 0 6 * * *", "61 * * * *", "H * * * *", "every day", "@often"]
)
def test_other_expressions_are_refused_saying_what_is_allowed(expression: str) -> None:
    with pytest.raises(ValueError, match="five fields"):
        check_cron(expression)


def test_an_expression_that_is_never_due_is_refused() -> None:
    with pytest.raises(ValueError, match="never due"):
        check_cron("0 0 31 2 *")  # 31 February
    assert check_cron("0 0 29 2 *") == "0 0 29 2 *"  # leap years


def test_time_zones_are_iana_names() -> None:
    assert check_time_zone("Europe/Paris") == "Europe/Paris"
    for bad in ("Mars/Olympus", "../etc/passwd", "CEST+2"):
        with pytest.raises(ValueError, match="IANA time zone"):
            check_time_zone(bad)


def test_due_times_follow_the_wall_clock_of_the_zone() -> None:
    # 06:00 in Paris is 05:00 UTC in winter and 04:00 UTC in summer.
    assert next_due("0 6 * * *", "Europe/Paris", utc(2026, 1, 10, 12)) == utc(2026, 1, 11, 5)
    assert next_due("0 6 * * *", "Europe/Paris", utc(2026, 7, 10, 12)) == utc(2026, 7, 11, 4)
    assert next_due("0 6 * * *", "UTC", utc(2026, 7, 10, 6)) == utc(2026, 7, 11, 6)


def test_a_fixed_time_runs_once_when_the_clock_goes_back() -> None:
    # 2026-10-25 02:30 happens twice in Paris (00:30 and 01:30 UTC): cron runs it once.
    first = next_due("30 2 * * *", "Europe/Paris", utc(2026, 10, 24, 12))
    assert first == utc(2026, 10, 25, 0, 30)
    assert next_due("30 2 * * *", "Europe/Paris", first) == utc(2026, 10, 26, 1, 30)


def test_an_interval_runs_through_the_repeated_hour() -> None:
    times = [utc(2026, 10, 24, 23, 30)]
    for _ in range(4):
        times.append(next_due("*/30 * * * *", "Europe/Paris", times[-1]))
    assert times[1:] == [
        utc(2026, 10, 25, 0, 0),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 1, 0),
        utc(2026, 10, 25, 1, 30),
    ]


def test_a_time_skipped_when_the_clock_goes_forward_runs_at_the_next_minute() -> None:
    # 2026-03-29 02:30 does not exist in Paris; the run happens at 03:00 (01:00 UTC).
    assert next_due("30 2 * * *", "Europe/Paris", utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1)


def test_not_due_yet_decides_nothing() -> None:
    due = utc(2026, 5, 1, 6)
    policy = MissedRunPolicy.SKIP
    assert decide("0 6 * * *", "UTC", due, due - timedelta(seconds=1), policy, GRACE) is None


def test_a_due_time_within_the_grace_period_runs_whatever_the_policy() -> None:
    due = utc(2026, 5, 1, 6)
    for policy in MissedRunPolicy:
        decision = decide("0 6 * * *", "UTC", due, due + timedelta(minutes=4), policy, GRACE)
        assert decision is not None
        assert decision.run_for == due and decision.missed == []
        assert decision.next_due_at == utc(2026, 5, 2, 6)


def test_a_late_due_time_is_skipped_or_caught_up_by_policy() -> None:
    due = utc(2026, 5, 1, 6)
    now = due + timedelta(hours=3)
    skipped = decide("0 6 * * *", "UTC", due, now, MissedRunPolicy.SKIP, GRACE)
    assert skipped is not None
    assert skipped.run_for is None and skipped.missed == [due]
    caught_up = decide("0 6 * * *", "UTC", due, now, MissedRunPolicy.CATCH_UP_ONE, GRACE)
    assert caught_up is not None
    assert caught_up.run_for == due and caught_up.missed == []
    assert skipped.next_due_at == caught_up.next_due_at == utc(2026, 5, 2, 6)


def test_after_a_long_outage_only_the_latest_due_time_can_run() -> None:
    first = utc(2026, 5, 1, 6)
    now = utc(2026, 5, 4, 7)  # due on the 1st, 2nd, 3rd and 4th; the 4th is an hour late
    caught_up = decide("0 6 * * *", "UTC", first, now, MissedRunPolicy.CATCH_UP_ONE, GRACE)
    assert caught_up is not None
    assert caught_up.run_for == utc(2026, 5, 4, 6)
    assert caught_up.missed == [utc(2026, 5, 1, 6), utc(2026, 5, 2, 6), utc(2026, 5, 3, 6)]
    skipped = decide("0 6 * * *", "UTC", first, now, MissedRunPolicy.SKIP, GRACE)
    assert skipped is not None
    assert skipped.run_for is None and len(skipped.missed) == 4
    # A restart a minute after the 4th was due runs it and passes over the others.
    on_time = decide("0 6 * * *", "UTC", first, utc(2026, 5, 4, 6, 1), MissedRunPolicy.SKIP, GRACE)
    assert on_time is not None
    assert on_time.run_for == utc(2026, 5, 4, 6) and len(on_time.missed) == 3
