"""``spark`` in a PySpark kernel: a Spark Connect session on the attached cluster.

The session is opened as the user who started the kernel (their own session on the
cluster: temp views and settings are theirs). Before each cell the kernel looks at the
attachment; when the workspace was switched to another cluster the session is
re-created there, and when it was detached, Spark cells fail with a message that says
how to attach one.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import threading
import warnings
from typing import TYPE_CHECKING, Any

from sparkstudio.jupyter.agent import connect_token
from sparkstudio.jupyter.attachment import USER_ENV, Attachment, read_attachment

if TYPE_CHECKING:
    from pyspark.sql.connect.session import SparkSession

# PySpark warns on import that it does not fully support the installed pandas; the
# kernel's users cannot act on it, and it showed as an error under their first cell.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")


class NotAttachedError(RuntimeError):
    """Spark was used in a workspace that has no cluster attached."""


def kernel_user() -> str:
    return os.environ.get(USER_ENV) or getpass.getuser()


class SparkHolder:
    """Holds the kernel's session and follows the workspace's attachment."""

    def __init__(self, user: str | None = None) -> None:
        self.user = user or kernel_user()
        self._lock = threading.RLock()
        self._session: SparkSession | None = None
        self._attachment = read_attachment()

    @property
    def attachment(self) -> Attachment:
        return self._attachment

    def warm_up(self) -> None:
        """Open the session in the background so that the first cell does not wait."""
        if self._attachment.attached:
            threading.Thread(target=self._warm, name="spark-warm-up", daemon=True).start()

    def _warm(self) -> None:
        with contextlib.suppress(Exception):  # the first cell reports the error itself
            # The Connect server sets a session up at its first request, not at create():
            # a tiny query pays for that (and the client's first round trip) now.
            self.session().sql("SELECT 1").collect()

    def follow(self) -> str | None:
        """Re-read the attachment; a message to show when it changed, else None."""
        with self._lock:
            current = read_attachment()
            if current.generation == self._attachment.generation:
                return None
            previous, self._attachment = self._attachment, current
            old, self._session = self._session, None
            if old is not None:
                _stop_quietly(old)
            if not current.attached:
                why = current.reason or "no cluster"
                return f"Detached from cluster {previous.cluster_name or '?'}: {why}."
            cluster = f"cluster {current.cluster_name} ({current.cluster_id})"
            if not previous.attached:
                return f"Attached to {cluster}."
            if old is None:
                return f"Switched to {cluster}."
            self._session = self._open(current)
            return f"Switched to {cluster}: the Spark session was re-created there."

    def session(self) -> SparkSession:
        with self._lock:
            if not self._attachment.attached:
                raise NotAttachedError(self._attachment.detached_message())
            if self._session is None:
                self._session = self._open(self._attachment)
            return self._session

    def _open(self, attachment: Attachment) -> SparkSession:
        from pyspark.sql.connect.session import SparkSession

        token = attachment.token or session_token(attachment, self.user)
        # create(), not getOrCreate(): a switch must not get the old cluster's session back.
        return SparkSession.builder.remote(attachment.url_for(self.user, token)).create()

    def stop(self) -> None:
        with self._lock:
            old, self._session = self._session, None
        if old is not None:
            _stop_quietly(old)


def session_token(attachment: Attachment, user: str) -> str:
    """A token of ``user`` for the attached cluster, from the control plane."""
    assert attachment.cluster_id is not None
    return connect_token(attachment.cluster_id, user)


def _stop_quietly(session: SparkSession) -> None:
    """Release the session without waiting: its cluster may be gone already."""

    def stop() -> None:
        with contextlib.suppress(Exception):  # nothing to release on a cluster that is gone
            session.stop()

    threading.Thread(target=stop, name="spark-release", daemon=True).start()


class LazySpark:
    """The ``spark`` name in a notebook: the current session, opened on first use."""

    def __init__(self, holder: SparkHolder) -> None:
        object.__setattr__(self, "_holder", holder)

    def __getattr__(self, name: str) -> Any:
        holder: SparkHolder = object.__getattribute__(self, "_holder")
        return getattr(holder.session(), name)

    def __repr__(self) -> str:
        holder: SparkHolder = object.__getattribute__(self, "_holder")
        return f"<Spark Connect session: {holder.attachment.describe()}, user {holder.user}>"
