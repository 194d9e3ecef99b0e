"""The template document: parameters, mappings, conditions and the cluster it describes.

::

    name: analytics
    description: ...
    parameters:        # what users choose; name -> type, default, allowed_values, min, max, ...
    mappings:          # lookup tables; name -> top key -> second key -> value
    conditions:        # name -> condition expression (Equals, And, Or, Not, Condition)
    cluster:           # ClusterSpec field -> literal or expression

:func:`compile_template` checks the document's shape and every reference in it; the
checks that need evaluation (does every choice resolve to a valid cluster?) are in
:func:`sparkstudio.templates.engine.check_template`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from sparkstudio.errors import Invalid
from sparkstudio.schemas.common import TEXT_PATTERN, Description, Name
from sparkstudio.templates.compiler import Compiler, Symbols
from sparkstudio.templates.functions import ConditionRef, If, Node, Scalar, key_text
from sparkstudio.templates.plugins import FunctionRegistry, default_registry
from sparkstudio.templates.problems import from_validation_error, invalid, join_path, show
from sparkstudio.templates.spec import ClusterSpec

SYMBOL_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
SYMBOL_RULE = "1 to 64 letters, digits or '_', starting with a letter"
MAX_ALLOWED_VALUES = 100
MAX_STRING_VALUE = 1024

Symbol = Annotated[str, StringConstraints(pattern=SYMBOL_PATTERN), Field(description=SYMBOL_RULE)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(max_length=1024, pattern=TEXT_PATTERN)]
Label = Annotated[str, StringConstraints(max_length=128, pattern=TEXT_PATTERN)]


def _scalar(value: Any) -> Scalar:
    if isinstance(value, str):
        if len(value) > MAX_STRING_VALUE:
            raise ValueError(f"text of at most {MAX_STRING_VALUE} characters (got {len(value)})")
        return value
    if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    raise ValueError(f"must be text, a finite number, true or false (got {show(value)})")


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"must be a finite number (got {show(value)})")
    return value


# One check each rather than a union (whose errors would name every alternative).
StrictScalar = Annotated[Scalar, PlainValidator(_scalar)]
StrictNumber = Annotated[float, PlainValidator(_number)]
ParameterType = Literal["String", "Number", "Boolean"]


def type_problem(kind: str, value: object) -> str | None:
    """Why ``value`` is not a value of parameter type ``kind`` (None if it is)."""
    if kind == "Number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number (got {show(value)})"
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number (got {show(value)})"
    elif kind == "Boolean":
        if not isinstance(value, bool):
            return f"must be true or false (got {show(value)})"
    elif not isinstance(value, str):
        return f"must be text (got {show(value)})"
    return None


def bounds_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"a number from {key_text(low)} to {key_text(high)}"
    if low is not None:
        return f"a number of at least {key_text(low)}"
    if high is not None:
        return f"a number of at most {key_text(high)}"
    return "a number"


def value_text(value: Scalar) -> str:
    return key_text(value)


class Parameter(BaseModel):
    """One input a user gives when launching from the template."""

    model_config = ConfigDict(extra="forbid")

    type: ParameterType
    label: Label = ""
    description: Text = ""
    min: StrictNumber | None = None
    max: StrictNumber | None = None
    allowed_values: (
        Annotated[list[StrictScalar], Field(min_length=1, max_length=MAX_ALLOWED_VALUES)] | None
    ) = None
    default: StrictScalar | None = None

    @field_validator("min", "max")
    @classmethod
    def _numbers_only(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("type", "Number") != "Number":
            raise ValueError("only Number parameters have bounds")
        low = info.data.get("min")
        if info.field_name == "max" and value is not None and low is not None and value < low:
            raise ValueError(f"must be at least min ({key_text(low)}) (got {key_text(value)})")
        return value

    @field_validator("allowed_values")
    @classmethod
    def _typed_and_in_bounds(
        cls, values: list[Scalar] | None, info: ValidationInfo
    ) -> list[Scalar] | None:
        kind = info.data.get("type")
        if values is None or kind is None:
            return values
        problems = []
        for index, value in enumerate(values):
            problem = type_problem(kind, value) or cls._bounds_problem(value, info.data)
            if problem:
                problems.append(f"[{index}] {problem}")
        if len({value_text(value) for value in values}) != len(values):
            problems.append("values must be different")
        if problems:
            raise ValueError("; ".join(problems))
        return values

    @field_validator("default")
    @classmethod
    def _allowed_default(cls, value: Scalar | None, info: ValidationInfo) -> Scalar | None:
        kind = info.data.get("type")
        if value is None or kind is None:
            return value
        problem = type_problem(kind, value) or cls._bounds_problem(value, info.data)
        allowed = info.data.get("allowed_values")
        if problem is None and allowed is not None and value not in allowed:
            problem = f"must be one of the allowed values {', '.join(map(value_text, allowed))}"
        if problem:
            raise ValueError(problem + ("" if "(got" in problem else f" (got {show(value)})"))
        return value

    @staticmethod
    def _bounds_problem(value: Scalar, data: Mapping[str, Any]) -> str | None:
        low, high = data.get("min"), data.get("max")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            return f"must be {bounds_text(low, high)} (got {show(value)})"
        return None

    def rule(self) -> str:
        """What a value of this parameter must be, in words."""
        if self.allowed_values is not None:
            return "must be one of " + ", ".join(map(value_text, self.allowed_values))
        if self.type == "Number":
            return "must be " + bounds_text(self.min, self.max)
        if self.type == "Boolean":
            return "must be true or false"
        return f"must be text of at most {MAX_STRING_VALUE} characters"


MappingTable = dict[Key, dict[Key, StrictScalar]]


class TemplateDocument(BaseModel):
    """The shape of a template file (references are checked by :func:`compile_template`)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    parameters: Annotated[dict[Symbol, Parameter], Field(max_length=50)] = Field(
        default_factory=dict
    )
    mappings: dict[Symbol, MappingTable] = Field(default_factory=dict)
    conditions: dict[Symbol, Any] = Field(default_factory=dict)
    cluster: dict[str, Any]

    @field_validator("mappings", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        """YAML reads ``1:`` and ``true:`` as non-text keys; mappings are keyed by text."""
        if not isinstance(value, dict):
            return value
        return {
            name: (
                {
                    key_text(top): (
                        {key_text(k): v for k, v in entry.items()}
                        if isinstance(entry, dict)
                        else entry
                    )
                    for top, entry in table.items()
                }
                if isinstance(table, dict)
                else table
            )
            for name, table in value.items()
        }


@dataclass(frozen=True)
class Template:
    """A checked template: the document plus its compiled conditions and cluster fields."""

    document: TemplateDocument
    conditions: Mapping[str, Node]
    cluster: Mapping[str, Node]

    @property
    def name(self) -> str:
        return self.document.name

    @property
    def description(self) -> str:
        return self.document.description

    @property
    def parameters(self) -> Mapping[str, Parameter]:
        return self.document.parameters

    @property
    def mappings(self) -> Mapping[str, Mapping[str, Mapping[str, Scalar]]]:
        return self.document.mappings


def _condition_edges(node: Node) -> list[tuple[str, str]]:
    """(condition name, path) of every condition an expression refers to."""
    edges = []
    for child in node.walk():
        if isinstance(child, ConditionRef | If):
            edges.append(
                (child.name if isinstance(child, ConditionRef) else child.condition, child.path)
            )
    return edges


def _cycle_problems(conditions: Mapping[str, Node]) -> list[tuple[str, str]]:
    graph = {name: _condition_edges(node) for name, node in conditions.items()}
    done: set[str] = set()
    problems: list[tuple[str, str]] = []

    def visit(name: str, trail: list[str]) -> None:
        if name in done:
            return
        if name in trail:
            cycle = [*trail[trail.index(name) :], name]
            problems.append((f"conditions.{name}", "refers to itself: " + " -> ".join(cycle)))
            return
        for target, _ in graph.get(name, ()):
            visit(target, [*trail, name])
        done.add(name)

    for name in graph:
        if not problems:
            visit(name, [])
    return problems


def _cluster_problems(cluster: Mapping[str, Any]) -> list[tuple[str, str]]:
    fields = ClusterSpec.model_fields
    problems = [
        (f"cluster.{key}", f"unknown key; allowed keys: {', '.join(fields)}")
        for key in cluster
        if key not in fields
    ]
    problems += [
        (f"cluster.{name}", "required")
        for name, field in fields.items()
        if field.is_required() and name not in cluster
    ]
    return problems


def compile_template(
    data: Mapping[str, Any], *, registry: FunctionRegistry | None = None
) -> Template:
    """Check a template's shape and references; every problem names its path."""
    try:
        document = TemplateDocument.model_validate(data)
    except ValidationError as error:
        patterns = {SYMBOL_PATTERN: SYMBOL_RULE}
        raise invalid(from_validation_error(error, TemplateDocument, patterns=patterns)) from None
    functions = (registry or default_registry()).names()
    parameters: dict[str, Sequence[Scalar] | None] = {
        name: parameter.allowed_values for name, parameter in document.parameters.items()
    }
    symbols = Symbols(parameters, document.mappings, frozenset(document.conditions), functions)
    compiler = Compiler(symbols)
    problems: list[tuple[str, str]] = []
    conditions: dict[str, Node] = {}
    cluster: dict[str, Node] = {}
    sections = (
        ("conditions", document.conditions, conditions),
        ("cluster", document.cluster, cluster),
    )
    for section, raw, compiled in sections:
        for key, value in raw.items():
            try:
                compiled[key] = compiler.compile(value, join_path(section, key))
            except Invalid as error:
                problems += [(f["field"], f["message"]) for f in error.fields]
    problems += _cluster_problems(document.cluster)
    if not problems:
        problems = _cycle_problems(conditions)
    if problems:
        raise invalid(problems)
    return Template(document, conditions, cluster)
