"""Sizing functions the platform installs, callable from templates as ``{Fn: {...}}``.

A plug-in is a Python callable published under the entry-point group
``sparkstudio.template_functions``; the entry-point name is the name templates use::

    [project.entry-points."sparkstudio.template_functions"]
    emr_size = "mycompany.sizing:emr_size"

It is called with keyword arguments (the template's ``args``, each a string, number or
boolean) and returns a number. To refuse its inputs it raises ``ValueError`` with a
message that is safe to show; any other exception is logged and reported as a failure.
Templates cannot define functions: only installed plug-ins exist, and a plug-in may not
take the name of a built-in function.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points

from sparkstudio.templates.functions import BUILTIN_FUNCTIONS, TemplateFunction

log = logging.getLogger("sparkstudio.templates")

ENTRY_POINT_GROUP = "sparkstudio.template_functions"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_RESERVED = frozenset(name.lower() for name in BUILTIN_FUNCTIONS)


class FunctionRegistry:
    """Named template functions; names are unique and never shadow a built-in."""

    def __init__(self, functions: Mapping[str, TemplateFunction] | None = None) -> None:
        self._functions: dict[str, TemplateFunction] = {}
        for name, function in (functions or {}).items():
            self.register(name, function)

    def register(self, name: str, function: TemplateFunction) -> None:
        """Add ``function`` as ``name``; ``ValueError`` if the name is bad or taken."""
        if not NAME_PATTERN.match(name):
            raise ValueError(
                f"template function name {name!r}: 1 to 64 letters, digits or '_', "
                "starting with a letter"
            )
        if name.lower() in _RESERVED:
            raise ValueError(f"template function name {name!r} is a built-in function")
        if name in self._functions:
            raise ValueError(f"template function {name!r} is already registered")
        if not callable(function):
            raise ValueError(f"template function {name!r} is not callable")
        self._functions[name] = function

    def get(self, name: str) -> TemplateFunction | None:
        return self._functions.get(name)

    def names(self) -> frozenset[str]:
        return frozenset(self._functions)


def discover() -> Iterable[EntryPoint]:
    """The installed entry points of the group (tests replace this)."""
    return entry_points(group=ENTRY_POINT_GROUP)


def load_registry() -> FunctionRegistry:
    """A registry of every installed plug-in; broken or clashing ones are logged and left out."""
    registry = FunctionRegistry()
    for entry_point in discover():
        try:
            function = entry_point.load()
            registry.register(entry_point.name, function)
        except Exception as error:
            log.error(
                "template function %r from %r refused: %s",
                entry_point.name,
                entry_point.value,
                error,
            )
    return registry


@functools.cache
def default_registry() -> FunctionRegistry:
    """The registry loaded once per process from the installed entry points."""
    return load_registry()
