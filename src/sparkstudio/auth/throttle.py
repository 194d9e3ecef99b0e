"""Slow down password guessing: failed logins are counted per user name and per address.

After ``failures_before_delay`` failures for a name (or ``failures_per_address_before_delay``
from one address) further attempts are refused for a delay, before any password is
checked: a right password does not help during the delay, and the answer takes the same
time whatever the password. Each further failure doubles the delay, up to ``max_delay``.
A success forgets the name's failures; the address keeps its count, so that one working
account cannot be used to reset the count of guesses at others. A name or address that
stays quiet for ``max_delay`` after its delay ended starts afresh.

Every attempt is counted as a failure when it is admitted and taken back when it
succeeds, so parallel guesses cannot slip past the limit while their passwords are being
checked.

The counts live in this process: each control-plane process keeps its own.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sparkstudio.errors import TooManyRequests
from sparkstudio.settings import Settings

# One IPv6 host often holds a whole /64: counting single addresses would let it rotate.
_IPV6_PREFIX = 64
# Beyond this the delay is at its cap anyway; keeps 2**n a small number.
_MAX_DOUBLINGS = 32


@dataclass
class _Failures:
    count: int
    locked_until: float  # 0: not locked
    quiet_since: float  # the last failure, or the end of the delay it started


class _Counter:
    """Failures per key (a user name or an address) against one threshold."""

    def __init__(self, threshold: int, first_delay: float, max_delay: float, capacity: int) -> None:
        self.threshold = threshold
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.capacity = capacity
        self.entries: dict[str, _Failures] = {}

    def current(self, key: str, now: float) -> _Failures | None:
        entry = self.entries.get(key)
        if entry is not None and now >= entry.quiet_since + self.max_delay:
            del self.entries[key]
            return None
        return entry

    def locked_for(self, key: str, now: float) -> float:
        entry = self.current(key, now)
        return max(0.0, entry.locked_until - now) if entry is not None else 0.0

    def add(self, key: str, now: float) -> None:
        entry = self.current(key, now)
        if entry is None:
            self._make_room(now)
            entry = self.entries[key] = _Failures(count=0, locked_until=0.0, quiet_since=now)
        entry.count += 1
        if entry.count >= self.threshold:
            entry.locked_until = now + self.delay(entry.count)
        entry.quiet_since = max(now, entry.locked_until)

    def take_back(self, key: str) -> None:
        entry = self.entries.get(key)
        if entry is None:
            return
        entry.count -= 1
        if entry.count <= 0:
            del self.entries[key]
        elif entry.count < self.threshold:
            entry.locked_until = 0.0

    def forget(self, key: str) -> None:
        self.entries.pop(key, None)

    def delay(self, count: int) -> float:
        doublings = min(count - self.threshold, _MAX_DOUBLINGS)
        return float(min(self.max_delay, self.first_delay * 2**doublings))

    def _make_room(self, now: float) -> None:
        # Bounded memory however many names or addresses are tried. Makes room for a tenth
        # more at once, so that a flood of new keys does not scan the table on each one.
        if len(self.entries) < self.capacity:
            return
        for key in list(self.entries):
            self.current(key, now)
        while len(self.entries) > self.capacity * 9 // 10:
            del self.entries[next(iter(self.entries))]  # the oldest


@dataclass(frozen=True)
class LoginAttempt:
    user_key: str
    address_key: str


def address_key(host: str) -> str:
    """The key an address is counted under: the address, or its /64 for IPv6."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, _IPV6_PREFIX), strict=False))
    return str(address)


class LoginThrottle:
    def __init__(
        self,
        *,
        failures_before_delay: int,
        failures_per_address_before_delay: int,
        first_delay: float,
        max_delay: float,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = 100_000,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._users = _Counter(failures_before_delay, first_delay, max_delay, capacity)
        self._addresses = _Counter(
            failures_per_address_before_delay, first_delay, max_delay, capacity
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(
            failures_before_delay=settings.login_failures_before_delay,
            failures_per_address_before_delay=settings.login_failures_per_address_before_delay,
            first_delay=settings.login_delay_seconds,
            max_delay=settings.login_delay_max_seconds,
        )

    def admit(self, username: str, host: str) -> LoginAttempt:
        """Count a login attempt as failed until :meth:`succeeded` says otherwise.

        Raises :class:`TooManyRequests` (nothing counted) while the name or the address
        is in its delay.
        """
        attempt = LoginAttempt(username, address_key(host))
        with self._lock:
            now = self._clock()
            wait = max(
                self._users.locked_for(attempt.user_key, now),
                self._addresses.locked_for(attempt.address_key, now),
            )
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                raise TooManyRequests(
                    f"too many failed logins for this user or from this address; "
                    f"try again in {seconds} s",
                    retry_after=seconds,
                    reason="TooManyLogins",
                )
            self._users.add(attempt.user_key, now)
            self._addresses.add(attempt.address_key, now)
        return attempt

    def succeeded(self, attempt: LoginAttempt) -> None:
        with self._lock:
            self._users.forget(attempt.user_key)
            self._addresses.take_back(attempt.address_key)
