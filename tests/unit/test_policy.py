"""Unit tests of the authorization decision, session policies and pattern matching."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from sparkstudio.auth.actions import (
    ACTIONS,
    STUDIO_ACTIONS,
    Action,
    Role,
    Scope,
    role_actions,
    studio_resource,
)
from sparkstudio.auth.policy import (
    Decision,
    Effect,
    Grant,
    SessionPolicy,
    decide,
    matches_action,
    matches_resource,
)

STUDIO = "st-0123456789abcdef"
WS = studio_resource(STUDIO, "workspace", "ws-0123456789abcdef")
OTHER_WS = studio_resource(STUDIO, "workspace", "ws-fedcba9876543210")
WS_COLLECTION = studio_resource(STUDIO, "workspace")


def policy(*statements: dict[str, Any]) -> SessionPolicy:
    return SessionPolicy.model_validate({"Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny(action: str | list[str], resource: str | list[str] = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


# --- the action table ------------------------------------------------------------------


def test_studio_resources() -> None:
    assert studio_resource(STUDIO) == f"studio/{STUDIO}"
    assert studio_resource(STUDIO, "workspace") == f"studio/{STUDIO}/workspace/*"
    assert f"studio/{STUDIO}/workspace/ws-0123456789abcdef" == WS


def test_roles_are_nested() -> None:
    """ADMIN may do all a DEVELOPER may, and more; nobody but platform admins deletes studios."""
    assert role_actions(Role.DEVELOPER) < role_actions(Role.ADMIN)
    assert role_actions(Role.ADMIN) <= STUDIO_ACTIONS
    assert Action.STUDIO_DELETE not in role_actions(Role.ADMIN)
    assert {Action.MEMBER_CREATE, Action.STUDIO_UPDATE} <= role_actions(Role.ADMIN)
    assert not {Action.MEMBER_CREATE, Action.STUDIO_UPDATE} & role_actions(Role.DEVELOPER)


def test_only_studio_actions_have_roles_or_resources() -> None:
    for spec in ACTIONS.values():
        if spec.scope is not Scope.STUDIO:
            assert spec.roles == frozenset() and spec.resource_kind == "", spec.action


# --- decide ----------------------------------------------------------------------------


def member(action: Action, *grants: Grant, resource: str = WS) -> Decision:
    """The decision for a caller who is not a platform admin, holding ``grants``."""
    return decide(action, is_platform_admin=False, grants=list(grants), resource=resource)


@pytest.mark.parametrize("action", list(Action))
def test_platform_admins_may_do_everything(action: Action) -> None:
    assert decide(action, is_platform_admin=True, grants=[], resource=WS) is Decision.ALLOW


@pytest.mark.parametrize("action", [a for a, s in ACTIONS.items() if s.scope is Scope.SELF])
def test_self_actions_need_no_grant(action: Action) -> None:
    assert member(action, resource="") is Decision.ALLOW


@pytest.mark.parametrize("action", [a for a, s in ACTIONS.items() if s.scope is Scope.PLATFORM])
def test_platform_actions_are_denied_to_everyone_else(action: Action) -> None:
    assert member(action, resource="") is Decision.DENY
    assert member(action, Grant(Role.ADMIN, None), resource="") is Decision.DENY


@pytest.mark.parametrize("action", sorted(STUDIO_ACTIONS))
def test_studio_actions_follow_the_role(action: Action) -> None:
    for role in Role:
        expected = Decision.ALLOW if role in ACTIONS[action].roles else Decision.DENY
        assert member(action, Grant(role, None)) is expected
    # Without any membership the studio does not exist for the caller.
    assert member(action) is Decision.HIDDEN


def test_a_policy_narrows_to_what_it_allows() -> None:
    grant = Grant(Role.DEVELOPER, policy(allow(["workspace:List", "workspace:Describe"])))
    assert member(Action.WORKSPACE_LIST, grant) is Decision.ALLOW
    assert member(Action.WORKSPACE_DESCRIBE, grant) is Decision.ALLOW
    assert member(Action.WORKSPACE_CREATE, grant) is Decision.DENY
    assert member(Action.STUDIO_DESCRIBE, grant) is Decision.DENY


def test_a_policy_cannot_widen_the_role() -> None:
    grant = Grant(Role.DEVELOPER, policy(allow("*")))
    assert member(Action.MEMBER_CREATE, grant) is Decision.DENY
    assert member(Action.WORKSPACE_CREATE, grant) is Decision.ALLOW


def test_a_deny_only_policy_allows_nothing() -> None:
    grant = Grant(Role.DEVELOPER, policy(deny("workspace:Delete")))
    assert member(Action.WORKSPACE_CREATE, grant) is Decision.DENY
    assert member(Action.WORKSPACE_DELETE, grant) is Decision.DENY


def test_an_explicit_deny_wins_over_every_allow() -> None:
    narrowed = Grant(Role.DEVELOPER, policy(allow("*"), deny("workspace:Delete")))
    unrestricted = Grant(Role.ADMIN, None)
    through_group = Grant(Role.DEVELOPER, policy(deny("workspace:Delete", WS)))
    assert member(Action.WORKSPACE_DELETE, narrowed) is Decision.DENY
    assert member(Action.WORKSPACE_CREATE, narrowed) is Decision.ALLOW
    assert member(Action.WORKSPACE_DELETE, unrestricted, through_group) is Decision.DENY
    assert member(Action.WORKSPACE_DELETE, through_group, unrestricted) is Decision.DENY
    # ... but only where it applies.
    both = (unrestricted, through_group)
    assert member(Action.WORKSPACE_DELETE, *both, resource=OTHER_WS) is Decision.ALLOW
    assert member(Action.WORKSPACE_UPDATE, *both) is Decision.ALLOW


def test_grants_add_up() -> None:
    read_only = Grant(Role.DEVELOPER, policy(allow("workspace:List")))
    full = Grant(Role.DEVELOPER, None)
    assert member(Action.WORKSPACE_CREATE, read_only) is Decision.DENY
    assert member(Action.WORKSPACE_CREATE, read_only, full) is Decision.ALLOW


def test_resource_patterns_select_workspaces() -> None:
    grant = Grant(Role.DEVELOPER, policy(allow("workspace:*", WS)))
    assert member(Action.WORKSPACE_UPDATE, grant) is Decision.ALLOW
    assert member(Action.WORKSPACE_UPDATE, grant, resource=OTHER_WS) is Decision.DENY
    assert member(Action.WORKSPACE_LIST, grant, resource=WS_COLLECTION) is Decision.DENY


def test_platform_admins_ignore_policies() -> None:
    grants = [Grant(Role.DEVELOPER, policy(deny("*")))]
    decision = decide(Action.WORKSPACE_DELETE, is_platform_admin=True, grants=grants, resource=WS)
    assert decision is Decision.ALLOW


# --- pattern matching ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("workspace:Delete", Action.WORKSPACE_DELETE, True),
        ("WORKSPACE:delete", Action.WORKSPACE_DELETE, True),  # case-insensitive
        ("workspace:*", Action.WORKSPACE_DELETE, True),
        ("workspace:*", Action.STUDIO_DELETE, False),
        ("*:Delete", Action.MEMBER_DELETE, True),
        ("*", Action.MEMBER_LIST, True),
        ("workspace:De?ete", Action.WORKSPACE_DELETE, True),
        ("workspace:De?", Action.WORKSPACE_DELETE, False),
        ("workspace:Del", Action.WORKSPACE_DELETE, False),  # anchored
        ("workspace.Delete", Action.WORKSPACE_DELETE, False),  # '.' is literal
    ],
)
def test_action_patterns(pattern: str, action: Action, matches: bool) -> None:
    assert matches_action(pattern, action) is matches


@pytest.mark.parametrize(
    ("pattern", "resource", "matches"),
    [
        ("*", WS, True),
        (f"studio/{STUDIO}/*", WS, True),  # '*' crosses slashes
        (f"studio/{STUDIO}", WS, False),
        (f"studio/{STUDIO}/workspace/ws-0123456789abcde?", WS, True),
        (f"studio/{STUDIO.upper()}/*", WS, False),  # case-sensitive
        ("studio/st-*/workspace/ws-0123456789abcdef", WS, True),
        ("studio/st-*/workspace/ws-0123456789abcdef", OTHER_WS, False),
        (f"studio/{STUDIO}/workspace/ws-0123456789abcdef", WS_COLLECTION, False),
        (f"studio/{STUDIO}/workspace/*", WS_COLLECTION, True),
        ("studio/st-0123456789abcde.", WS, False),
    ],
)
def test_resource_patterns(pattern: str, resource: str, matches: bool) -> None:
    assert matches_resource(pattern, resource) is matches


# --- session policy documents ----------------------------------------------------------


def test_a_policy_document_round_trips() -> None:
    document = {
        "Version": "2026-11-01",
        "Statement": [
            {"Sid": "ReadAll", "Effect": "Allow", "Action": ["workspace:List"], "Resource": ["*"]},
            {"Effect": "Deny", "Action": ["workspace:Delete"], "Resource": [WS]},
        ],
    }
    parsed = SessionPolicy.model_validate(document)
    assert parsed.statement[0].effect is Effect.ALLOW
    dumped = parsed.model_dump(by_alias=True, exclude_none=True)
    assert dumped == document
    assert SessionPolicy.model_validate(dumped) == parsed


def test_strings_become_lists_and_resource_defaults_to_everything() -> None:
    parsed = policy({"Effect": "Allow", "Action": "workspace:List"})
    assert parsed.statement[0].action == ["workspace:List"]
    assert parsed.statement[0].resource == ["*"]
    assert parsed.version == "2026-11-01"
    assert parsed.allows(Action.WORKSPACE_LIST, WS)
    assert not parsed.denies(Action.WORKSPACE_LIST, WS)


_ACTION = ("Statement", 0, "Action")
_RESOURCE = ("Statement", 0, "Resource")
_NO_ACTION = "matches no studio action"


@pytest.mark.parametrize(
    ("document", "location", "words"),
    [
        ({"Statement": [allow("foo:Bar")]}, _ACTION, _NO_ACTION),
        ({"Statement": [allow("token:Create")]}, _ACTION, _NO_ACTION),
        ({"Statement": [allow("workspace:List", "arn:x")]}, _RESOURCE, "not a resource pattern"),
        ({"Statement": [allow("workspace:List", "studio/ x")]}, (*_RESOURCE, 0), "pattern"),
        (
            {"Statement": [{**allow("workspace:List"), "Condition": {}}]},
            ("Statement", 0, "Condition"),
            "Extra",
        ),
        ({"Statement": [{"Effect": "Maybe", "Action": "*"}]}, ("Statement", 0, "Effect"), "Allow"),
        ({"Statement": [allow([])]}, _ACTION, "at least 1"),
        ({"Statement": []}, ("Statement",), "at least 1"),
        ({"Statement": [allow("*")] * 51}, ("Statement",), "at most 50"),
        ({}, ("Statement",), "required"),
        ({"Version": "2012-10-17", "Statement": [allow("*")]}, ("Version",), "pattern"),
        ({"Statement": [{**allow("*"), "Sid": "not ok"}]}, ("Statement", 0, "Sid"), "pattern"),
        ({"Statement": [allow("*")], "Extra": 1}, ("Extra",), "Extra"),
    ],
)
def test_invalid_policies_are_refused_where_they_are_wrong(
    document: dict[str, Any], location: tuple[Any, ...], words: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        SessionPolicy.model_validate(document)
    errors = raised.value.errors()
    assert [error["loc"] for error in errors] == [location]
    assert words.lower() in errors[0]["msg"].lower()
