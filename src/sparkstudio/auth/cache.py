"""A short-lived cache of who a token is and what they hold in each studio.

Authentication and the studio grants are three queries on every request; the answers
only change through write requests, so the cache is dropped after every write this
process serves (a generation counter bumped after commit), and entries also expire
after ``ttl`` seconds to bound staleness across several control-plane processes.

A lookup that started before an invalidation never stores its (possibly stale) answer.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Generic, TypeVar

from sparkstudio.auth.identity import Principal
from sparkstudio.auth.policy import Grant

V = TypeVar("V")


class _Store(Generic[V]):
    def __init__(self, max_entries: int) -> None:
        self.entries: dict[Hashable, tuple[float, V]] = {}
        self.max_entries = max_entries


class AuthCache:
    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._generation = 0
        self._principals: _Store[Principal] = _Store(max_entries)
        self._grants: _Store[list[Grant]] = _Store(max_entries)

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._principals.entries.clear()
            self._grants.entries.clear()

    def principal(
        self, presented: str, load: Callable[[], tuple[Principal, datetime]]
    ) -> Principal:
        # Keyed by a digest of the whole presented token: a hit implies the same secret.
        key = hashlib.sha256(presented.encode()).digest()
        return self._get(self._principals, key, load)

    def grants(
        self, principal: Principal, studio_id: str, load: Callable[[], list[Grant]]
    ) -> list[Grant]:
        key = (principal.user_id, principal.group_ids, studio_id)
        return self._get(self._grants, key, lambda: (load(), None))

    def _get(
        self,
        store: _Store[V],
        key: Hashable,
        load: Callable[[], tuple[V, datetime | None]],
    ) -> V:
        now = time.monotonic()
        with self._lock:
            hit = store.entries.get(key)
            generation = self._generation
        if hit is not None and hit[0] > now:
            return hit[1]
        value, hard_expiry = load()
        if self.ttl <= 0:
            return value
        expires = now + self.ttl
        if hard_expiry is not None:
            expires = min(expires, now + (hard_expiry.timestamp() - time.time()))
        with self._lock:
            if generation == self._generation:
                if len(store.entries) >= store.max_entries:
                    store.entries.clear()
                store.entries[key] = (expires, value)
        return value
