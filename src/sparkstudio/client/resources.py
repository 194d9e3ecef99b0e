"""One accessor per resource; each returns the API's public models."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sparkstudio.errors import NotFound, StudioError
from sparkstudio.schemas.events import EventPublic
from sparkstudio.schemas.groups import GroupPublic
from sparkstudio.schemas.members import MemberPublic
from sparkstudio.schemas.studios import StudioPublic
from sparkstudio.schemas.tokens import AwsKeySecret, TokenPublic, TokenSecret
from sparkstudio.schemas.users import UserPublic
from sparkstudio.schemas.workspaces import (
    GitOutput,
    LeftoverFiles,
    RepoPublic,
    SharePublic,
    WorkspacePublic,
)

if TYPE_CHECKING:
    from sparkstudio.client.client import Client


# Workspace statuses (``sparkstudio.lifecycle.WorkspaceStatus``) that ``Workspaces.wait`` uses.
WORKSPACE_RUNNING = frozenset({"READY", "ATTACHED", "IDLE"})
WORKSPACE_STOPPED = "STOPPED"
_ATTACHMENT_CODES = frozenset({"ATTACHED", "SWITCHED", "DETACHED"})


def _given(**fields: Any) -> dict[str, Any]:
    """The fields a caller actually passed (None means "leave unchanged")."""
    return {k: v for k, v in fields.items() if v is not None}


class _Resource:
    def __init__(self, client: Client) -> None:
        self._client = client


class Users(_Resource):
    def create(
        self,
        name: str,
        *,
        password: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        is_platform_admin: bool = False,
    ) -> UserPublic:
        body = _given(name=name, password=password, display_name=display_name, email=email) | {
            "is_platform_admin": is_platform_admin
        }
        return self._client.send_model(UserPublic, "POST", "/users", body)

    def list(self, *, name: str | None = None) -> list[UserPublic]:
        return list(self._client.iterate(UserPublic, "/users", name=name))

    def get(self, user_id: str) -> UserPublic:
        return self._client.get_model(UserPublic, f"/users/{user_id}")

    def get_by_name(self, name: str) -> UserPublic:
        for user in self.list(name=name):
            return user
        raise NotFound(f"no user named '{name}'")

    def update(
        self,
        user_id: str,
        *,
        password: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        is_platform_admin: bool | None = None,
        disabled: bool | None = None,
    ) -> UserPublic:
        body = _given(
            password=password,
            display_name=display_name,
            email=email,
            is_platform_admin=is_platform_admin,
            disabled=disabled,
        )
        return self._client.send_model(UserPublic, "PATCH", f"/users/{user_id}", body)

    def delete(self, user_id: str) -> None:
        self._client.request("DELETE", f"/users/{user_id}")


class Groups(_Resource):
    def create(self, name: str, *, description: str = "") -> GroupPublic:
        body = {"name": name, "description": description}
        return self._client.send_model(GroupPublic, "POST", "/groups", body)

    def list(self, *, name: str | None = None) -> list[GroupPublic]:
        return list(self._client.iterate(GroupPublic, "/groups", name=name))

    def get(self, group_id: str) -> GroupPublic:
        return self._client.get_model(GroupPublic, f"/groups/{group_id}")

    def get_by_name(self, name: str) -> GroupPublic:
        for group in self.list(name=name):
            return group
        raise NotFound(f"no group named '{name}'")

    def update(self, group_id: str, *, description: str | None = None) -> GroupPublic:
        body = _given(description=description)
        return self._client.send_model(GroupPublic, "PATCH", f"/groups/{group_id}", body)

    def delete(self, group_id: str) -> None:
        self._client.request("DELETE", f"/groups/{group_id}")

    def add_member(self, group_id: str, user_id: str) -> GroupPublic:
        path = f"/groups/{group_id}/members/{user_id}"
        return self._client.send_model(GroupPublic, "PUT", path)

    def remove_member(self, group_id: str, user_id: str) -> GroupPublic:
        path = f"/groups/{group_id}/members/{user_id}"
        return self._client.send_model(GroupPublic, "DELETE", path)


class Studios(_Resource):
    def create(
        self,
        name: str,
        *,
        description: str = "",
        storage_location: str | None = None,
        networks: builtins.list[str] | None = None,
    ) -> StudioPublic:
        body = _given(
            name=name,
            description=description,
            storage_location=storage_location,
            networks=networks,
        )
        return self._client.send_model(StudioPublic, "POST", "/studios", body)

    def list(self, *, name: str | None = None) -> list[StudioPublic]:
        return list(self._client.iterate(StudioPublic, "/studios", name=name))

    def get(self, studio_id: str) -> StudioPublic:
        return self._client.get_model(StudioPublic, f"/studios/{studio_id}")

    def get_by_name(self, name: str) -> StudioPublic:
        for studio in self.list(name=name):
            return studio
        raise NotFound(f"no studio named '{name}' (or you are not a member of it)")

    def update(
        self,
        studio_id: str,
        *,
        description: str | None = None,
        storage_location: str | None = None,
        networks: builtins.list[str] | None = None,
    ) -> StudioPublic:
        body = _given(description=description, storage_location=storage_location, networks=networks)
        return self._client.send_model(StudioPublic, "PATCH", f"/studios/{studio_id}", body)

    def delete(self, studio_id: str) -> None:
        self._client.request("DELETE", f"/studios/{studio_id}")


class Members(_Resource):
    def create(
        self,
        studio_id: str,
        *,
        role: str,
        user: str | None = None,
        group: str | None = None,
        session_policy: dict[str, Any] | None = None,
    ) -> MemberPublic:
        body = _given(user=user, group=group, role=role, session_policy=session_policy)
        path = f"/studios/{studio_id}/members"
        return self._client.send_model(MemberPublic, "POST", path, body)

    def list(self, studio_id: str) -> list[MemberPublic]:
        return list(self._client.iterate(MemberPublic, f"/studios/{studio_id}/members"))

    def get(self, studio_id: str, member_id: str) -> MemberPublic:
        return self._client.get_model(MemberPublic, f"/studios/{studio_id}/members/{member_id}")

    def update(
        self,
        studio_id: str,
        member_id: str,
        *,
        role: str | None = None,
        session_policy: dict[str, Any] | None = None,
        clear_session_policy: bool = False,
    ) -> MemberPublic:
        body = _given(role=role, session_policy=session_policy)
        if clear_session_policy:
            body["session_policy"] = None
        path = f"/studios/{studio_id}/members/{member_id}"
        return self._client.send_model(MemberPublic, "PATCH", path, body)

    def delete(self, studio_id: str, member_id: str) -> None:
        self._client.request("DELETE", f"/studios/{studio_id}/members/{member_id}")


class Workspaces(_Resource):
    """Workspaces of a studio: JupyterLab servers to start, stop, attach, share and open."""

    def _path(self, studio_id: str, workspace_id: str = "") -> str:
        base = f"/studios/{studio_id}/workspaces"
        return f"{base}/{workspace_id}" if workspace_id else base

    def create(
        self,
        studio_id: str,
        *,
        name: str,
        description: str = "",
        network: str | None = None,
        tags: dict[str, str] | None = None,
        idle_timeout_seconds: int | None = None,
    ) -> WorkspacePublic:
        """Create a workspace (STOPPED); ``idle_timeout_seconds``: the platform's by default."""
        body = _given(
            name=name,
            description=description,
            network=network,
            tags=tags,
            idle_timeout_seconds=idle_timeout_seconds,
        )
        return self._client.send_model(WorkspacePublic, "POST", self._path(studio_id), body)

    def list(
        self,
        studio_id: str,
        *,
        name: str | None = None,
        owner_id: str | None = None,
        status: str | None = None,
    ) -> builtins.list[WorkspacePublic]:
        items = self._client.iterate(
            WorkspacePublic, self._path(studio_id), name=name, owner_id=owner_id, status=status
        )
        return list(items)

    def get(self, studio_id: str, workspace_id: str) -> WorkspacePublic:
        return self._client.get_model(WorkspacePublic, self._path(studio_id, workspace_id))

    def get_by_name(self, studio_id: str, name: str) -> WorkspacePublic:
        for workspace in self.list(studio_id, name=name):
            return workspace
        raise NotFound(f"no workspace named '{name}' in studio {studio_id}")

    def update(
        self,
        studio_id: str,
        workspace_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        idle_timeout_seconds: int | None = None,
    ) -> WorkspacePublic:
        body = _given(
            name=name,
            description=description,
            tags=tags,
            idle_timeout_seconds=idle_timeout_seconds,
        )
        path = self._path(studio_id, workspace_id)
        return self._client.send_model(WorkspacePublic, "PATCH", path, body)

    def delete(self, studio_id: str, workspace_id: str, *, purge: bool = False) -> None:
        """Delete a stopped workspace; its files stay in the studio's storage unless ``purge``."""
        params = {"purge": "true"} if purge else None
        self._client.request("DELETE", self._path(studio_id, workspace_id), params=params)

    def events(self, studio_id: str, workspace_id: str) -> builtins.list[EventPublic]:
        path = self._path(studio_id, workspace_id) + "/events"
        return list(self._client.iterate(EventPublic, path))

    def start(self, studio_id: str, workspace_id: str) -> WorkspacePublic:
        """Ask for the JupyterLab server; answers at once. Use :meth:`wait` for READY."""
        path = self._path(studio_id, workspace_id) + "/start"
        return self._client.send_model(WorkspacePublic, "POST", path)

    def stop(self, studio_id: str, workspace_id: str) -> WorkspacePublic:
        """Ask to stop the server and its kernels (files are kept); answers at once."""
        path = self._path(studio_id, workspace_id) + "/stop"
        return self._client.send_model(WorkspacePublic, "POST", path)

    def attach(self, studio_id: str, workspace_id: str, cluster: str) -> WorkspacePublic:
        """Attach to a RUNNING or WAITING cluster (its id or name), or switch to it."""
        path = self._path(studio_id, workspace_id) + "/attachment"
        return self._client.send_model(WorkspacePublic, "PUT", path, {"cluster_id": cluster})

    def detach(self, studio_id: str, workspace_id: str) -> WorkspacePublic:
        path = self._path(studio_id, workspace_id) + "/attachment"
        return self._client.send_model(WorkspacePublic, "DELETE", path)

    def shares(self, studio_id: str, workspace_id: str) -> builtins.list[SharePublic]:
        """The members the workspace is shared with (besides its owner)."""
        items = self._client.request("GET", self._path(studio_id, workspace_id) + "/shares")
        return [SharePublic.model_validate(item) for item in items]

    def share(self, studio_id: str, workspace_id: str, user: str) -> SharePublic:
        """Let a member of the studio (by user name) open and use the workspace."""
        path = self._path(studio_id, workspace_id) + "/shares"
        return self._client.send_model(SharePublic, "POST", path, {"user": user})

    def unshare(self, studio_id: str, workspace_id: str, user: str) -> None:
        path = self._path(studio_id, workspace_id) + f"/shares/{quote(user, safe='')}"
        self._client.request("DELETE", path)

    def repos(self, studio_id: str, workspace_id: str) -> builtins.list[RepoPublic]:
        """The Git repositories linked to the workspace."""
        items = self._client.request("GET", self._path(studio_id, workspace_id) + "/repos")
        return [RepoPublic.model_validate(item) for item in items]

    def link_repo(
        self,
        studio_id: str,
        workspace_id: str,
        url: str,
        *,
        branch: str = "",
        name: str | None = None,
        username: str = "",
        password: str | None = None,
    ) -> RepoPublic:
        """Link a Git repository (at most three) and clone it into the workspace's files.

        ``name``: the folder, the repository's name by default; ``password``: a password or
        access token, stored encrypted for pull and push.
        """
        body = _given(
            url=url, branch=branch or None, name=name, username=username or None, password=password
        )
        path = self._path(studio_id, workspace_id) + "/repos"
        return self._client.send_model(RepoPublic, "POST", path, body)

    def unlink_repo(self, studio_id: str, workspace_id: str, repo_name: str) -> None:
        """Forget the link and its credentials; the working tree stays in the files."""
        self._client.request("DELETE", self._repo_path(studio_id, workspace_id, repo_name))

    def pull_repo(self, studio_id: str, workspace_id: str, repo_name: str) -> GitOutput:
        """``git pull`` (a merge) in the repository's working tree; git's output."""
        path = self._repo_path(studio_id, workspace_id, repo_name) + "/pull"
        return self._client.send_model(GitOutput, "POST", path)

    def push_repo(self, studio_id: str, workspace_id: str, repo_name: str) -> GitOutput:
        """Push the working tree's current branch to origin; git's output."""
        path = self._repo_path(studio_id, workspace_id, repo_name) + "/push"
        return self._client.send_model(GitOutput, "POST", path)

    def _repo_path(self, studio_id: str, workspace_id: str, repo_name: str) -> str:
        return self._path(studio_id, workspace_id) + f"/repos/{quote(repo_name, safe='')}"

    def leftovers(self, studio_id: str) -> builtins.list[LeftoverFiles]:
        """Files of deleted (not purged) workspaces left in the studio's storage (admins)."""
        items = self._client.request("GET", f"/studios/{studio_id}/workspace-leftovers")
        return [LeftoverFiles.model_validate(item) for item in items]

    def open_url(self, studio_id: str, workspace_id: str) -> str:
        """The absolute URL of the workspace's JupyterLab (a browser must be logged in)."""
        return self._client.url + self.get(studio_id, workspace_id).url

    def wait(
        self,
        studio_id: str,
        workspace_id: str,
        statuses: Collection[str] = WORKSPACE_RUNNING,
        *,
        timeout: float = 120,
        poll: float = 0.5,
        on_change: Callable[[WorkspacePublic], None] | None = None,
    ) -> WorkspacePublic:
        """Poll until the status is one of ``statuses`` (by default: running) and return it.

        Raises :class:`StudioError` with the reason when the workspace ends up STOPPED
        and is not starting (e.g. its server failed to start), unless STOPPED is awaited,
        or when ``timeout`` seconds pass. ``on_change(workspace)`` sees every status.
        """
        wanted = frozenset(statuses)
        deadline = time.monotonic() + timeout
        seen: str | None = None
        while True:
            workspace = self.get(studio_id, workspace_id)
            if workspace.status != seen and on_change is not None:
                on_change(workspace)
            seen = workspace.status
            if workspace.status in wanted:
                return workspace
            if workspace.status == workspace.target == WORKSPACE_STOPPED:
                raise self._stopped(workspace)
            if time.monotonic() >= deadline:
                raise StudioError(
                    f"workspace {workspace.name} ({workspace.id}) is still {workspace.status} "
                    f"after {timeout:g} s; 'sparkstudio workspace events {workspace.id}' shows why",
                    reason="WaitTimeout",
                    status=408,
                )
            time.sleep(poll)

    def _stopped(self, workspace: WorkspacePublic) -> StudioError:
        """Why a workspace is STOPPED: its latest event that is not about its cluster (a
        start refused before STARTING is only noted, so the status reason may be older)."""
        reason = workspace.status_reason
        for event in reversed(self.events(workspace.studio_id, workspace.id)):
            if event.reason.code not in _ATTACHMENT_CODES:
                reason = event.reason
                break
        return StudioError(
            f"workspace {workspace.name} ({workspace.id}) is STOPPED and not starting: "
            f"{reason.message or reason.code}",
            reason=reason.code or WORKSPACE_STOPPED,
            status=409,
        )


class Tokens(_Resource):
    def create(self, name: str, *, expires_in_days: int = 90) -> TokenSecret:
        body = {"name": name, "expires_in_days": expires_in_days}
        return self._client.send_model(TokenSecret, "POST", "/tokens", body)

    def create_aws_key(self, name: str, studio: str, *, expires_in_days: int = 90) -> AwsKeySecret:
        """An AWS access key pair acting in ``studio`` (id or name); the secret is in the
        answer only."""
        body = {"name": name, "aws": True, "studio": studio, "expires_in_days": expires_in_days}
        return self._client.send_model(AwsKeySecret, "POST", "/tokens", body)

    def list(self, *, include_inactive: bool = False) -> list[TokenPublic]:
        items = self._client.iterate(TokenPublic, "/tokens", include_inactive=include_inactive)
        return list(items)

    def revoke(self, token_id: str) -> None:
        self._client.request("DELETE", f"/tokens/{token_id}")
