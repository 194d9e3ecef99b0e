"""The reconciler's work queue: de-duplication, one key in flight, backoff."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from sparkstudio.reconcile import Reconciler, WorkQueue


def test_a_key_added_many_times_is_handled_once() -> None:
    queue = WorkQueue()
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    assert len(queue) == 2
    assert {queue.get(), queue.get()} == {"a", "b"}
    assert len(queue) == 0


def test_the_sooner_of_two_adds_wins() -> None:
    queue = WorkQueue()
    queue.add("a", delay=60)
    queue.add("a", delay=0)
    started = time.monotonic()
    assert queue.get() == "a"
    assert time.monotonic() - started < 1
    assert len(queue) == 0  # the later entry was superseded, not queued twice


def test_a_key_added_while_in_flight_is_handled_again_after_done() -> None:
    queue = WorkQueue()
    queue.add("a")
    assert queue.get() == "a"
    queue.add("a")  # e.g. the API changed the target while the reconciler worked
    assert len(queue) == 0  # not handed to a second worker meanwhile
    queue.done("a")
    assert queue.get() == "a"


def test_failures_back_off_exponentially_up_to_a_cap_and_success_resets() -> None:
    queue = WorkQueue(base_backoff=0.05, max_backoff=0.2)
    queue.add("a")
    assert queue.get() == "a"
    delays = []
    for _ in range(4):
        before = time.monotonic()
        queue.done("a", failed=True)
        assert queue.get() == "a"
        delays.append(time.monotonic() - before)
    assert queue.failures("a") == 4
    expected = [0.05, 0.1, 0.2, 0.2]  # doubling, capped
    for measured, wanted in zip(delays, expected, strict=True):
        assert wanted * 0.9 <= measured < wanted + 0.2
    queue.done("a")
    assert queue.failures("a") == 0


def test_the_reconciler_never_runs_one_key_on_two_threads() -> None:
    running: set[str] = set()
    overlaps: list[str] = []
    handled: list[str] = []
    lock = threading.Lock()

    def handler(key: str) -> float | None:
        with lock:
            if key in running:
                overlaps.append(key)
            running.add(key)
        time.sleep(0.02)
        with lock:
            running.discard(key)
            handled.append(key)
        return None

    reconciler = Reconciler("test", handler, threads=4)
    reconciler.start()
    try:
        for _ in range(20):
            for key in ("a", "b", "c"):
                reconciler.wake(key)
            time.sleep(0.005)
        deadline = time.monotonic() + 5
        while len(reconciler.queue) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)
    finally:
        reconciler.stop()
    assert overlaps == []
    assert set(handled) == {"a", "b", "c"}
    assert len(handled) < 60  # adds of a queued key were merged


def test_a_failing_handler_is_retried_and_does_not_stop_the_others() -> None:
    calls: dict[str, int] = {"bad": 0, "good": 0}

    def handler(key: str) -> float | None:
        calls[key] += 1
        if key == "bad":
            raise RuntimeError("broken resource")
        return None

    reconciler = Reconciler("test", handler, threads=1)
    reconciler.queue.base_backoff = 0.01
    reconciler.start()
    try:
        reconciler.wake("bad")
        reconciler.wake("good")
        deadline = time.monotonic() + 3
        while calls["bad"] < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        reconciler.stop()
    assert calls["good"] == 1
    assert calls["bad"] >= 3


def test_a_handler_failing_the_same_way_logs_its_traceback_once_then_one_line_per_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    def handler(key: str) -> float | None:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise ValueError("another way")  # a new failure shows its traceback again
        raise RuntimeError("the store does not answer")

    reconciler = Reconciler("test", handler, threads=1)
    reconciler.queue.base_backoff = 0.001
    with caplog.at_level(logging.WARNING, logger="sparkstudio.reconcile"):
        reconciler.start()
        try:
            reconciler.wake("stuck")
            deadline = time.monotonic() + 3
            while calls < 6 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            reconciler.stop()
    records = [r for r in caplog.records if "stuck" in r.getMessage()][:6]
    assert [r.exc_info is not None for r in records] == [True, False, False, False, True, True]
    assert "the store does not answer" in records[1].getMessage()
    assert "attempt 2" in records[1].getMessage()
