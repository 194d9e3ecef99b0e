"""Compute backends, plug-ins registered under the entry-point group ``sparkstudio.backends``."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from sparkstudio.backends.base import Backend
from sparkstudio.errors import Invalid

ENTRY_POINT_GROUP = "sparkstudio.backends"


def backend_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


@cache
def load_backend(name: str) -> Backend:
    """The backend registered as ``name`` (one instance per process)."""
    for entry_point in entry_points(group=ENTRY_POINT_GROUP, name=name):
        backend_class = entry_point.load()
        backend: Backend = backend_class()
        return backend
    raise Invalid.field("backend", f"must be one of: {', '.join(backend_names())} (got {name!r})")
