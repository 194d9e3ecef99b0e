"""The one loop that converges what is (status) to what is wanted (target).

A de-duplicating work queue of resource keys feeds a few worker threads. A key is
never handled by two threads at once; a key added while it is being handled is handled
again right after. A handler returns when it wants to look again (or None); a handler
that raises is retried with exponential backoff, so one broken resource cannot stall
the others. A failure's traceback is logged once; the same failure again is one line.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("sparkstudio.reconcile")

Handler = Callable[[str], float | None]


class WorkQueue:
    """Keys due at a time; each key at most once in the queue and once in flight."""

    def __init__(self, base_backoff: float = 0.5, max_backoff: float = 60.0) -> None:
        self._due: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._processing: set[str] = set()
        self._dirty: dict[str, float] = {}  # added while processing: due again when done
        self._failures: dict[str, int] = {}
        self._condition = threading.Condition()
        self._closed = False
        self.base_backoff, self.max_backoff = base_backoff, max_backoff

    def add(self, key: str, delay: float = 0.0) -> None:
        """Handle ``key`` after ``delay`` seconds (sooner if it is already due sooner)."""
        due = time.monotonic() + delay
        with self._condition:
            if key in self._processing:
                self._dirty[key] = min(due, self._dirty.get(key, due))
                return
            if key in self._due and self._due[key] <= due:
                return
            self._due[key] = due
            heapq.heappush(self._heap, (due, key))
            self._condition.notify()

    def get(self) -> str | None:
        """The next due key (blocking); None once the queue is closed."""
        with self._condition:
            while not self._closed:
                now = time.monotonic()
                while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
                    heapq.heappop(self._heap)  # superseded by a sooner add
                if self._heap and self._heap[0][0] <= now:
                    _, key = heapq.heappop(self._heap)
                    del self._due[key]
                    self._processing.add(key)
                    return key
                wait = self._heap[0][0] - now if self._heap else None
                self._condition.wait(wait)
            return None

    def done(self, key: str, *, again_in: float | None = None, failed: bool = False) -> None:
        with self._condition:
            self._processing.discard(key)
            if failed:
                count = self._failures.get(key, 0) + 1
                self._failures[key] = count
                again_in = min(self.base_backoff * 2 ** (count - 1), self.max_backoff)
            else:
                self._failures.pop(key, None)
            dirty = self._dirty.pop(key, None)
        if dirty is not None:
            self.add(key, max(dirty - time.monotonic(), 0.0))
        if again_in is not None:
            self.add(key, again_in)

    def failures(self, key: str) -> int:
        with self._condition:
            return self._failures.get(key, 0)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def __len__(self) -> int:
        with self._condition:
            return len(self._due)


class Reconciler:
    """Worker threads draining a :class:`WorkQueue` into a handler."""

    def __init__(self, name: str, handler: Handler, threads: int = 4) -> None:
        self.name, self.handler = name, handler
        self.queue = WorkQueue()
        self._last_failure: dict[str, str] = {}  # per key: the failure logged with its traceback
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(threads)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wake(self, key: str, delay: float = 0.0) -> None:
        self.queue.add(key, delay)

    def _work(self) -> None:
        while (key := self.queue.get()) is not None:
            try:
                again = self.handler(key)
            except Exception as error:
                self._log_failure(key, error)
                self.queue.done(key, failed=True)
            else:
                self._last_failure.pop(key, None)
                self.queue.done(key, again_in=again)

    def _log_failure(self, key: str, error: Exception) -> None:
        attempts = self.queue.failures(key) + 1
        what = f"{type(error).__name__}: {error}"
        if self._last_failure.get(key) == what:
            log.warning(
                "%s: reconciling %s failed again (attempt %d): %s", self.name, key, attempts, what
            )
            return
        self._last_failure[key] = what
        log.exception("%s: reconciling %s failed (attempt %d)", self.name, key, attempts)

    def stop(self, timeout: float = 30.0) -> None:
        self.queue.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(deadline - time.monotonic(), 0.0))
