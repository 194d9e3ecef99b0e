"""Compile raw template data into expression trees, checking every name it refers to.

A mapping with exactly one key naming a built-in function is a call; any other mapping,
list or scalar is data whose values may be expressions. Each node remembers its path in
the template (``cluster.workers_max.Size.users``) for error messages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sparkstudio.errors import Invalid
from sparkstudio.templates.functions import (
    Arithmetic,
    Call,
    ConditionRef,
    Equals,
    FindInMap,
    If,
    ListOf,
    Literal,
    Logic,
    MappingOf,
    Node,
    Ref,
    Scalar,
    Size,
    key_text,
)
from sparkstudio.templates.problems import join_path, show

MAX_DEPTH = 24


@dataclass(frozen=True)
class Symbols:
    """The names an expression may refer to (checked at compile time)."""

    parameters: Mapping[str, Sequence[Scalar] | None]  # name -> allowed values, if any
    mappings: Mapping[str, Mapping[str, Mapping[str, Scalar]]]
    conditions: frozenset[str]
    functions: frozenset[str]


class Compiler:
    """Turns raw YAML data into :class:`Node` trees, checking names against ``symbols``."""

    def __init__(self, symbols: Symbols) -> None:
        self.symbols = symbols
        self._parsers: dict[str, Callable[[Any, str, int], Node]] = {
            "Ref": self._ref,
            "FindInMap": self._find_in_map,
            "If": self._if,
            "Equals": self._equals,
            "And": self._logic("And"),
            "Or": self._logic("Or"),
            "Not": self._logic("Not"),
            "Condition": self._condition,
            "Size": self._size,
            "Min": self._arithmetic("Min"),
            "Max": self._arithmetic("Max"),
            "Multiply": self._arithmetic("Multiply"),
            "Fn": self._call,
        }

    def compile(self, raw: Any, path: str, depth: int = 0) -> Node:
        if depth > MAX_DEPTH:
            raise Invalid.field(path, f"expressions nest at most {MAX_DEPTH} levels")
        if raw is None:
            raise Invalid.field(path, "a value is required here (got null)")
        if isinstance(raw, bool | str | int):
            return Literal(path, raw)
        if isinstance(raw, float):
            if not math.isfinite(raw):
                raise Invalid.field(path, f"must be a finite number (got {raw})")
            return Literal(path, raw)
        if isinstance(raw, list):
            items = (
                self.compile(item, join_path(path, i), depth + 1) for i, item in enumerate(raw)
            )
            return ListOf(path, tuple(items))
        if isinstance(raw, dict):
            functions = [key for key in raw if key in self._parsers]
            if functions and len(raw) > 1:
                raise Invalid.field(
                    path, f"{functions[0]} must be the only key of its mapping (got {list(raw)})"
                )
            if functions:
                name = functions[0]
                return self._parsers[name](raw[name], join_path(path, name), depth + 1)
            for key in raw:
                if not isinstance(key, str):
                    raise Invalid.field(path, f"keys must be text (got {show(key)})")
            return MappingOf(
                path,
                tuple(
                    (key, self.compile(value, join_path(path, key), depth + 1))
                    for key, value in raw.items()
                ),
            )
        raise Invalid.field(path, f"not a template value (got {type(raw).__name__})")

    # -- argument shapes

    def _list(self, raw: Any, path: str, depth: int, count: int | None, what: str) -> list[Node]:
        if not isinstance(raw, list) or (count is not None and len(raw) != count):
            raise Invalid.field(path, f"takes {what} (got {show(raw)})")
        return [self.compile(item, join_path(path, i), depth) for i, item in enumerate(raw)]

    @staticmethod
    def _name(raw: Any, path: str, known: Sequence[str] | frozenset[str], kind: str) -> str:
        if not isinstance(raw, str):
            raise Invalid.field(path, f"takes the name of a {kind} (got {show(raw)})")
        if raw not in known:
            names = ", ".join(sorted(known)) or "none"
            raise Invalid.field(path, f"unknown {kind} {show(raw)}; known: {names}")
        return raw

    # -- functions

    def _ref(self, raw: Any, path: str, depth: int) -> Node:
        return Ref(path, self._name(raw, path, list(self.symbols.parameters), "parameter"))

    def _condition(self, raw: Any, path: str, depth: int) -> Node:
        return ConditionRef(path, self._name(raw, path, self.symbols.conditions, "condition"))

    def _if(self, raw: Any, path: str, depth: int) -> Node:
        if not isinstance(raw, list) or len(raw) != 3:
            raise Invalid.field(
                path, f"takes [Condition, value if true, value if false] (got {show(raw)})"
            )
        name = self._name(raw[0], join_path(path, 0), self.symbols.conditions, "condition")
        then = self.compile(raw[1], join_path(path, 1), depth)
        otherwise = self.compile(raw[2], join_path(path, 2), depth)
        return If(path, name, then, otherwise)

    def _equals(self, raw: Any, path: str, depth: int) -> Node:
        left, right = self._list(raw, path, depth, 2, "a list of two values")
        return Equals(path, left, right)

    def _logic(self, operator: str) -> Callable[[Any, str, int], Node]:
        def parse(raw: Any, path: str, depth: int) -> Node:
            if operator == "Not":
                items = self._list(raw, path, depth, 1, "a list of one condition")
            else:
                items = self._list(raw, path, depth, None, "a list of at least two conditions")
                if len(items) < 2:
                    raise Invalid.field(
                        path, f"takes a list of at least two conditions (got {show(raw)})"
                    )
            return Logic(path, operator, tuple(items))

        return parse

    def _arithmetic(self, operator: str) -> Callable[[Any, str, int], Node]:
        def parse(raw: Any, path: str, depth: int) -> Node:
            items = self._list(raw, path, depth, None, "a list of numbers")
            if not items:
                raise Invalid.field(path, "takes a list of at least one number (got [])")
            return Arithmetic(path, operator, tuple(items))

        return parse

    def _size(self, raw: Any, path: str, depth: int) -> Node:
        keys = ("users", "executors_per_user", "executors_per_node")
        if not isinstance(raw, dict) or set(raw) != set(keys):
            raise Invalid.field(
                path, f"takes a mapping with exactly {', '.join(keys)} (got {show(raw)})"
            )
        users, per_user, per_node = (self.compile(raw[k], join_path(path, k), depth) for k in keys)
        return Size(path, users, per_user, per_node)

    def _find_in_map(self, raw: Any, path: str, depth: int) -> Node:
        name, top, second = self._list(raw, path, depth, 3, "[Map, top key, second key]")
        self._check_lookup(name, top, second)
        return FindInMap(path, (name, top, second))

    def _check_lookup(self, name: Node, top: Node, second: Node) -> None:
        """Check what is known before launch: literal names, and keys for allowed values."""
        if not isinstance(name, Literal):
            return
        mapping_name = key_text(name.value)
        mapping = self.symbols.mappings.get(mapping_name)
        if mapping is None:
            known = ", ".join(self.symbols.mappings) or "none"
            raise Invalid.field(name.path, f"unknown mapping {show(name.value)}; known: {known}")
        tops: list[str] | None = None
        if isinstance(top, Literal):
            tops = [key_text(top.value)]
        elif isinstance(top, Ref) and self.symbols.parameters.get(top.name):
            tops = [key_text(value) for value in self.symbols.parameters[top.name] or ()]
        if tops is not None:
            missing = [key for key in tops if key not in mapping]
            if missing:
                raise Invalid.field(
                    top.path,
                    f"mapping {mapping_name} has no key {', '.join(missing)}; "
                    f"keys: {', '.join(mapping)}",
                )
        if isinstance(second, Literal):
            wanted = key_text(second.value)
            lacking = [key for key in (tops or list(mapping)) if wanted not in mapping[key]]
            if lacking:
                raise Invalid.field(
                    second.path,
                    f"mapping {mapping_name} has no key {wanted} under {', '.join(lacking)}",
                )

    def _call(self, raw: Any, path: str, depth: int) -> Node:
        if not isinstance(raw, dict) or not set(raw) <= {"name", "args"} or "name" not in raw:
            raise Invalid.field(path, f"takes a mapping with name and args (got {show(raw)})")
        name = self._name(raw["name"], join_path(path, "name"), self.symbols.functions, "function")
        args = raw.get("args", {})
        args_path = join_path(path, "args")
        if not isinstance(args, dict):
            raise Invalid.field(
                args_path, f"must be a mapping of argument names to values (got {show(args)})"
            )
        arguments: list[tuple[str, Node]] = []
        for key, value in args.items():
            if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
                raise Invalid.field(args_path, f"argument names are identifiers (got {show(key)})")
            arguments.append((key, self.compile(value, join_path(args_path, key), depth + 1)))
        return Call(path, name, tuple(arguments))
