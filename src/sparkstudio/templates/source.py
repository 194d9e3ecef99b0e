"""Read template YAML safely: plain data only, never objects or code.

Templates are parsed with a subclass of ``yaml.SafeLoader`` that also

- accepts the CloudFormation-style short forms (``!Ref Name``, ``!FindInMap [...]``, ...)
  and turns them into the single-key mappings the engine reads (``{"Ref": "Name"}``);
- refuses every other tag (``!!python/object``, ``!!python/name``, custom tags);
- refuses aliases (``*anchor``): they let a few lines expand into a huge document;
- refuses duplicate keys, which YAML would otherwise silently resolve to the last one.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sparkstudio.errors import Invalid
from sparkstudio.templates.functions import BUILTIN_FUNCTIONS

MAX_TEMPLATE_CHARS = 256 * 1024
MAX_YAML_DEPTH = 64
SHORT_FORMS = BUILTIN_FUNCTIONS


class TemplateLoader(yaml.SafeLoader):
    """``SafeLoader`` with short-form intrinsics, and without aliases or duplicate keys."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases (*name) are not allowed in templates; write the value out",
                event.start_mark,
            )
        if self._depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested more than {MAX_YAML_DEPTH} levels deep", event.start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConstructorError(
                    None, None, "merge keys (<<) are not allowed in templates", key_node.start_mark
                )
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # unhashable: the base class reports it
            if duplicate:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _short_form(name: str) -> Any:
    def construct(loader: TemplateLoader, node: Node) -> dict[str, Any]:
        argument: Any
        if isinstance(node, ScalarNode):
            argument = loader.construct_scalar(node)
        elif isinstance(node, SequenceNode):
            argument = loader.construct_sequence(node, deep=True)
        else:
            assert isinstance(node, MappingNode)
            argument = loader.construct_mapping(node, deep=True)
        return {name: argument}

    return construct


def _refuse_tag(loader: TemplateLoader, node: Node) -> Any:
    short = ", ".join(f"!{name}" for name in SHORT_FORMS)
    raise ConstructorError(
        None,
        None,
        f"the YAML tag {node.tag!r} is not allowed; templates are plain data "
        f"(short forms accepted: {short})",
        node.start_mark,
    )


for _name in SHORT_FORMS:
    TemplateLoader.add_constructor(f"!{_name}", _short_form(_name))
TemplateLoader.add_constructor(None, _refuse_tag)


def _where(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def load_yaml(text: str) -> dict[str, Any]:
    """Parse template text into plain data; any problem is an ``Invalid`` on ``template``."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise Invalid.field("template", f"at most {MAX_TEMPLATE_CHARS} characters")
    try:
        data = yaml.load(text, Loader=TemplateLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as error:
        problem = error.problem or "not valid YAML"
        raise Invalid.field("template", f"{_where(error)}{problem}") from None
    except yaml.YAMLError as error:
        raise Invalid.field("template", f"not valid YAML: {error}") from None
    except RecursionError:
        raise Invalid.field("template", "nested too deeply") from None
    if not isinstance(data, dict):
        raise Invalid.field("template", "must be a YAML mapping (name, parameters, cluster, ...)")
    return data
