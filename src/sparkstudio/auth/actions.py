"""The one table of actions, and the roles that are named sets of them.

Every API route declares one action. An action has a scope:

- ``SELF``: any signed-in user, on their own things (tokens, the studios they belong to);
- ``PLATFORM``: platform admins only (users, groups, creating studios);
- ``STUDIO``: inside one studio, granted by a membership's role and narrowed by its
  session policy; a studio the caller does not belong to does not exist for them (404).

The studio roles mirror EMR Studio's user tiers: DEVELOPER is the everyday member,
ADMIN also manages the studio and its members; platform admins may do everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache


class Scope(StrEnum):
    SELF = "self"
    PLATFORM = "platform"
    STUDIO = "studio"


class Role(StrEnum):
    """A studio membership's role."""

    ADMIN = "ADMIN"
    DEVELOPER = "DEVELOPER"


class Action(StrEnum):
    TOKEN_CREATE = "token:Create"
    TOKEN_LIST = "token:List"
    TOKEN_DELETE = "token:Delete"
    SESSION_DESCRIBE = "session:Describe"
    RELEASE_LABEL_LIST = "release-label:List"
    SESSION_DELETE = "session:Delete"
    PASSWORD_CHANGE = "session:ChangePassword"
    ACTION_LIST = "action:List"

    USER_CREATE = "user:Create"
    USER_LIST = "user:List"
    USER_DESCRIBE = "user:Describe"
    USER_UPDATE = "user:Update"
    USER_DELETE = "user:Delete"
    GROUP_CREATE = "group:Create"
    GROUP_LIST = "group:List"
    GROUP_DESCRIBE = "group:Describe"
    GROUP_UPDATE = "group:Update"
    GROUP_DELETE = "group:Delete"
    STUDIO_CREATE = "studio:Create"
    STUDIO_LIST = "studio:List"

    STUDIO_DESCRIBE = "studio:Describe"
    STUDIO_UPDATE = "studio:Update"
    STUDIO_DELETE = "studio:Delete"
    MEMBER_CREATE = "member:Create"
    MEMBER_LIST = "member:List"
    MEMBER_DESCRIBE = "member:Describe"
    MEMBER_UPDATE = "member:Update"
    MEMBER_DELETE = "member:Delete"
    WORKSPACE_CREATE = "workspace:Create"
    WORKSPACE_LIST = "workspace:List"
    WORKSPACE_DESCRIBE = "workspace:Describe"
    WORKSPACE_UPDATE = "workspace:Update"
    WORKSPACE_DELETE = "workspace:Delete"
    WORKSPACE_START = "workspace:Start"
    WORKSPACE_STOP = "workspace:Stop"
    WORKSPACE_OPEN = "workspace:Open"
    WORKSPACE_ATTACH = "workspace:Attach"
    WORKSPACE_SHARE = "workspace:Share"
    WORKSPACE_REPOS = "workspace:ManageRepos"
    WORKSPACE_LIST_LEFTOVERS = "workspace:ListLeftoverFiles"
    STUDIO_SET_QUOTAS = "studio:SetQuotas"

    TEMPLATE_PUBLISH = "template:Publish"
    TEMPLATE_LIST = "template:List"
    TEMPLATE_DESCRIBE = "template:Describe"
    TEMPLATE_DELETE = "template:Delete"
    TEMPLATE_SHARE = "template:Share"
    TEMPLATE_UNSHARE = "template:Unshare"
    TEMPLATE_LIST_SHARED = "template:ListShared"
    TEMPLATE_DESCRIBE_SHARED = "template:DescribeShared"

    CLUSTER_CREATE = "cluster:Create"
    CLUSTER_CREATE_FROM_SPEC = "cluster:CreateFromSpec"
    CLUSTER_REGISTER = "cluster:Register"
    CLUSTER_LIST = "cluster:List"
    CLUSTER_DESCRIBE = "cluster:Describe"
    CLUSTER_CONNECT = "cluster:Connect"
    CLUSTER_VIEW_UI = "cluster:ViewUI"
    CLUSTER_SCALE = "cluster:Scale"
    CLUSTER_TERMINATE = "cluster:Terminate"
    APPLICATION_CREATE = "application:Create"
    APPLICATION_LIST = "application:List"
    APPLICATION_DESCRIBE = "application:Describe"
    APPLICATION_UPDATE = "application:Update"
    APPLICATION_START = "application:Start"
    APPLICATION_STOP = "application:Stop"
    APPLICATION_DELETE = "application:Delete"
    JOB_RUN_START = "job-run:Start"
    JOB_RUN_LIST = "job-run:List"
    JOB_RUN_DESCRIBE = "job-run:Describe"
    JOB_RUN_CANCEL = "job-run:Cancel"
    NOTEBOOK_EXECUTION_START = "notebook-execution:Start"
    NOTEBOOK_EXECUTION_LIST = "notebook-execution:List"
    NOTEBOOK_EXECUTION_DESCRIBE = "notebook-execution:Describe"
    NOTEBOOK_EXECUTION_STOP = "notebook-execution:Stop"
    NOTEBOOK_SCHEDULE_CREATE = "notebook-schedule:Create"
    NOTEBOOK_SCHEDULE_LIST = "notebook-schedule:List"
    NOTEBOOK_SCHEDULE_DESCRIBE = "notebook-schedule:Describe"
    NOTEBOOK_SCHEDULE_UPDATE = "notebook-schedule:Update"
    NOTEBOOK_SCHEDULE_RUN = "notebook-schedule:Run"
    NOTEBOOK_SCHEDULE_DELETE = "notebook-schedule:Delete"
    USAGE_DESCRIBE = "usage:Describe"
    AUDIT_LIST = "audit:List"


@dataclass(frozen=True)
class ActionSpec:
    action: Action
    scope: Scope
    description: str
    # Studio roles granted this action (platform admins are granted every action).
    roles: frozenset[Role] = frozenset()
    # Kind of the studio resource the action names: "" for the studio itself.
    resource_kind: str = ""


_BOTH = frozenset({Role.ADMIN, Role.DEVELOPER})
_ADMIN = frozenset({Role.ADMIN})


def _self(action: Action, description: str) -> ActionSpec:
    return ActionSpec(action, Scope.SELF, description)


def _platform(action: Action, description: str) -> ActionSpec:
    return ActionSpec(action, Scope.PLATFORM, description)


def _studio(action: Action, roles: frozenset[Role], kind: str, description: str) -> ActionSpec:
    return ActionSpec(action, Scope.STUDIO, description, roles, kind)


A = Action
ACTIONS: dict[Action, ActionSpec] = {
    spec.action: spec
    for spec in (
        _self(
            A.TOKEN_CREATE,
            "Create a personal API token, or an AWS access key pair for a studio you belong to.",
        ),
        _self(A.TOKEN_LIST, "List your own tokens and AWS access key pairs."),
        _self(A.TOKEN_DELETE, "Revoke one of your own tokens or AWS access key pairs."),
        _self(A.SESSION_DESCRIBE, "Describe yourself: user, groups and studio roles."),
        _self(A.RELEASE_LABEL_LIST, "List the release labels applications may run."),
        _self(A.SESSION_DELETE, "Log out (revoke the token in use)."),
        _self(A.PASSWORD_CHANGE, "Change your own password."),
        _self(A.ACTION_LIST, "List the action table."),
        _self(A.STUDIO_LIST, "List the studios you belong to (platform admins: all)."),
        _platform(A.USER_CREATE, "Create a user."),
        _platform(A.USER_LIST, "List users."),
        _platform(A.USER_DESCRIBE, "Describe a user."),
        _platform(A.USER_UPDATE, "Update a user (reset password, disable, grant platform admin)."),
        _platform(A.USER_DELETE, "Delete a user."),
        _platform(A.GROUP_CREATE, "Create a group."),
        _platform(A.GROUP_LIST, "List groups."),
        _platform(A.GROUP_DESCRIBE, "Describe a group."),
        _platform(A.GROUP_UPDATE, "Update a group and its members."),
        _platform(A.GROUP_DELETE, "Delete a group."),
        _platform(A.STUDIO_CREATE, "Create a studio."),
        _studio(A.STUDIO_DESCRIBE, _BOTH, "", "Describe a studio."),
        _studio(A.STUDIO_UPDATE, _ADMIN, "", "Update a studio's description, storage, networks."),
        _studio(A.STUDIO_DELETE, frozenset(), "", "Delete a studio (platform admins only)."),
        _studio(A.MEMBER_CREATE, _ADMIN, "member", "Map a user or group to the studio."),
        _studio(A.MEMBER_LIST, _BOTH, "member", "List the studio's members."),
        _studio(A.MEMBER_DESCRIBE, _BOTH, "member", "Describe a membership."),
        _studio(A.MEMBER_UPDATE, _ADMIN, "member", "Change a membership's role or policy."),
        _studio(A.MEMBER_DELETE, _ADMIN, "member", "Remove a membership."),
        _studio(A.WORKSPACE_CREATE, _BOTH, "workspace", "Create a workspace."),
        _studio(A.WORKSPACE_LIST, _BOTH, "workspace", "List the studio's workspaces."),
        _studio(A.WORKSPACE_DESCRIBE, _BOTH, "workspace", "Describe a workspace and its events."),
        _studio(A.WORKSPACE_UPDATE, _BOTH, "workspace", "Rename, describe or tag a workspace."),
        _studio(
            A.WORKSPACE_DELETE,
            _BOTH,
            "workspace",
            "Delete a stopped workspace (owner or studio admin), optionally purging its files.",
        ),
        _studio(
            A.WORKSPACE_START,
            _BOTH,
            "workspace",
            "Start a workspace's JupyterLab server (its owner and the members it is shared with).",
        ),
        _studio(
            A.WORKSPACE_STOP,
            _BOTH,
            "workspace",
            "Stop a workspace's server (its users or a studio admin).",
        ),
        _studio(
            A.WORKSPACE_OPEN,
            _BOTH,
            "workspace",
            "Open a workspace's JupyterLab through the proxy (its owner and shared members).",
        ),
        _studio(
            A.WORKSPACE_ATTACH,
            _BOTH,
            "workspace",
            "Attach a workspace to a cluster, switch or detach it (its users).",
        ),
        _studio(
            A.WORKSPACE_SHARE,
            _BOTH,
            "workspace",
            "Share a workspace with studio members or stop sharing it (owner or studio admin).",
        ),
        _studio(
            A.WORKSPACE_REPOS,
            _BOTH,
            "workspace",
            "Link, pull, push or unlink a workspace's Git repositories (its users).",
        ),
        _studio(
            A.WORKSPACE_LIST_LEFTOVERS,
            _ADMIN,
            "workspace",
            "List files left in the studio's storage by deleted workspaces.",
        ),
        _studio(
            A.STUDIO_SET_QUOTAS,
            frozenset(),
            "",
            "Set the studio's cluster quotas (platform admins only).",
        ),
        _platform(A.TEMPLATE_PUBLISH, "Publish a cluster template or a new version of one."),
        _platform(A.TEMPLATE_LIST, "List every published template."),
        _platform(A.TEMPLATE_DESCRIBE, "Describe a template: text, versions and shares."),
        _platform(A.TEMPLATE_DELETE, "Delete a template (its clusters keep running)."),
        _platform(A.TEMPLATE_SHARE, "Share a template with a studio."),
        _platform(A.TEMPLATE_UNSHARE, "Stop sharing a template with a studio."),
        _studio(
            A.TEMPLATE_LIST_SHARED, _BOTH, "template", "List the templates shared with the studio."
        ),
        _studio(
            A.TEMPLATE_DESCRIBE_SHARED,
            _BOTH,
            "template",
            "Describe a shared template's parameters.",
        ),
        _studio(
            A.CLUSTER_CREATE, _BOTH, "cluster", "Launch a cluster from a template shared with it."
        ),
        _studio(
            A.CLUSTER_CREATE_FROM_SPEC,
            _ADMIN,
            "cluster",
            "Launch a cluster from a raw cluster spec, without a template.",
        ),
        _studio(
            A.CLUSTER_REGISTER,
            _ADMIN,
            "cluster",
            "Register an existing Spark Connect endpoint as a cluster (bring your own Spark).",
        ),
        _studio(A.CLUSTER_LIST, _BOTH, "cluster", "List the studio's clusters."),
        _studio(A.CLUSTER_DESCRIBE, _BOTH, "cluster", "Describe a cluster and its events."),
        _studio(
            A.CLUSTER_CONNECT,
            _BOTH,
            "cluster",
            "Get a cluster's Spark Connect address with its credentials.",
        ),
        _studio(
            A.CLUSTER_VIEW_UI,
            _BOTH,
            "cluster",
            "Open a cluster's Spark UI and its history server pages.",
        ),
        _studio(A.CLUSTER_SCALE, _BOTH, "cluster", "Change a cluster's worker bounds."),
        _studio(A.CLUSTER_TERMINATE, _BOTH, "cluster", "Terminate a cluster."),
        _studio(A.APPLICATION_CREATE, _BOTH, "application", "Create a serverless application."),
        _studio(A.APPLICATION_LIST, _BOTH, "application", "List the studio's applications."),
        _studio(
            A.APPLICATION_DESCRIBE,
            _BOTH,
            "application",
            "Describe an application and its events.",
        ),
        _studio(
            A.APPLICATION_UPDATE,
            _BOTH,
            "application",
            "Change an application's capacity, release, auto-start/stop, scheduler or tags.",
        ),
        _studio(A.APPLICATION_START, _BOTH, "application", "Start an application's warm capacity."),
        _studio(A.APPLICATION_STOP, _BOTH, "application", "Stop every process of an application."),
        _studio(
            A.APPLICATION_DELETE, _BOTH, "application", "Delete a CREATED or STOPPED application."
        ),
        _studio(
            A.JOB_RUN_START,
            _BOTH,
            "application",
            "Submit a job run to an application (starting it if auto-start is on).",
        ),
        _studio(A.JOB_RUN_LIST, _BOTH, "application", "List an application's job runs."),
        _studio(
            A.JOB_RUN_DESCRIBE,
            _BOTH,
            "application",
            "Describe a job run, its attempts, its logs and its Spark UI.",
        ),
        _studio(A.JOB_RUN_CANCEL, _BOTH, "application", "Cancel a job run."),
        _studio(
            A.NOTEBOOK_EXECUTION_START,
            _BOTH,
            "notebook-execution",
            "Run a notebook headless on a cluster or an application, with parameters.",
        ),
        _studio(
            A.NOTEBOOK_EXECUTION_LIST, _BOTH, "notebook-execution", "List notebook executions."
        ),
        _studio(
            A.NOTEBOOK_EXECUTION_DESCRIBE,
            _BOTH,
            "notebook-execution",
            "Describe a notebook execution and download its outputs.",
        ),
        _studio(
            A.NOTEBOOK_EXECUTION_STOP, _BOTH, "notebook-execution", "Stop a notebook execution."
        ),
        _studio(
            A.NOTEBOOK_SCHEDULE_CREATE,
            _BOTH,
            "notebook-schedule",
            "Schedule a notebook execution on a cron expression.",
        ),
        _studio(A.NOTEBOOK_SCHEDULE_LIST, _BOTH, "notebook-schedule", "List notebook schedules."),
        _studio(
            A.NOTEBOOK_SCHEDULE_DESCRIBE,
            _BOTH,
            "notebook-schedule",
            "Describe a notebook schedule, its events and its history of runs.",
        ),
        _studio(
            A.NOTEBOOK_SCHEDULE_UPDATE,
            _BOTH,
            "notebook-schedule",
            "Change, pause or resume a notebook schedule.",
        ),
        _studio(
            A.NOTEBOOK_SCHEDULE_RUN,
            _BOTH,
            "notebook-schedule",
            "Run a notebook schedule now, outside its cron times.",
        ),
        _studio(
            A.NOTEBOOK_SCHEDULE_DELETE, _BOTH, "notebook-schedule", "Delete a notebook schedule."
        ),
        _studio(A.USAGE_DESCRIBE, _BOTH, "usage", "Report the studio's core and memory usage."),
        _platform(A.AUDIT_LIST, "Read and export the audit trail of changes and denied attempts."),
    )
}

assert set(ACTIONS) == set(Action), "every action needs exactly one row in ACTIONS"

STUDIO_ACTIONS: frozenset[Action] = frozenset(
    spec.action for spec in ACTIONS.values() if spec.scope is Scope.STUDIO
)


@cache
def role_actions(role: Role) -> frozenset[Action]:
    return frozenset(spec.action for spec in ACTIONS.values() if role in spec.roles)


def studio_resource(studio_id: str, kind: str = "", item_id: str | None = None) -> str:
    """The resource string an action is checked against, e.g. ``studio/st-…/workspace/ws-…``.

    Collection actions (list, create) name ``…/<kind>/*``.
    """
    base = f"studio/{studio_id}"
    return f"{base}/{kind}/{item_id or '*'}" if kind else base


def render_markdown() -> str:
    """The action table as Markdown (docs/authorization.md is generated from it)."""
    lines = [
        "| action | scope | studio roles granted | description |",
        "|---|---|---|---|",
    ]
    for spec in ACTIONS.values():
        roles = ", ".join(sorted(role.value for role in spec.roles)) or "—"
        if spec.scope is not Scope.STUDIO:
            roles = "any signed-in user" if spec.scope is Scope.SELF else "platform admins only"
        action, scope = spec.action.value, spec.scope.value
        lines.append(f"| `{action}` | {scope} | {roles} | {spec.description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
