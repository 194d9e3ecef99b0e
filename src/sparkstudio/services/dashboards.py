"""A job run's dashboard as a presigned address (as EMR's GetDashboardForJobRun gives one):
whoever holds the address sees the run's Spark UI through the control plane, for a short
while, and nothing else: no Spark UI is reachable but through the control plane.

The address names the run and when it expires, signed with a key derived from the home's
key: ``/dashboards/d1.<run id>.<expiry>.<signature>/``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

from sparkstudio import secrets_box
from sparkstudio.settings import Settings

PREFIX = "/dashboards"
LIFETIME_SECONDS = 3600  # EMR's presigned dashboard addresses last an hour
_TOKEN = re.compile(
    r"^d1\.(?P<run>[a-z]{1,4}-[0-9a-z]{16})\.(?P<expires>\d{1,12})\.(?P<sig>[\w-]{43})$"
)


class BadDashboard(Exception):
    """The address was not made here, or it expired; the message is safe to show."""


def _signature(settings: Settings, run_id: str, expires: int) -> str:
    key = secrets_box.derived_key(settings.home, "job-run-dashboards")
    digest = hmac.new(key, f"d1.{run_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(settings: Settings, run_id: str, *, now: float | None = None) -> str:
    expires = int((now or time.time()) + LIFETIME_SECONDS)
    return f"d1.{run_id}.{expires}.{_signature(settings, run_id, expires)}"


def verify(settings: Settings, token: str, *, now: float | None = None) -> str:
    """The run ``token`` shows, if it was made here and has not expired."""
    match = _TOKEN.match(token)
    if match is None:
        raise BadDashboard("this is not a dashboard address")
    run_id, expires = match["run"], int(match["expires"])
    if not hmac.compare_digest(match["sig"], _signature(settings, run_id, expires)):
        raise BadDashboard("this is not a dashboard address")
    if (now or time.time()) > expires:
        raise BadDashboard("this dashboard address has expired: ask for a new one")
    return run_id


def address(base_url: str, token: str) -> str:
    """The dashboard's full address under ``base_url`` (the control plane's)."""
    return f"{base_url.rstrip('/')}{PREFIX}/{token}/"
