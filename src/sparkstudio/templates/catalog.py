"""The templates shipped with sparkstudio (``templates/builtin/*.yaml``)."""

from __future__ import annotations

from importlib.resources import files

from sparkstudio.errors import NotFound
from sparkstudio.templates.engine import load_template
from sparkstudio.templates.model import Template
from sparkstudio.templates.plugins import FunctionRegistry

_PACKAGE = "sparkstudio.templates"
_FOLDER = "builtin"
_SUFFIX = ".yaml"


def builtin_names() -> list[str]:
    """Names of the shipped templates, sorted."""
    folder = files(_PACKAGE).joinpath(_FOLDER)
    return sorted(
        entry.name.removesuffix(_SUFFIX)
        for entry in folder.iterdir()
        if entry.is_file() and entry.name.endswith(_SUFFIX)
    )


def builtin_text(name: str) -> str:
    """The YAML text of a shipped template."""
    if name not in builtin_names():
        raise NotFound(f"no built-in template {name!r}; built-in: {', '.join(builtin_names())}")
    return files(_PACKAGE).joinpath(_FOLDER, name + _SUFFIX).read_text(encoding="utf-8")


def load_builtin(name: str, *, registry: FunctionRegistry | None = None) -> Template:
    """A shipped template, parsed and checked like a published one."""
    return load_template(builtin_text(name), registry=registry)
