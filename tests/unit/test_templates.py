"""Unit tests of the cluster template engine (no server, no Spark)."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import yaml

from sparkstudio.errors import Invalid, NotFound, StudioError
from sparkstudio.templates import (
    ENTRY_POINT_GROUP,
    ClusterSpec,
    FunctionRegistry,
    Template,
    build_spec,
    builtin_names,
    builtin_text,
    compile_template,
    default_registry,
    describe_parameters,
    load_builtin,
    load_template,
    load_yaml,
    plugins,
    resolve,
)
from sparkstudio.templates.compiler import Compiler, Symbols
from sparkstudio.templates.engine import check_template
from sparkstudio.templates.functions import BUILTIN_FUNCTIONS

NO_PLUGINS = FunctionRegistry()

# The article's worked example: r5.2xlarge nodes (8 cores, 64 GiB), executors of 1 core and
# 6 GiB, one core reserved, so 7 executors per node; 10 executors per user.
ARTICLE = """
name: article-example
parameters:
  UserConcurrency: {type: Number, default: 5, min: 1, max: 20}
  ExecutorsPerUser: {type: Number, default: 10, min: 1, max: 20}
mappings:
  Nodes:
    r5_2xlarge: {cores: 8, memory_mib: 65536, executor_cores: 1, executor_memory_mib: 6144,
                 executors_per_node: 7}
cluster:
  workers_min: 1
  workers_max:
    Size:
      users: {Ref: UserConcurrency}
      executors_per_user: {Ref: ExecutorsPerUser}
      executors_per_node: {FindInMap: [Nodes, r5_2xlarge, executors_per_node]}
  worker_cores: {FindInMap: [Nodes, r5_2xlarge, cores]}
  worker_memory_mib: {FindInMap: [Nodes, r5_2xlarge, memory_mib]}
  executor_cores: {FindInMap: [Nodes, r5_2xlarge, executor_cores]}
  executor_memory_mib: {FindInMap: [Nodes, r5_2xlarge, executor_memory_mib]}
"""

# A minimal valid cluster section that tests extend or override.
CLUSTER = {
    "workers_min": 1,
    "workers_max": 2,
    "worker_cores": 2,
    "worker_memory_mib": 2048,
    "executor_cores": 1,
    "executor_memory_mib": 1024,
}


def load(text: str, registry: FunctionRegistry = NO_PLUGINS) -> Template:
    return load_template(textwrap.dedent(text), registry=registry)


def document(**sections: Any) -> dict[str, Any]:
    """A template document: a name, the minimal cluster, and ``sections`` merged in."""
    cluster = {**CLUSTER, **sections.pop("cluster", {})}
    return {"name": "test", **sections, "cluster": cluster}


def publish(data: dict[str, Any], registry: FunctionRegistry = NO_PLUGINS) -> Template:
    """What publishing does (shape, references, dry run), from plain data."""
    template = compile_template(data, registry=registry)
    check_template(template, registry)
    return template


def problems(error: pytest.ExceptionInfo[Invalid]) -> dict[str, str]:
    assert error.value.status == 422
    assert error.value.reason == "ValidationError"
    return {field["field"]: field["message"] for field in error.value.fields}


def out(expression: Any, registry: FunctionRegistry = NO_PLUGINS, **sections: Any) -> str:
    """Resolve ``expression`` placed in a tag (tags render values as text)."""
    values = sections.pop("values", {})
    data = document(cluster={"tags": {"out": expression}}, **sections)
    return resolve(publish(data, registry), values, registry=registry).tags["out"]


def workers_max(expression: Any, registry: FunctionRegistry = NO_PLUGINS, **sections: Any) -> int:
    values = sections.pop("values", {})
    data = document(cluster={"workers_max": expression}, **sections)
    return resolve(publish(data, registry), values, registry=registry).workers_max


# ---------------------------------------------------------------------------------------
# The article's sizing example, and the shipped templates


@pytest.mark.parametrize(
    ("users", "expected"),
    [("7", 10), (7, 10), ("1", 2), ("8", 12), ("14", 20)],
)
def test_article_worked_example(users: object, expected: int) -> None:
    # 7 users x 10 executors / 7 executors per node = 10 nodes; partial nodes round up.
    spec = resolve(load(ARTICLE), {"UserConcurrency": users})  # type: ignore[dict-item]
    assert spec.workers_max == expected
    assert (spec.worker_cores, spec.executor_cores, spec.executor_memory_mib) == (8, 1, 6144)


def test_shipped_analytics_sizing_rule_reproduces_the_article() -> None:
    # The shipped template's own rule, with the article's node shape and without the
    # small-host cap, gives the article's 10 nodes.
    data = load_yaml(builtin_text("analytics"))
    data["mappings"]["Profiles"]["medium"] = {
        "worker_cores": 8,
        "worker_memory_mib": 65536,
        "executor_cores": 1,
        "executor_memory_mib": 6144,
        "executors_per_node": 7,
    }
    data["mappings"]["Limits"]["workers"]["max"] = 64
    template = compile_template(data, registry=NO_PLUGINS)
    values = {"UserConcurrency": "7", "ExecutorsPerUser": "10", "MemoryProfile": "medium"}
    assert resolve(template, values, registry=NO_PLUGINS).workers_max == 10


@pytest.mark.parametrize(
    ("values", "expected_workers_max"),
    [
        ({}, 5),  # 1 user x 10 executors / 2 per node
        ({"UserConcurrency": "3", "ExecutorsPerUser": "2"}, 3),
        ({"UserConcurrency": "3", "ExecutorsPerUser": "3"}, 5),  # 9 / 2 rounds up
        ({"UserConcurrency": "3", "ExecutorsPerUser": "2", "MemoryProfile": "large"}, 6),
        ({"UserConcurrency": "7"}, 16),  # the article's 7 x 10 = 70 executors: capped at 16
        ({"UserConcurrency": 20, "ExecutorsPerUser": 20, "MemoryProfile": "large"}, 16),
    ],
)
def test_shipped_analytics_sizes_workers(values: dict[str, Any], expected_workers_max: int) -> None:
    spec = resolve(load_builtin("analytics"), values)
    assert spec.workers_max == expected_workers_max
    assert spec.workers_min == 1


@pytest.mark.parametrize(
    ("profile", "shape"),
    [
        ("small", (2, 2048, 1, 1024)),
        ("medium", (2, 4096, 1, 2048)),
        ("large", (2, 4096, 2, 4096)),
    ],
)
def test_shipped_analytics_memory_profile_mapping(
    profile: str, shape: tuple[int, int, int, int]
) -> None:
    spec = resolve(load_builtin("analytics"), {"MemoryProfile": profile})
    got = (spec.worker_cores, spec.worker_memory_mib, spec.executor_cores, spec.executor_memory_mib)
    assert got == shape
    assert spec.tags["memory-profile"] == profile


@pytest.mark.parametrize(
    ("optimization", "capacity"), [("cost", "PREEMPTIBLE"), ("reliability", "ON_DEMAND")]
)
def test_shipped_analytics_optimization_condition(optimization: str, capacity: str) -> None:
    spec = resolve(load_builtin("analytics"), {"Optimization": optimization})
    assert spec.capacity_type == capacity
    assert spec.tags == {
        "template": "analytics",
        "optimization": optimization,
        "memory-profile": "small",
    }


def test_shipped_analytics_caps_executors_per_user() -> None:
    spec = resolve(load_builtin("analytics"), {"UserConcurrency": "7", "ExecutorsPerUser": "10"})
    assert spec.spark_conf["spark.dynamicAllocation.maxExecutors"] == "70"
    assert spec.spark_conf["spark.dynamicAllocation.enabled"] == "true"
    assert spec.idle_timeout_seconds == 3600


def test_shipped_single_node() -> None:
    template = load_builtin("single-node")
    spec = resolve(template, {})
    assert (spec.workers_min, spec.workers_max, spec.worker_cores, spec.executor_cores) == (
        1,
        1,
        2,
        1,
    )
    assert spec.idle_timeout_seconds == 3600
    assert spec.capacity_type == "ON_DEMAND"
    assert resolve(template, {"IdleTimeoutMinutes": "90"}).idle_timeout_seconds == 5400
    with pytest.raises(Invalid) as error:
        resolve(template, {"IdleTimeoutMinutes": "2"})
    assert problems(error) == {
        "parameters.IdleTimeoutMinutes": "must be a number from 5 to 1440 (got '2')"
    }


def test_builtin_catalog() -> None:
    assert builtin_names() == ["analytics", "single-node"]
    for name in builtin_names():
        assert load_builtin(name).name == name
    with pytest.raises(NotFound) as error:
        load_builtin("../model")
    assert error.value.status == 404
    assert "analytics, single-node" in error.value.message


def test_describe_parameters() -> None:
    described = describe_parameters(load_builtin("analytics"))
    assert [p["name"] for p in described] == [
        "UserConcurrency",
        "Optimization",
        "MemoryProfile",
        "ExecutorsPerUser",
    ]
    assert described[2] == {
        "name": "MemoryProfile",
        "type": "String",
        "default": "small",
        "allowed_values": ["small", "medium", "large"],
        "min": None,
        "max": None,
        "description": "The memory profile you expect in your workload.",
        "label": "Workload memory",
    }
    assert described[0]["min"] == 1 and described[0]["max"] == 20
    assert described[0]["default"] == 1
    unlabelled = publish(document(parameters={"Flag": {"type": "Boolean", "default": False}}))
    assert describe_parameters(unlabelled)[0]["label"] == "Flag"


# ---------------------------------------------------------------------------------------
# Intrinsic functions


PROFILE = {"Profile": {"type": "String", "default": "small", "allowed_values": ["small", "big"]}}
SHAPES = {"Shapes": {"small": {"cores": 1, "name": "s"}, "big": {"cores": 4, "name": "b"}}}


def test_ref_gives_the_parameter_value() -> None:
    assert out({"Ref": "Profile"}, parameters=PROFILE) == "small"
    assert out({"Ref": "Profile"}, parameters=PROFILE, values={"Profile": "big"}) == "big"


def test_find_in_map_with_expression_arguments() -> None:
    sections: dict[str, Any] = {"parameters": PROFILE, "mappings": SHAPES}
    expression = {"FindInMap": ["Shapes", {"Ref": "Profile"}, "name"]}
    assert out(expression, **sections) == "s"
    assert out(expression, **sections, values={"Profile": "big"}) == "b"
    cores = {"FindInMap": ["Shapes", {"Ref": "Profile"}, "cores"]}
    assert workers_max(cores, **sections, values={"Profile": "big"}) == 4


def test_find_in_map_numeric_and_boolean_keys_are_text() -> None:
    sections: dict[str, Any] = {
        "parameters": {"Level": {"type": "Number", "default": 2, "allowed_values": [1, 2]}},
        "mappings": {"Levels": {1: {True: "one"}, 2: {True: "two"}}},
    }
    assert out({"FindInMap": ["Levels", {"Ref": "Level"}, "true"]}, **sections) == "two"
    assert out({"FindInMap": ["Levels", {"Ref": "Level"}, True]}, **sections) == "two"


def test_if_evaluates_only_the_chosen_branch() -> None:
    sections: dict[str, Any] = {
        "parameters": {
            "Big": {"type": "Boolean", "default": False},
            "Key": {"type": "String", "default": "nowhere"},
        },
        "mappings": SHAPES,
        "conditions": {"IsBig": {"Equals": [{"Ref": "Big"}, True]}},
    }
    # The true branch looks up a key that does not exist: never evaluated while the
    # condition is false.
    expression = {"If": ["IsBig", {"FindInMap": ["Shapes", {"Ref": "Key"}, "name"]}, "plain"]}
    data = document(cluster={"tags": {"out": expression}}, **sections)
    template = compile_template(data, registry=NO_PLUGINS)
    assert resolve(template, {}, registry=NO_PLUGINS).tags["out"] == "plain"
    failure = {
        "cluster.tags.out.If[1].FindInMap": "mapping Shapes has no key 'nowhere'; keys: small, big"
    }
    with pytest.raises(Invalid) as error:
        resolve(template, {"Big": "true"}, registry=NO_PLUGINS)
    assert problems(error) == failure
    # Publishing tries both values of the Boolean, so it finds the broken branch first.
    with pytest.raises(Invalid) as error:
        check_template(template, NO_PLUGINS)
    assert problems(error) == {
        field: f"{message} (when Big=true)" for field, message in failure.items()
    }


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("a", "a", "true"),
        ("a", "b", "false"),
        (3, 3.0, "true"),
        (1, True, "false"),  # true is not 1
        ("3", 3, "false"),
        ({"Ref": "Count"}, 3, "true"),  # the CLI string "3" is the number 3
        ({"Ref": "Count"}, "3", "false"),
    ],
)
def test_equals(left: Any, right: Any, expected: str) -> None:
    parameters = {"Count": {"type": "Number", "default": 1}}
    result = out({"Equals": [left, right]}, parameters=parameters, values={"Count": "3"})
    assert result == expected


@pytest.mark.parametrize(
    ("a", "b", "and_", "or_", "not_a"),
    [
        ("true", "true", "true", "true", "false"),
        ("true", "false", "false", "true", "false"),
        ("false", "true", "false", "true", "true"),
        ("false", "false", "false", "false", "true"),
    ],
)
def test_and_or_not_condition(a: str, b: str, and_: str, or_: str, not_a: str) -> None:
    sections: dict[str, Any] = {
        "parameters": {"A": {"type": "Boolean"}, "B": {"type": "Boolean"}},
        "conditions": {
            "IsA": {"Equals": [{"Ref": "A"}, True]},
            "IsB": {"Equals": [{"Ref": "B"}, True]},
            "Both": {"And": [{"Condition": "IsA"}, {"Condition": "IsB"}]},
            "Either": {"Or": [{"Condition": "IsA"}, {"Condition": "IsB"}]},
            "NotA": {"Not": [{"Condition": "IsA"}]},
        },
    }
    values = {"A": a, "B": b}
    expression = {
        "If": [
            "Both",
            "and",
            {"If": ["Either", "or", "neither"]},
        ]
    }
    expected = "and" if and_ == "true" else "or" if or_ == "true" else "neither"
    assert out(expression, **sections, values=values) == expected
    assert out({"Condition": "NotA"}, **sections, values=values) == not_a
    assert out({"Not": [{"Ref": "A"}]}, **sections, values=values) == not_a


@pytest.mark.parametrize(
    ("users", "per_user", "per_node", "expected"),
    [
        (7, 10, 7, 10),
        (1, 1, 7, 1),
        (3, 5, 7, 3),  # 15 / 7 = 2.14 -> 3
        (3, 0.1, 0.3, 1),  # exactly 1, not 1.0000000000000002 -> 2
        (0.5, 4, 1, 2),
    ],
)
def test_size_rounds_up_exactly(
    users: float, per_user: float, per_node: float, expected: int
) -> None:
    expression = {
        "Size": {"users": users, "executors_per_user": per_user, "executors_per_node": per_node}
    }
    assert workers_max(expression) == expected


def test_size_refuses_zero_executors_per_node() -> None:
    expression = {"Size": {"users": 1, "executors_per_user": 1, "executors_per_node": 0}}
    with pytest.raises(Invalid) as error:
        workers_max(expression)
    assert problems(error) == {
        "cluster.workers_max.Size.executors_per_node": "must be more than 0 (got 0) "
        "(with the defaults)"
    }


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Min": [8, 3, 5]}, 3),
        ({"Max": [8, 3, 5]}, 8),
        ({"Min": [4]}, 4),
        ({"Multiply": [2, 3, 4]}, 24),
        ({"Multiply": [0.5, 6]}, 3),  # a whole float is an int field's value
        ({"Max": [1, {"Min": [{"Multiply": [{"Ref": "N"}, 2]}, 12]}]}, 12),
    ],
)
def test_min_max_multiply(expression: Any, expected: int) -> None:
    parameters = {"N": {"type": "Number", "default": 1, "min": 1, "max": 20}}
    assert workers_max(expression, parameters=parameters, values={"N": 9}) == expected


def test_arithmetic_refuses_text() -> None:
    with pytest.raises(Invalid) as error:
        workers_max({"Min": [3, "four"]})
    assert problems(error) == {
        "cluster.workers_max.Min[1]": "must be a number (got 'four') (with the defaults)"
    }


def test_builtin_function_names_match_the_compiler() -> None:
    compiler = Compiler(Symbols({}, {}, frozenset(), frozenset()))
    assert set(compiler._parsers) == set(BUILTIN_FUNCTIONS)


# ---------------------------------------------------------------------------------------
# Parameters


PARAMETERS = """
name: params
parameters:
  Profile: {type: String, default: small, allowed_values: [small, medium, large]}
  Users: {type: Number, default: 1, min: 1, max: 20}
  Ratio: {type: Number, default: 1.5}
  Spot: {type: Boolean, default: false}
  Owner: {type: String}
cluster:
  workers_min: 1
  workers_max: {Ref: Users}
  worker_cores: 2
  worker_memory_mib: 2048
  executor_cores: 1
  executor_memory_mib: 1024
  capacity_type: {If: [UseSpot, PREEMPTIBLE, ON_DEMAND]}
  tags: {profile: {Ref: Profile}, owner: {Ref: Owner}, ratio: {Ref: Ratio}}
conditions:
  UseSpot: {Equals: [{Ref: Spot}, true]}
"""


def test_parameters_defaults_and_cli_strings() -> None:
    template = load(PARAMETERS)
    spec = resolve(template, {"Owner": "ana"})
    assert (spec.workers_max, spec.capacity_type, spec.tags) == (
        1,
        "ON_DEMAND",
        {"profile": "small", "owner": "ana", "ratio": "1.5"},
    )
    values = {"Owner": "bo", "Users": "12", "Spot": "TRUE", "Ratio": "2.0", "Profile": "large"}
    spec = resolve(template, values)
    assert (spec.workers_max, spec.capacity_type, spec.tags["ratio"]) == (12, "PREEMPTIBLE", "2")
    assert spec.tags["profile"] == "large"
    spec = resolve(template, {"Owner": "x", "Users": 20, "Spot": False, "Ratio": 0.25})
    assert (spec.workers_max, spec.capacity_type, spec.tags["ratio"]) == (20, "ON_DEMAND", "0.25")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Profile", "huge", "must be one of small, medium, large (got 'huge')"),
        ("Profile", "Small", "must be one of small, medium, large (got 'Small')"),
        ("Profile", 3, "must be one of small, medium, large (got 3)"),
        ("Users", "0", "must be a number from 1 to 20 (got '0')"),
        ("Users", 21, "must be a number from 1 to 20 (got 21)"),
        ("Users", "abc", "must be a number from 1 to 20 (got 'abc')"),
        ("Users", "", "must be a number from 1 to 20 (got '')"),
        ("Users", "nan", "must be a number from 1 to 20 (got 'nan')"),
        ("Users", "1e999", "must be a number from 1 to 20 (got '1e999')"),
        ("Users", True, "must be a number from 1 to 20 (got True)"),
        ("Ratio", "inf", "must be a number (got 'inf')"),
        ("Spot", "yes", "must be true or false (got 'yes')"),
        ("Spot", 1, "must be true or false (got 1)"),
        ("Owner", 5, "must be text of at most 1024 characters (got 5)"),
        ("Owner", "a\x00b", "must be text of at most 1024 characters, without control characters"),
    ],
)
def test_bad_parameter_value(name: str, value: object, message: str) -> None:
    with pytest.raises(Invalid) as error:
        resolve(load(PARAMETERS), {"Owner": "ana", name: value})  # type: ignore[dict-item]
    assert problems(error) == {f"parameters.{name}": message}
    assert error.value.message == f"parameters.{name}: {message}"


@pytest.mark.parametrize("value", ["9" * 5000, "\u0663", "1_000", "0x10", " 3 4"])
def test_odd_number_text_refused(value: str) -> None:
    with pytest.raises(Invalid) as error:
        resolve(load(PARAMETERS), {"Owner": "ana", "Users": value})
    assert problems(error)["parameters.Users"].startswith("must be a number from 1 to 20 (got '")


def test_unknown_and_missing_parameters_all_reported() -> None:
    with pytest.raises(Invalid) as error:
        resolve(load(PARAMETERS), {"Size": "large", "Users": "99"})
    assert problems(error) == {
        "parameters.Size": "unknown parameter; this template takes "
        "Profile, Users, Ratio, Spot, Owner",
        "parameters.Users": "must be a number from 1 to 20 (got '99')",
        "parameters.Owner": "required; must be text of at most 1024 characters",
    }


# ---------------------------------------------------------------------------------------
# Templates refused on publish, each with the path of the problem


def with_parameter(**spec: Any) -> dict[str, Any]:
    return document(parameters={"P": spec})


BAD_TEMPLATES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "unknown top-level key",
        {**document(), "Resources": {}},
        "Resources",
        "unknown key; allowed keys: name, description, parameters, mappings, conditions, cluster",
    ),
    (
        "bad template name",
        {**document(), "name": "no spaces please"},
        "name",
        "must be 1 to 64 characters",
    ),
    (
        "unknown key of a parameter",
        with_parameter(type="String", Default="x"),
        "parameters.P.Default",
        "unknown key; allowed keys: type, label, description, min, max, allowed_values, default",
    ),
    (
        "unknown parameter type",
        with_parameter(type="Integer"),
        "parameters.P.type",
        "must be one of 'String', 'Number' or 'Boolean'",
    ),
    (
        "default outside allowed values",
        with_parameter(type="String", allowed_values=["a", "b"], default="c"),
        "parameters.P.default",
        "must be one of the allowed values a, b (got 'c')",
    ),
    (
        "default below min",
        with_parameter(type="Number", min=1, max=20, default=0),
        "parameters.P.default",
        "must be a number from 1 to 20 (got 0)",
    ),
    (
        "default of the wrong type",
        with_parameter(type="Number", default="5"),
        "parameters.P.default",
        "must be a number (got '5')",
    ),
    (
        "bounds on a String",
        with_parameter(type="String", min=1),
        "parameters.P.min",
        "only Number parameters have bounds",
    ),
    (
        "bounds with a bad type",
        with_parameter(type="Integer", min=1, max=2),
        "parameters.P.type",
        "must be one of 'String', 'Number' or 'Boolean'",
    ),
    (
        "max below min",
        with_parameter(type="Number", min=5, max=1),
        "parameters.P.max",
        "must be at least min (5) (got 1)",
    ),
    (
        "allowed value outside bounds",
        with_parameter(type="Number", min=1, max=4, allowed_values=[2, 8]),
        "parameters.P.allowed_values",
        "[1] must be a number from 1 to 4 (got 8)",
    ),
    (
        "repeated allowed value",
        with_parameter(type="String", allowed_values=["a", "a"]),
        "parameters.P.allowed_values",
        "values must be different",
    ),
    (
        "Ref to an unknown parameter",
        document(cluster={"workers_max": {"Ref": "Users"}}),
        "cluster.workers_max.Ref",
        "unknown parameter 'Users'; known: none",
    ),
    (
        "FindInMap on an unknown mapping",
        document(cluster={"worker_cores": {"FindInMap": ["Sizes", "a", "b"]}}),
        "cluster.worker_cores.FindInMap[0]",
        "unknown mapping 'Sizes'; known: none",
    ),
    (
        "FindInMap missing an allowed value's key",
        document(
            parameters=PROFILE,
            mappings={"Shapes": {"small": {"cores": 1}}},
            cluster={"worker_cores": {"FindInMap": ["Shapes", {"Ref": "Profile"}, "cores"]}},
        ),
        "cluster.worker_cores.FindInMap[1].Ref",
        "mapping Shapes has no key big; keys: small",
    ),
    (
        "FindInMap missing a second key",
        document(
            mappings=SHAPES,
            cluster={"worker_cores": {"FindInMap": ["Shapes", "small", "memory"]}},
        ),
        "cluster.worker_cores.FindInMap[2]",
        "mapping Shapes has no key memory under small",
    ),
    (
        "FindInMap with two arguments",
        document(mappings=SHAPES, cluster={"worker_cores": {"FindInMap": ["Shapes", "small"]}}),
        "cluster.worker_cores.FindInMap",
        "takes [Map, top key, second key]",
    ),
    (
        "If on an unknown condition",
        document(cluster={"capacity_type": {"If": ["UseSpot", "PREEMPTIBLE", "ON_DEMAND"]}}),
        "cluster.capacity_type.If[0]",
        "unknown condition 'UseSpot'; known: none",
    ),
    (
        "Condition on an unknown condition",
        document(conditions={"A": {"Not": [{"Condition": "B"}]}}),
        "conditions.A.Not[0].Condition",
        "unknown condition 'B'",
    ),
    (
        "condition cycle",
        document(
            conditions={
                "A": {"Not": [{"Condition": "B"}]},
                "B": {"And": [{"Condition": "C"}, True]},
                "C": {"Or": [{"Condition": "A"}, False]},
            }
        ),
        "conditions.A",
        "refers to itself: A -> B -> C -> A",
    ),
    (
        "condition referring to itself",
        document(conditions={"A": {"Not": [{"Condition": "A"}]}}),
        "conditions.A",
        "refers to itself: A -> A",
    ),
    (
        "And with one condition",
        document(conditions={"A": {"And": [True]}}),
        "conditions.A.And",
        "takes a list of at least two conditions",
    ),
    (
        "unknown cluster field",
        document(cluster={"workers": 3}),
        "cluster.workers",
        "unknown key; allowed keys: workers_min, workers_max",
    ),
    (
        "missing cluster field",
        {"name": "t", "cluster": {k: v for k, v in CLUSTER.items() if k != "worker_cores"}},
        "cluster.worker_cores",
        "required",
    ),
    (
        "missing cluster section",
        {"name": "t"},
        "cluster",
        "required",
    ),
    (
        "function with another key",
        document(cluster={"workers_max": {"Ref": "X", "Default": 1}}),
        "cluster.workers_max",
        "Ref must be the only key of its mapping",
    ),
    (
        "Size without executors_per_node",
        document(cluster={"workers_max": {"Size": {"users": 1, "executors_per_user": 1}}}),
        "cluster.workers_max.Size",
        "takes a mapping with exactly users, executors_per_user, executors_per_node",
    ),
    (
        "Fn of an unregistered function",
        document(cluster={"workers_max": {"Fn": {"name": "emr_size", "args": {}}}}),
        "cluster.workers_max.Fn.name",
        "unknown function 'emr_size'; known: none",
    ),
    (
        "null value",
        document(cluster={"workers_max": None}),
        "cluster.workers_max",
        "a value is required here (got null)",
    ),
    (
        "expressions in a mapping",
        document(mappings={"M": {"a": {"b": {"Ref": "P"}}}}),
        "mappings.M.a.b",
        "must be text, a finite number, true or false (got {'Ref': 'P'})",
    ),
    (
        "bad parameter name",
        document(parameters={"bad-name": {"type": "String"}}),
        "parameters.bad-name",
        "must be 1 to 64 letters, digits or '_', starting with a letter (got 'bad-name')",
    ),
]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [case[1:] for case in BAD_TEMPLATES],
    ids=[case[0] for case in BAD_TEMPLATES],
)
def test_bad_template_refused_with_path(data: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(Invalid) as error:
        publish(data)
    found = problems(error)
    assert field in found, found
    assert message in found[field]


def test_all_problems_of_a_template_are_reported() -> None:
    data = document(
        parameters={"P": {"type": "Number", "default": 50, "max": 10}},
        cluster={"workers_max": {"Ref": "Q"}, "capacity_type": {"If": ["C", "A", "B"]}},
    )
    with pytest.raises(Invalid) as error:
        publish(data)
    assert set(problems(error)) == {"parameters.P.default"}  # shape first
    del data["parameters"]
    with pytest.raises(Invalid) as error:
        publish(data)
    assert set(problems(error)) == {"cluster.workers_max.Ref", "cluster.capacity_type.If[0]"}


def test_dry_run_refuses_a_sizing_rule_that_overflows_at_the_largest_input() -> None:
    # The shipped analytics template without its cap asks for up to 200 workers.
    data = load_yaml(builtin_text("analytics"))
    data["cluster"]["workers_max"] = data["cluster"]["workers_max"]["Min"][1]
    with pytest.raises(Invalid) as error:
        publish(data)
    assert problems(error) == {
        "cluster.workers_max": "must be an integer from 1 to 64, at least workers_min "
        "(got 100) (when UserConcurrency=20)"
    }


def test_dry_run_refuses_a_mapping_entry_that_does_not_fit() -> None:
    data = load_yaml(builtin_text("analytics"))
    data["mappings"]["Profiles"]["large"]["executor_memory_mib"] = 8192
    with pytest.raises(Invalid) as error:
        publish(data)
    assert problems(error) == {
        "cluster.executor_memory_mib": "must be an integer from 256 to 262144, at most "
        "worker_memory_mib (4096) (got 8192) (when MemoryProfile=large)"
    }


def test_dry_run_refuses_a_condition_that_is_not_true_or_false() -> None:
    data = document(
        parameters=PROFILE,
        conditions={"Big": {"Ref": "Profile"}},
        cluster={"capacity_type": {"If": ["Big", "PREEMPTIBLE", "ON_DEMAND"]}},
    )
    with pytest.raises(Invalid) as error:
        publish(data)
    assert problems(error) == {
        "conditions.Big": "must be true or false (got 'small') (with the defaults)"
    }


def test_dry_run_refuses_platform_spark_conf() -> None:
    data = document(cluster={"spark_conf": {"spark.master": "local[*]"}})
    with pytest.raises(Invalid) as error:
        publish(data)
    assert problems(error) == {
        "cluster.spark_conf": "spark.master: set by the platform; remove it from the template "
        "(with the defaults)"
    }


# ---------------------------------------------------------------------------------------
# YAML: plain data only


@pytest.mark.parametrize(
    "text",
    [
        "name: x\ncluster: !!python/object/apply:os.system ['touch {marker}']\n",
        "name: !!python/object/new:os.system ['touch {marker}']\ncluster: {{}}\n",
        "name: x\ncluster:\n  workers_max: !!python/name:os.system\n",
        "name: x\ncluster: !!python/object:pathlib.Path {{}}\n",
        "name: x\ncluster: !Sub 'touch {marker}'\n",
    ],
)
def test_yaml_object_tags_refused(text: str, tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    with pytest.raises(Invalid) as error:
        load_template(text.format(marker=marker), registry=NO_PLUGINS)
    [(field, message)] = problems(error).items()
    assert field == "template"
    assert "is not allowed; templates are plain data" in message
    assert message.startswith("line ")
    assert not marker.exists()


def test_short_form_tags_accepted() -> None:
    short = load(
        """
        name: short
        parameters:
          Profile: {type: String, default: small, allowed_values: [small, big]}
        mappings:
          Shapes: {small: {cores: 1}, big: {cores: 4}}
        conditions:
          IsBig: !Equals [!Ref Profile, big]
          NotBig: !Not [!Condition IsBig]
        cluster:
          workers_min: 1
          workers_max: !Min [!Size {users: 3, executors_per_user: 4, executors_per_node: 5}, 8]
          worker_cores: !FindInMap [Shapes, !Ref Profile, cores]
          worker_memory_mib: !Max [1024, !Multiply [512, 4]]
          executor_cores: 1
          executor_memory_mib: 512
          capacity_type: !If [NotBig, ON_DEMAND, PREEMPTIBLE]
        """
    )
    spec = resolve(short, {"Profile": "big"})
    assert (spec.workers_max, spec.worker_cores, spec.worker_memory_mib) == (3, 4, 2048)
    assert spec.capacity_type == "PREEMPTIBLE"
    assert resolve(short, {}).capacity_type == "ON_DEMAND"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: a\nname: b\ncluster: {}\n", "line 2, column 1: duplicate key 'name'"),
        ("name: &n x\ncluster: {a: *n}\n", "aliases (*name) are not allowed"),
        ("name: x\ncluster: {<<: {a: 1}}\n", "merge keys (<<) are not allowed"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("name: x\ncluster: [unclosed\n", "line 3"),
        ("[" * 1000 + "]" * 1000, "line 1, column 65: nested more than 64 levels deep"),
        ("a: " + "{" * 100_000, "nested more than 64 levels deep"),
        ("x: " + "y" * (256 * 1024), "at most 262144 characters"),
    ],
)
def test_unreadable_yaml(text: str, message: str) -> None:
    with pytest.raises(Invalid) as error:
        load_template(text, registry=NO_PLUGINS)
    [(field, found)] = problems(error).items()
    assert field == "template"
    assert message in found


def test_yaml_safe_load_itself_refuses_python_tags() -> None:
    # The guarantee the loader builds on.
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load("!!python/object/apply:os.system ['true']")


# ---------------------------------------------------------------------------------------
# Plug-in sizing functions


def fake_emr_size(*, users: float, fleet: str = "task") -> float:
    if users > 100:
        raise ValueError("at most 100 users")
    return users * 2 + (1 if fleet == "core" else 0)


def fake_returns_text(**_: object) -> str:
    return "many"


def fake_crashes(**_: object) -> float:
    raise RuntimeError("bug in the plug-in")


NOT_CALLABLE = 42


def entry_point(name: str, attribute: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{__name__}:{attribute}", group=ENTRY_POINT_GROUP)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EntryPoint]]:
    """The entry points 'installed' for the test; the default registry reloads them."""
    found: list[EntryPoint] = []
    monkeypatch.setattr(plugins, "discover", lambda: found)
    default_registry.cache_clear()
    yield found
    default_registry.cache_clear()


FN = {"Fn": {"name": "emr_size", "args": {"users": {"Ref": "Users"}, "fleet": "core"}}}
USERS = {"Users": {"type": "Number", "default": 2, "min": 1, "max": 30}}


def test_plugin_from_entry_point(installed: list[EntryPoint]) -> None:
    installed.append(entry_point("emr_size", "fake_emr_size"))
    registry = plugins.load_registry()
    assert registry.names() == {"emr_size"}
    assert workers_max(FN, registry, parameters=USERS, values={"Users": "10"}) == 21
    # The default registry is what templates use when none is given.
    template = compile_template(document(parameters=USERS, cluster={"workers_max": FN}))
    assert resolve(template, {}).workers_max == 5


def test_plugin_refusing_its_input_and_misbehaving(installed: list[EntryPoint]) -> None:
    installed += [
        entry_point("emr_size", "fake_emr_size"),
        entry_point("texty", "fake_returns_text"),
        entry_point("crashy", "fake_crashes"),
    ]
    registry = plugins.load_registry()
    parameters = {"Users": {"type": "Number", "default": 2}}
    template = compile_template(
        document(parameters=parameters, cluster={"workers_max": FN}), registry=registry
    )
    with pytest.raises(Invalid) as error:
        resolve(template, {"Users": 500}, registry=registry)
    assert problems(error) == {"cluster.workers_max.Fn": "function emr_size: at most 100 users"}

    texty = document(cluster={"workers_max": {"Fn": {"name": "texty"}}})
    with pytest.raises(Invalid) as error:
        publish(texty, registry)
    assert problems(error) == {
        "cluster.workers_max.Fn": "function texty returned 'many', not a number (with the defaults)"
    }
    crashy = compile_template(
        document(cluster={"workers_max": {"Fn": {"name": "crashy"}}}), registry=registry
    )
    with pytest.raises(StudioError) as failure:
        resolve(crashy, {}, registry=registry)
    assert failure.value.status == 500
    assert "bug in the plug-in" not in failure.value.message
    # A plug-in uninstalled after publishing is reported, not a crash.
    with pytest.raises(Invalid) as error:
        resolve(template, {}, registry=NO_PLUGINS)
    assert problems(error) == {
        "cluster.workers_max.Fn": "template function 'emr_size' is not installed"
    }


def test_plugin_names_never_shadow_builtins(
    installed: list[EntryPoint], caplog: pytest.LogCaptureFixture
) -> None:
    installed += [
        entry_point("Size", "fake_emr_size"),
        entry_point("min", "fake_emr_size"),  # case does not make a new name
        entry_point("emr_size", "fake_emr_size"),
        entry_point("emr_size", "fake_returns_text"),  # a second plug-in with a taken name
        entry_point("answer", "NOT_CALLABLE"),
        EntryPoint(name="gone", value="no_such_module_xyz:size", group=ENTRY_POINT_GROUP),
        entry_point("bad-name", "fake_emr_size"),
    ]
    with caplog.at_level(logging.ERROR, logger="sparkstudio.templates"):
        registry = plugins.load_registry()
    assert registry.names() == {"emr_size"}
    assert registry.get("emr_size") is fake_emr_size
    refused = "\n".join(record.getMessage() for record in caplog.records)
    for name in ("Size", "min", "answer", "gone", "bad-name"):
        assert f"template function {name!r}" in refused
    assert "is a built-in function" in refused
    assert "already registered" in refused


def test_registry_register_refuses_collisions() -> None:
    registry = FunctionRegistry({"emr_size": fake_emr_size})
    for name in ("Size", "FindInMap", "fn", "emr_size"):
        with pytest.raises(ValueError, match=name):
            registry.register(name, fake_emr_size)
    with pytest.raises(ValueError, match="not callable"):
        registry.register("other", NOT_CALLABLE)  # type: ignore[arg-type]


def test_fn_arguments_are_checked() -> None:
    registry = FunctionRegistry({"emr_size": fake_emr_size})
    data = document(cluster={"workers_max": {"Fn": {"name": "emr_size", "args": {"__class__": 1}}}})
    with pytest.raises(Invalid) as error:
        publish(data, registry)
    assert problems(error) == {
        "cluster.workers_max.Fn.args": "argument names are identifiers (got '__class__')"
    }
    data = document(cluster={"workers_max": {"Fn": {"name": "emr_size", "code": "x"}}})
    with pytest.raises(Invalid) as error:
        publish(data, registry)
    assert "cluster.workers_max.Fn" in problems(error)


# ---------------------------------------------------------------------------------------
# ClusterSpec


VALID_SPEC: dict[str, Any] = {**CLUSTER}


def spec_problems(**changes: Any) -> dict[str, str]:
    with pytest.raises(Invalid) as error:
        build_spec({**VALID_SPEC, **changes})
    return problems(error)


def test_spec_defaults() -> None:
    spec = build_spec(VALID_SPEC)
    assert spec == ClusterSpec(**VALID_SPEC)
    assert (spec.capacity_type, spec.idle_timeout_seconds, spec.spark_conf, spec.tags) == (
        "ON_DEMAND",
        3600,
        {},
        {},
    )


# Every field at its own extreme, so that each bound can be probed alone.
ROOMY_SPEC: dict[str, Any] = {
    "workers_min": 0,
    "workers_max": 64,
    "worker_cores": 64,
    "worker_memory_mib": 262144,
    "executor_cores": 1,
    "executor_memory_mib": 256,
}


@pytest.mark.parametrize(
    ("field", "low", "high", "rule"),
    [
        ("workers_min", 0, 64, "an integer from 0 to 64"),
        ("workers_max", 1, 64, "an integer from 1 to 64, at least workers_min"),
        ("worker_cores", 1, 64, "an integer from 1 to 64"),
        ("worker_memory_mib", 512, 262144, "an integer from 512 to 262144"),
        ("executor_cores", 1, 64, "an integer from 1 to 64, at most worker_cores"),
        (
            "executor_memory_mib",
            256,
            262144,
            "an integer from 256 to 262144, at most worker_memory_mib",
        ),
        ("idle_timeout_seconds", 60, 604800, "an integer from 60 to 604800 (1 minute to 7 days)"),
    ],
)
def test_spec_bounds(field: str, low: int, high: int, rule: str) -> None:
    assert getattr(build_spec({**ROOMY_SPEC, field: low}), field) == low
    assert getattr(build_spec({**ROOMY_SPEC, field: high}), field) == high
    for bad in (low - 1, high + 1, "4", 4.0, True, None):
        with pytest.raises(Invalid) as error:
            build_spec({**ROOMY_SPEC, field: bad})
        assert problems(error) == {f"cluster.{field}": f"must be {rule} (got {bad!r})"}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"workers_min": 3, "workers_max": 2},
            "cluster.workers_max",
            "must be an integer from 1 to 64, at least workers_min (3) (got 2)",
        ),
        (
            {"worker_cores": 2, "executor_cores": 4},
            "cluster.executor_cores",
            "must be an integer from 1 to 64, at most worker_cores (2) (got 4)",
        ),
        (
            {"worker_memory_mib": 1024, "executor_memory_mib": 2048},
            "cluster.executor_memory_mib",
            "must be an integer from 256 to 262144, at most worker_memory_mib (1024) (got 2048)",
        ),
        (
            {"capacity_type": "SPOT"},
            "cluster.capacity_type",
            "must be one of 'ON_DEMAND' or 'PREEMPTIBLE' (got 'SPOT')",
        ),
        ({"instance_type": "m5.xlarge"}, "cluster.instance_type", "unknown key; allowed keys: "),
        ({"tags": {"bad\nkey": "v"}}, "cluster.tags.bad\nkey", "must be 1 to 128 letters"),
        (
            {"spark_conf": {"spark.x": 1}},
            "cluster.spark_conf.spark.x",
            "Input should be a valid string",
        ),
    ],
)
def test_spec_field_rules(changes: dict[str, Any], field: str, message: str) -> None:
    found = spec_problems(**changes)
    assert field in found, found
    assert found[field].startswith(message)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("spark.master", "set by the platform"),
        ("spark.driver.host", "set by the platform"),
        ("spark.ui.port", "set by the platform"),
        ("spark.eventLog.dir", "set by the platform"),
        ("spark.connect.grpc.binding.port", "set by the platform"),
        ("spark.connect.authenticate.token", "authentication and secrets are managed"),
        ("spark.authenticate", "authentication and secrets are managed"),
        ("spark.authenticate.secret", "authentication and secrets are managed"),
        ("spark.ssl.keyPassword", "authentication and secrets are managed"),
        ("spark.hadoop.fs.s3a.session.token", "authentication and secrets are managed"),
        ("spark.executor.cores", "set executor_cores instead"),
        ("spark.executor.memory", "set executor_memory_mib instead"),
        ("hadoop.tmp.dir", "keys must start with 'spark.'"),
        ("spark.", "keys must start with 'spark.'"),
        ("spark.a b", "keys must start with 'spark.'"),
    ],
)
def test_spec_refuses_platform_spark_conf(key: str, message: str) -> None:
    found = spec_problems(spark_conf={"spark.sql.shuffle.partitions": "8", key: "x"})
    assert list(found) == ["cluster.spark_conf"]
    assert message in found["cluster.spark_conf"]
    assert "spark.sql.shuffle.partitions" not in found["cluster.spark_conf"]


def test_spec_accepts_ordinary_spark_conf() -> None:
    conf = {"spark.sql.shuffle.partitions": "8", "spark.executor.extraJavaOptions": "-Dx=1"}
    assert build_spec({**VALID_SPEC, "spark_conf": conf}).spark_conf == conf


def test_a_bad_parameter_type_is_the_only_problem_reported() -> None:
    with pytest.raises(Invalid) as error:
        publish(with_parameter(type="Integer", min=1, max=2, default=1))
    assert set(problems(error)) == {"parameters.P.type"}


def test_load_template_dry_runs() -> None:
    # What publishing a file does: the text is read, checked and tried with every choice.
    text = builtin_text("analytics").replace("max: 16", "max: 65")
    with pytest.raises(Invalid) as error:
        load_template(text, registry=NO_PLUGINS)
    assert problems(error) == {
        "cluster.workers_max": "must be an integer from 1 to 64, at least workers_min "
        "(got 65) (when UserConcurrency=20)"
    }


def test_expression_depth_is_bounded() -> None:
    deep: Any = 1
    for _ in range(30):
        deep = {"Max": [deep]}
    with pytest.raises(Invalid) as error:
        publish(document(cluster={"workers_max": deep}))
    [(field, message)] = problems(error).items()
    assert field.startswith("cluster.workers_max.Max[0].Max[0]")
    assert message == "expressions nest at most 24 levels"
    shallow: Any = 3
    for _ in range(10):
        shallow = {"Max": [shallow]}
    assert workers_max(shallow) == 3
