"""Resolve a template and a user's parameter values into a :class:`ClusterSpec`."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from sparkstudio.errors import Invalid
from sparkstudio.schemas.common import TEXT_PATTERN
from sparkstudio.templates.functions import (
    Scalar,
    TemplateFunction,
    Value,
    as_boolean,
    key_text,
    normal,
)
from sparkstudio.templates.model import (
    MAX_STRING_VALUE,
    Parameter,
    Template,
    compile_template,
    type_problem,
)
from sparkstudio.templates.plugins import FunctionRegistry, default_registry
from sparkstudio.templates.problems import invalid, show
from sparkstudio.templates.source import load_yaml
from sparkstudio.templates.spec import LIMITS, ClusterSpec, build_spec

ParameterValues = Mapping[str, str | int | float | bool]

_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_MAX_NUMBER_TEXT = 64
_TEXT = re.compile(TEXT_PATTERN)


def _from_text(parameter: Parameter, text: str) -> Scalar | None:
    """A CLI-style string as the parameter's type (None when it does not read as one)."""
    if parameter.type == "Number":
        stripped = text.strip()
        if len(stripped) > _MAX_NUMBER_TEXT or not _NUMBER.match(stripped):
            return None
        number = float(stripped)
        if not math.isfinite(number):
            return None
        return int(stripped) if stripped.lstrip("+-").isdigit() else normal(number)
    if parameter.type == "Boolean":
        lowered = text.strip().lower()
        return {"true": True, "false": False}.get(lowered)
    return text


def coerce_value(name: str, parameter: Parameter, value: object) -> Scalar:
    """``value`` as the type of ``parameter``, checked against its allowed values and bounds."""
    field = f"parameters.{name}"
    given: Any = value
    if isinstance(value, str) and parameter.type != "String":
        given = _from_text(parameter, value)
    if given is None or type_problem(parameter.type, given) is not None:
        raise Invalid.field(field, f"{parameter.rule()} (got {show(value)})")
    if isinstance(given, float):
        given = normal(given)
    if isinstance(given, str) and (len(given) > MAX_STRING_VALUE or not _TEXT.match(given)):
        raise Invalid.field(field, f"{parameter.rule()}, without control characters")
    allowed = parameter.allowed_values
    if allowed is not None and given not in allowed:
        raise Invalid.field(field, f"{parameter.rule()} (got {show(value)})")
    if isinstance(given, int | float) and not isinstance(given, bool):
        too_low = parameter.min is not None and given < parameter.min
        too_high = parameter.max is not None and given > parameter.max
        if too_low or too_high:
            raise Invalid.field(field, f"{parameter.rule()} (got {show(value)})")
    result: Scalar = given
    return result


def coerce_parameters(template: Template, values: ParameterValues) -> dict[str, Scalar]:
    """Every parameter's value: given ones coerced and checked, the others defaulted."""
    problems: list[tuple[str, str]] = []
    known = template.parameters
    for name in values:
        if name not in known:
            takes = ", ".join(known) or "no parameters"
            problems.append(
                (f"parameters.{name}", f"unknown parameter; this template takes {takes}")
            )
    resolved: dict[str, Scalar] = {}
    for name, parameter in known.items():
        if name in values:
            try:
                resolved[name] = coerce_value(name, parameter, values[name])
            except Invalid as error:
                problems += [(f["field"], f["message"]) for f in error.fields]
        elif parameter.default is not None:
            resolved[name] = parameter.default
        else:
            problems.append((f"parameters.{name}", f"required; {parameter.rule()}"))
    if problems:
        raise invalid(problems)
    return resolved


class _Scope:
    def __init__(
        self, template: Template, values: Mapping[str, Scalar], registry: FunctionRegistry
    ) -> None:
        self._template = template
        self._values = values
        self._registry = registry
        self._conditions: dict[str, bool] = {}

    def parameter(self, name: str, path: str) -> Scalar:
        if name not in self._values:
            raise Invalid.field(path, f"unknown parameter {show(name)}")
        return self._values[name]

    def condition(self, name: str, path: str) -> bool:
        if name not in self._conditions:
            node = self._template.conditions.get(name)
            if node is None:
                raise Invalid.field(path, f"unknown condition {show(name)}")
            self._conditions[name] = as_boolean(node.evaluate(self), f"conditions.{name}")
        return self._conditions[name]

    def mapping(self, name: str) -> Mapping[str, Mapping[str, Scalar]] | None:
        return self._template.mappings.get(name)

    def function(self, name: str, path: str) -> TemplateFunction:
        function = self._registry.get(name)
        if function is None:
            raise Invalid.field(path, f"template function {name!r} is not installed")
        return function


def _as_text(value: Value) -> Value:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return key_text(value)
    return value


def _prepare(raw: dict[str, Value]) -> dict[str, Value]:
    """Whole floats as ints for integer fields; scalars as text in spark_conf and tags."""
    prepared = dict(raw)
    for key, value in raw.items():
        if key in LIMITS and isinstance(value, float) and value.is_integer():
            prepared[key] = int(value)
        elif key in ("spark_conf", "tags") and isinstance(value, dict):
            prepared[key] = {k: _as_text(v) for k, v in value.items()}
    return prepared


def evaluate(
    template: Template, values: Mapping[str, Scalar], registry: FunctionRegistry | None = None
) -> ClusterSpec:
    """The cluster spec for already coerced parameter ``values``."""
    scope = _Scope(template, values, registry or default_registry())
    raw = {key: node.evaluate(scope) for key, node in template.cluster.items()}
    return build_spec(_prepare(raw), prefix="cluster")


def resolve(
    template: Template,
    values: ParameterValues,
    *,
    registry: FunctionRegistry | None = None,
) -> ClusterSpec:
    """The cluster spec a user gets for ``values`` (CLI strings such as "3" or "true" work)."""
    return evaluate(template, coerce_parameters(template, values), registry)


def describe_parameters(template: Template) -> list[dict[str, Any]]:
    """The parameters as plain dicts, in template order, for a launch form."""
    return [
        {
            "name": name,
            "type": parameter.type,
            "default": parameter.default,
            "allowed_values": list(parameter.allowed_values)
            if parameter.allowed_values is not None
            else None,
            "min": parameter.min,
            "max": parameter.max,
            "description": parameter.description,
            "label": parameter.label or name,
        }
        for name, parameter in template.parameters.items()
    ]


def _choices(parameter: Parameter) -> list[Scalar]:
    if parameter.allowed_values is not None:
        return list(parameter.allowed_values)
    if parameter.type == "Boolean":
        return [False, True]
    if parameter.type == "Number":
        candidates = (parameter.min, parameter.default, parameter.max)
        return [value for value in candidates if value is not None]
    return [parameter.default] if parameter.default is not None else []


def check_template(template: Template, registry: FunctionRegistry | None = None) -> None:
    """Resolve the template for each choice of each parameter (the others at their defaults).

    Catches what only evaluation shows: a mapping entry that yields an out-of-bounds
    size, a sizing rule that exceeds the worker limit at the largest allowed input, a
    condition that is not true/false. Skipped when some parameter has no value to try
    (a free-text parameter without default).
    """
    choices = {name: _choices(parameter) for name, parameter in template.parameters.items()}
    if any(not values for values in choices.values()):
        return
    base: dict[str, Scalar] = {
        name: parameter.default if parameter.default is not None else choices[name][0]
        for name, parameter in template.parameters.items()
    }
    trials: list[tuple[str, dict[str, Scalar]]] = [("", base)]
    for name, values in choices.items():
        for value in values:
            if value != base[name] or type(value) is not type(base[name]):
                trials.append((f"{name}={key_text(value)}", {**base, name: value}))
    problems: dict[str, str] = {}
    for label, trial in trials:
        try:
            evaluate(template, trial, registry)
        except Invalid as error:
            when = f" (when {label})" if label else " (with the defaults)"
            for field in error.fields:
                problems.setdefault(field["field"], field["message"] + when)
    if problems:
        raise invalid(list(problems.items()))


def load_template(text: str, *, registry: FunctionRegistry | None = None) -> Template:
    """Parse, check and dry-run a template: what publishing one does."""
    template = compile_template(load_yaml(text), registry=registry)
    check_template(template, registry)
    return template
