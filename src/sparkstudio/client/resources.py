"""One accessor per resource; each returns the API's public models."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from sparkstudio.errors import NotFound
from sparkstudio.schemas.events import EventPublic
from sparkstudio.schemas.groups import GroupPublic
from sparkstudio.schemas.members import MemberPublic
from sparkstudio.schemas.studios import StudioPublic
from sparkstudio.schemas.tokens import TokenPublic, TokenSecret
from sparkstudio.schemas.users import UserPublic
from sparkstudio.schemas.workspaces import WorkspacePublic

if TYPE_CHECKING:
    from sparkstudio.client.client import Client


# Cluster statuses (``sparkstudio.lifecycle.ClusterStatus``) that ``Clusters.wait`` acts on.


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
    def create(
        self,
        studio_id: str,
        *,
        name: str,
        description: str = "",
        network: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> WorkspacePublic:
        body = _given(name=name, description=description, network=network, tags=tags)
        path = f"/studios/{studio_id}/workspaces"
        return self._client.send_model(WorkspacePublic, "POST", path, body)

    def list(
        self,
        studio_id: str,
        *,
        name: str | None = None,
        owner_id: str | None = None,
        status: str | None = None,
    ) -> builtins.list[WorkspacePublic]:
        path = f"/studios/{studio_id}/workspaces"
        items = self._client.iterate(
            WorkspacePublic, path, name=name, owner_id=owner_id, status=status
        )
        return list(items)

    def get(self, studio_id: str, workspace_id: str) -> WorkspacePublic:
        path = f"/studios/{studio_id}/workspaces/{workspace_id}"
        return self._client.get_model(WorkspacePublic, path)

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
    ) -> WorkspacePublic:
        body = _given(name=name, description=description, tags=tags)
        path = f"/studios/{studio_id}/workspaces/{workspace_id}"
        return self._client.send_model(WorkspacePublic, "PATCH", path, body)

    def delete(self, studio_id: str, workspace_id: str) -> None:
        self._client.request("DELETE", f"/studios/{studio_id}/workspaces/{workspace_id}")

    def events(self, studio_id: str, workspace_id: str) -> builtins.list[EventPublic]:
        path = f"/studios/{studio_id}/workspaces/{workspace_id}/events"
        return list(self._client.iterate(EventPublic, path))


class Tokens(_Resource):
    def create(self, name: str, *, expires_in_days: int = 90) -> TokenSecret:
        body = {"name": name, "expires_in_days": expires_in_days}
        return self._client.send_model(TokenSecret, "POST", "/tokens", body)

    def list(self, *, include_inactive: bool = False) -> list[TokenPublic]:
        items = self._client.iterate(TokenPublic, "/tokens", include_inactive=include_inactive)
        return list(items)

    def revoke(self, token_id: str) -> None:
        self._client.request("DELETE", f"/tokens/{token_id}")
