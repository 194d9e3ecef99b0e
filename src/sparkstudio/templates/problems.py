"""Collect validation problems as (field, message) pairs and raise them as one ``Invalid``."""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from sparkstudio.errors import Invalid
from sparkstudio.schemas.common import PATTERN_RULES

_SHOWN = 5


def show(value: object, limit: int = 60) -> str:
    """A short, safe rendering of a value for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def join_path(prefix: str, *parts: object) -> str:
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path = f"{path}[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def invalid(problems: Sequence[tuple[str, str]]) -> Invalid:
    """One ``Invalid`` whose ``fields`` lists every problem (the message shows the first few)."""
    shown = "; ".join(f"{field}: {message}" for field, message in problems[:_SHOWN])
    if len(problems) > _SHOWN:
        shown += f"; and {len(problems) - _SHOWN} more"
    return Invalid(
        shown or "invalid",
        fields=[{"field": field, "message": message} for field, message in problems],
    )


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _allowed_keys(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    """The field names of the model found by walking ``location`` from ``model``."""
    current: Any = model
    for part in location:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def explain(error: Any, model: type[BaseModel], patterns: Mapping[str, str] | None = None) -> str:
    """Word one pydantic error as 'what is allowed'."""
    kind = error.get("type")
    context = error.get("ctx") or {}
    rules = {**PATTERN_RULES, **(patterns or {})}
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, tuple(error["loc"][:-1]))
        return "unknown key" + (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
    if kind == "literal_error":
        return f"must be one of {context.get('expected')} (got {show(error.get('input'))})"
    if context.get("pattern") in rules:
        return f"must be {rules[context['pattern']]} (got {show(error.get('input'))})"
    if kind == "value_error" and "error" in context:
        return str(context["error"])
    return f"{error.get('msg', 'invalid')} (got {show(error.get('input'))})"


def from_validation_error(
    error: ValidationError,
    model: type[BaseModel],
    prefix: str = "",
    patterns: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """(path, message) of each error; a bad mapping key is reported at the key's path."""
    return [
        (
            join_path(prefix, *(part for part in e["loc"] if part != "[key]")) or "template",
            explain(e, model, patterns),
        )
        for e in error.errors()
    ]
