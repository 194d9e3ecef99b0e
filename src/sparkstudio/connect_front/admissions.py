"""Which Spark Connect sessions the front has let through, and when it last asked.

A session is (subject, resource_id, session_id). Its first call needs an unexpired token
and the control plane's consent (``admit``); later calls pass on the signature alone, so
a notebook session outlives its short token, but consent is asked again every
``readmit_seconds`` so that a disabled user is cut off within that time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sparkstudio.connect_front.tokens import ConnectClaims, ensure_unexpired

logger = logging.getLogger(__name__)

SessionKey = tuple[str, str, str]  # (subject, resource_id, session_id)
Admit = Callable[[ConnectClaims], str | None]  # a refusal message, or None to let it in

# Longer than Spark's own idle session timeout (60 min by default): a session idle for
# longer is gone from Spark too, so it has to start afresh (with a fresh token).
IDLE_SESSION_SECONDS = 2 * 3600.0
SWEEP_EVERY_SECONDS = 60.0


class SessionRefused(Exception):
    """The control plane refused the session; the message is ``admit``'s, safe to show."""


class AdmissionFailed(Exception):
    """``admit`` itself failed: the session could not be checked (and is not let in)."""


@dataclass
class _Admitted:
    admitted_at: float
    last_call_at: float


class Admissions:
    """The sessions let in recently, asking ``admit`` once per new session even when
    its first calls arrive together."""

    def __init__(
        self,
        admit: Admit,
        clock: Callable[[], float],
        readmit_seconds: float,
        idle_session_seconds: float = IDLE_SESSION_SECONDS,
    ) -> None:
        self._admit = admit
        self._clock = clock
        self._readmit_seconds = readmit_seconds
        self._idle_session_seconds = idle_session_seconds
        self._lock = threading.Lock()
        self._sessions: dict[SessionKey, _Admitted] = {}
        self._gates: dict[SessionKey, threading.Lock] = {}
        self._forget_count = 0  # an admission that raced a forget() is not remembered
        self._last_sweep = clock()

    def check(self, claims: ConnectClaims, session_id: str) -> None:
        """Return if the session may make a call now; raise why not otherwise.

        Raises InvalidConnectToken (a new session with an expired token), SessionRefused
        or AdmissionFailed.
        """
        key = (claims.subject, claims.resource_id, session_id)
        if self._admitted_recently(key):
            return
        with self._gate(key):
            if self._admitted_recently(key):  # a concurrent first call got there first
                return
            now = self._clock()
            with self._lock:
                known = key in self._sessions
                forget_count = self._forget_count
            if not known:
                ensure_unexpired(claims, now=now)
            try:
                refusal = self._admit(claims)
            except Exception as error:
                logger.exception("admitting a Spark Connect session of %s failed", claims.subject)
                raise AdmissionFailed(
                    f"could not check access to {claims.resource_id}; try again later"
                ) from error
            with self._lock:
                if refusal is not None:
                    self._sessions.pop(key, None)
                    logger.info(
                        "refused a Spark Connect session of %s on %s: %s",
                        claims.subject,
                        claims.resource_id,
                        refusal,
                    )
                    raise SessionRefused(refusal)
                if forget_count == self._forget_count:
                    self._sessions[key] = _Admitted(admitted_at=now, last_call_at=now)
        if not known:
            logger.info(
                "admitted Spark Connect session %s of %s on %s",
                session_id,
                claims.subject,
                claims.resource_id,
            )

    def forget(self, subject: str) -> None:
        """The subject's sessions are checked again, as new ones, at their next call."""
        with self._lock:
            self._forget_count += 1
            for key in [key for key in self._sessions if key[0] == subject]:
                del self._sessions[key]

    def release(self, claims: ConnectClaims, session_id: str) -> None:
        """The session ended (released by its client): nothing to remember."""
        with self._lock:
            self._sessions.pop((claims.subject, claims.resource_id, session_id), None)

    def _admitted_recently(self, key: SessionKey) -> bool:
        now = self._clock()
        with self._lock:
            self._sweep(now)
            admitted = self._sessions.get(key)
            if admitted is None or now - admitted.admitted_at >= self._readmit_seconds:
                return False
            admitted.last_call_at = now
            return True

    def _gate(self, key: SessionKey) -> threading.Lock:
        with self._lock:
            return self._gates.setdefault(key, threading.Lock())

    def _sweep(self, now: float) -> None:
        # Called with the lock held; at most once a minute, so calls stay O(1).
        if now - self._last_sweep < SWEEP_EVERY_SECONDS:
            return
        self._last_sweep = now
        for key, admitted in list(self._sessions.items()):
            if now - admitted.last_call_at > self._idle_session_seconds:
                del self._sessions[key]
        for key, gate in list(self._gates.items()):
            if key not in self._sessions and not gate.locked():
                del self._gates[key]
