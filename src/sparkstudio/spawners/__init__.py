"""Workspace spawners, plug-ins registered under the entry-point group ``sparkstudio.spawners``."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from sparkstudio.errors import Invalid
from sparkstudio.spawners.base import Spawner

ENTRY_POINT_GROUP = "sparkstudio.spawners"


def spawner_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


@cache
def load_spawner(name: str) -> Spawner:
    """The spawner registered as ``name`` (one instance per process)."""
    for entry_point in entry_points(group=ENTRY_POINT_GROUP, name=name):
        spawner_class = entry_point.load()
        spawner: Spawner = spawner_class()
        return spawner
    raise Invalid.field("spawner", f"must be one of: {', '.join(spawner_names())} (got {name!r})")
