"""Session policies and the authorization decision.

A membership grants the actions of its role; its optional session policy narrows them,
in the manner of an IAM session policy: an action is allowed by a membership when the
role grants it *and* the policy (if any) has an Allow statement matching the action and
resource. An explicit Deny in any of the caller's applicable policies wins over every
Allow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from sparkstudio.auth.actions import ACTIONS, STUDIO_ACTIONS, Action, Role, Scope, role_actions


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


_PATTERN_TEXT = r"^[A-Za-z0-9:/*?._\-]{1,256}$"
PatternList = Annotated[
    list[Annotated[str, Field(pattern=_PATTERN_TEXT)]],
    BeforeValidator(_as_list),
    Field(min_length=1, max_length=50),
]


@lru_cache(maxsize=1024)
def _compile(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # '*' matches any run of characters (slashes included), '?' one character.
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def matches_action(pattern: str, action: Action) -> bool:
    return _compile(pattern, True).match(action.value) is not None


def matches_resource(pattern: str, resource: str) -> bool:
    return _compile(pattern, False).match(resource) is not None


class Statement(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    sid: str | None = Field(default=None, alias="Sid", max_length=128, pattern=r"^[A-Za-z0-9]*$")
    effect: Effect = Field(alias="Effect")
    action: PatternList = Field(alias="Action")
    resource: PatternList = Field(default=["*"], alias="Resource")

    @field_validator("action")
    @classmethod
    def _known_actions(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not any(matches_action(pattern, action) for action in STUDIO_ACTIONS):
                known = ", ".join(sorted(a.value for a in STUDIO_ACTIONS))
                raise ValueError(
                    f"'{pattern}' matches no studio action; use one of {known} "
                    "or a pattern with '*'"
                )
        return patterns

    @field_validator("resource")
    @classmethod
    def _studio_resources(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if pattern != "*" and not pattern.startswith("studio/"):
                raise ValueError(
                    f"'{pattern}' is not a resource pattern; use '*' or "
                    "'studio/<studio-id>[/<kind>/<id>]' with '*' wildcards"
                )
        return patterns

    def applies(self, action: Action, resource: str) -> bool:
        return any(matches_action(p, action) for p in self.action) and any(
            matches_resource(p, resource) for p in self.resource
        )


class SessionPolicy(BaseModel):
    """Allow/Deny statements narrowing what one membership grants."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    version: str = Field(default="2026-11-01", alias="Version", pattern=r"^2026-11-01$")
    statement: list[Statement] = Field(alias="Statement", min_length=1, max_length=50)

    def allows(self, action: Action, resource: str) -> bool:
        return any(s.effect is Effect.ALLOW and s.applies(action, resource) for s in self.statement)

    def denies(self, action: Action, resource: str) -> bool:
        return any(s.effect is Effect.DENY and s.applies(action, resource) for s in self.statement)


@dataclass(frozen=True)
class Grant:
    """What one membership (direct or through a group) contributes to a decision."""

    role: Role
    policy: SessionPolicy | None


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"  # a member without this permission: 403
    HIDDEN = "hidden"  # not a member: the studio does not exist for the caller, 404


def decide(
    action: Action, *, is_platform_admin: bool, grants: Iterable[Grant], resource: str = ""
) -> Decision:
    spec = ACTIONS[action]
    if spec.scope is Scope.SELF or is_platform_admin:
        return Decision.ALLOW
    if spec.scope is Scope.PLATFORM:
        return Decision.DENY
    grants = list(grants)
    if not grants:
        return Decision.HIDDEN
    if any(g.policy is not None and g.policy.denies(action, resource) for g in grants):
        return Decision.DENY
    for grant in grants:
        if action in role_actions(grant.role) and (
            grant.policy is None or grant.policy.allows(action, resource)
        ):
            return Decision.ALLOW
    return Decision.DENY
