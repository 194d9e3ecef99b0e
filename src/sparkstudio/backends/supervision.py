"""What a controller of backend-run compute (clusters, applications) decides between looks.

Both kinds remember the same things of a resource in this process, tell activity from
the driver's job counter the same way, and size their workers by the same rule; only
the words of their reasons differ.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from sparkstudio.backends.base import Observation

BACKLOG_POLLS = 2  # a backlog seen this many looks in a row adds workers


@dataclass
class LookMemory:
    """What this process remembers of a resource between looks (not worth storing)."""

    adopted: bool = False  # launched or re-adopted by this process
    jobs_seen: int | None = None
    backlog_polls: int = 0
    idle_since: dict[str, float] = field(default_factory=dict)

    def saw_activity(self, observation: Observation) -> bool:
        """Busy now, or a job ran (and ended) since the last look."""
        activity = observation.activity
        if activity is None:
            return False
        ran = self.jobs_seen is not None and activity.all_jobs != self.jobs_seen
        self.jobs_seen = activity.all_jobs
        return activity.busy or ran


@dataclass(frozen=True)
class ScalingWords:
    """How a kind of resource words its scaling reasons."""

    below: str  # "below the minimum of {n} workers"
    above: str
    backlog: str  # "{n} task(s) waiting for a free core"
    idle: str  # "worker(s) without executors for {s} s"


@dataclass(frozen=True)
class ScalingDecision:
    desired: int
    why: str
    long_idle: list[str]


def decide_workers(
    memory: LookMemory,
    observation: Observation,
    *,
    current: int,
    low: int,
    high: int,
    cores_per_worker: int,
    idle_seconds: float,
    words: ScalingWords,
) -> ScalingDecision:
    """Keep the workers within [low, high]: grow on a lasting backlog, shrink when idle.

    One decision per look; ``desired == current`` means nothing to do for the bounds.
    """
    activity = observation.activity
    pending = activity.pending_tasks if activity else 0
    running = activity.running_tasks if activity else 0
    memory.backlog_polls = memory.backlog_polls + 1 if pending > 0 else 0
    clock = time.monotonic()
    idle_now = set(observation.idle_workers)
    memory.idle_since = {name: memory.idle_since.get(name, clock) for name in idle_now}
    long_idle = [name for name, since in memory.idle_since.items() if clock - since >= idle_seconds]
    desired, why = current, ""
    if current < low:
        desired, why = low, words.below.format(n=low)
    elif current > high:
        desired, why = high, words.above.format(n=high)
    elif memory.backlog_polls >= BACKLOG_POLLS and current < high:
        # Size to the whole demand (running + waiting tasks), not current + backlog:
        # workers started a moment ago and not yet running executors already count.
        wanted = math.ceil((running + pending) / max(cores_per_worker, 1))
        if wanted > current:
            desired, why = min(high, wanted), words.backlog.format(n=pending)
    elif pending == 0 and long_idle and current > low:
        desired = max(low, current - len(long_idle))
        why = words.idle.format(s=idle_seconds)
    return ScalingDecision(desired, why, long_idle)
