"""Intrinsic functions: compiled from single-key mappings, evaluated against a scope.

An expression is a literal (string, number, boolean), a list or mapping of expressions,
or a mapping with exactly one key naming a function::

    {Ref: Param}                          the value of a parameter
    {FindInMap: [Map, top, second]}       a mapping lookup (arguments may be expressions)
    {If: [Condition, then, else]}         only the chosen branch is evaluated
    {Equals: [a, b]}  {And: [...]}  {Or: [...]}  {Not: [c]}  {Condition: Name}
    {Size: {users: e, executors_per_user: e, executors_per_node: e}}
                                          ceil(users * executors_per_user / executors_per_node)
    {Min: [...]}  {Max: [...]}  {Multiply: [...]}
    {Fn: {name: registered_name, args: {key: e, ...}}}
                                          a sizing function the platform installed

:mod:`sparkstudio.templates.compiler` turns template data into these nodes, checking
every name (parameters, mappings, conditions, registered functions) so that a template
with a dangling reference is refused on publish. Nothing is ever executed from the
template itself: the only code that runs is this module and installed plug-ins.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol, TypeAlias

from sparkstudio.errors import Invalid, StudioError
from sparkstudio.templates.problems import show

Scalar: TypeAlias = str | int | float | bool
Number: TypeAlias = int | float
Value: TypeAlias = Scalar | list["Value"] | dict[str, "Value"]
TemplateFunction: TypeAlias = Callable[..., Number]

log = logging.getLogger("sparkstudio.templates")

BUILTIN_FUNCTIONS = (
    "Ref",
    "FindInMap",
    "If",
    "Equals",
    "And",
    "Or",
    "Not",
    "Condition",
    "Size",
    "Min",
    "Max",
    "Multiply",
    "Fn",
)


class Scope(Protocol):
    """What evaluation reads: parameter values, conditions, mappings, plug-in functions."""

    def parameter(self, name: str, path: str) -> Scalar: ...

    def condition(self, name: str, path: str) -> bool: ...

    def mapping(self, name: str) -> Mapping[str, Mapping[str, Scalar]] | None: ...

    def function(self, name: str, path: str) -> TemplateFunction: ...


def key_text(value: object) -> str:
    """The text of a mapping key, so that ``1``, ``true`` and ``small`` all look up alike."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def normal(number: Number | Fraction) -> Number:
    """Whole numbers as ``int``; others as ``float``."""
    if isinstance(number, Fraction):
        return number.numerator if number.denominator == 1 else float(number)
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def as_number(value: Value, path: str) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid.field(path, f"must be a number (got {show(value)})")
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid.field(path, f"must be a finite number (got {show(value)})")
    return value


def as_boolean(value: Value, path: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid.field(path, f"must be true or false (got {show(value)})")
    return value


def _exact(number: Number) -> Fraction:
    return Fraction(number) if isinstance(number, int) else Fraction(repr(number))


class Node(ABC):
    """A compiled expression; ``path`` locates it in the template for error messages."""

    path: str

    @abstractmethod
    def evaluate(self, scope: Scope) -> Value: ...

    def children(self) -> Iterator[Node]:
        return iter(())

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children():
            yield from child.walk()


@dataclass(frozen=True)
class Literal(Node):
    path: str
    value: Scalar

    def evaluate(self, scope: Scope) -> Value:
        return self.value


@dataclass(frozen=True)
class ListOf(Node):
    path: str
    items: tuple[Node, ...]

    def evaluate(self, scope: Scope) -> Value:
        return [item.evaluate(scope) for item in self.items]

    def children(self) -> Iterator[Node]:
        return iter(self.items)


@dataclass(frozen=True)
class MappingOf(Node):
    path: str
    items: tuple[tuple[str, Node], ...]

    def evaluate(self, scope: Scope) -> Value:
        return {key: node.evaluate(scope) for key, node in self.items}

    def children(self) -> Iterator[Node]:
        return (node for _, node in self.items)


@dataclass(frozen=True)
class Ref(Node):
    path: str
    name: str

    def evaluate(self, scope: Scope) -> Value:
        return scope.parameter(self.name, self.path)


@dataclass(frozen=True)
class FindInMap(Node):
    path: str
    arguments: tuple[Node, Node, Node]

    def evaluate(self, scope: Scope) -> Value:
        name, top, second = (self._key(scope, node) for node in self.arguments)
        mapping = scope.mapping(name)
        if mapping is None:
            raise Invalid.field(self.path, f"no mapping named {show(name)}")
        if top not in mapping:
            keys = ", ".join(mapping)
            raise Invalid.field(self.path, f"mapping {name} has no key {show(top)}; keys: {keys}")
        entry = mapping[top]
        if second not in entry:
            keys = ", ".join(entry)
            raise Invalid.field(
                self.path, f"mapping {name}.{top} has no key {show(second)}; keys: {keys}"
            )
        return entry[second]

    @staticmethod
    def _key(scope: Scope, node: Node) -> str:
        value = node.evaluate(scope)
        if isinstance(value, list | dict):
            raise Invalid.field(node.path, f"a mapping key must be text (got {show(value)})")
        return key_text(value)

    def children(self) -> Iterator[Node]:
        return iter(self.arguments)


@dataclass(frozen=True)
class If(Node):
    path: str
    condition: str
    then: Node
    otherwise: Node

    def evaluate(self, scope: Scope) -> Value:
        chosen = self.then if scope.condition(self.condition, self.path) else self.otherwise
        return chosen.evaluate(scope)

    def children(self) -> Iterator[Node]:
        return iter((self.then, self.otherwise))


@dataclass(frozen=True)
class ConditionRef(Node):
    path: str
    name: str

    def evaluate(self, scope: Scope) -> Value:
        return scope.condition(self.name, self.path)


@dataclass(frozen=True)
class Equals(Node):
    path: str
    left: Node
    right: Node

    def evaluate(self, scope: Scope) -> Value:
        left, right = self.left.evaluate(scope), self.right.evaluate(scope)
        if isinstance(left, bool) != isinstance(right, bool):
            return False  # true is not 1
        return left == right

    def children(self) -> Iterator[Node]:
        return iter((self.left, self.right))


@dataclass(frozen=True)
class Logic(Node):
    path: str
    operator: str  # "And", "Or" or "Not"
    items: tuple[Node, ...]

    def evaluate(self, scope: Scope) -> Value:
        if self.operator == "Not":
            return not as_boolean(self.items[0].evaluate(scope), self.items[0].path)
        combine = all if self.operator == "And" else any
        return combine(as_boolean(item.evaluate(scope), item.path) for item in self.items)

    def children(self) -> Iterator[Node]:
        return iter(self.items)


@dataclass(frozen=True)
class Size(Node):
    path: str
    users: Node
    per_user: Node
    per_node: Node

    def evaluate(self, scope: Scope) -> Value:
        users = as_number(self.users.evaluate(scope), self.users.path)
        per_user = as_number(self.per_user.evaluate(scope), self.per_user.path)
        per_node = as_number(self.per_node.evaluate(scope), self.per_node.path)
        if users < 0:
            raise Invalid.field(self.users.path, f"must be 0 or more (got {show(users)})")
        if per_user < 0:
            raise Invalid.field(self.per_user.path, f"must be 0 or more (got {show(per_user)})")
        if per_node <= 0:
            raise Invalid.field(self.per_node.path, f"must be more than 0 (got {show(per_node)})")
        return math.ceil(_exact(users) * _exact(per_user) / _exact(per_node))

    def children(self) -> Iterator[Node]:
        return iter((self.users, self.per_user, self.per_node))


@dataclass(frozen=True)
class Arithmetic(Node):
    path: str
    operator: str  # "Min", "Max" or "Multiply"
    items: tuple[Node, ...]

    def evaluate(self, scope: Scope) -> Value:
        numbers = [as_number(item.evaluate(scope), item.path) for item in self.items]
        if self.operator == "Min":
            return normal(min(numbers))
        if self.operator == "Max":
            return normal(max(numbers))
        return normal(math.prod(_exact(number) for number in numbers))

    def children(self) -> Iterator[Node]:
        return iter(self.items)


@dataclass(frozen=True)
class Call(Node):
    path: str
    name: str
    arguments: tuple[tuple[str, Node], ...]

    def evaluate(self, scope: Scope) -> Value:
        function = scope.function(self.name, self.path)
        kwargs: dict[str, Value] = {}
        for key, node in self.arguments:
            value = node.evaluate(scope)
            if isinstance(value, list | dict):
                raise Invalid.field(node.path, f"must be a single value (got {show(value)})")
            kwargs[key] = value
        try:
            result = function(**kwargs)
        except ValueError as error:  # the documented way for a plug-in to refuse its inputs
            raise Invalid.field(self.path, f"function {self.name}: {error}") from None
        except Exception:
            log.exception("template function %s failed", self.name)
            raise StudioError(
                f"template function {self.name} failed; the server log has the details",
                reason="TemplateFunctionFailed",
            ) from None
        try:
            return normal(as_number(result, self.path))
        except Invalid:
            raise Invalid.field(
                self.path, f"function {self.name} returned {show(result)}, not a number"
            ) from None

    def children(self) -> Iterator[Node]:
        return (node for _, node in self.arguments)
