"""The HTTP API's user stories, end to end over real HTTP, on SQLite and PostgreSQL.

Users and groups, studios and members, logging in, personal API tokens, workspaces
(CRUD, validation, pagination, filters, events), studio isolation, and the error format.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from sparkstudio.auth.actions import Scope
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import ApiToken, Event, User
from sparkstudio.db.session import Database
from sparkstudio.schemas.common import NAME_RULE, STORAGE_RULE, USER_NAME_RULE
from sparkstudio.server import ControlPlane
from sparkstudio.serverless.releases import supported_release_labels
from tests.support import (
    ADMIN_NAME,
    BOTH_DATABASES,
    PASSWORD,
    ROUTES,
    NewUser,
    UserClient,
    add_member,
    create_group,
    create_studio,
    create_user,
    create_workspace,
    expect,
    expect_error,
    field_names,
    login,
    unique,
)

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both

TRACEBACK_MARKERS = ("Traceback", 'File "', "sqlalchemy", "psycopg", "sqlite3")


def assert_no_internals(response: httpx.Response) -> None:
    for marker in TRACEBACK_MARKERS:
        assert marker not in response.text, f"{marker!r} leaked: {response.text}"


def own_connection(client: httpx.Client) -> httpx.Client:
    """A client like ``client`` on a connection of its own."""
    return httpx.Client(base_url=client.base_url, headers=client.headers, timeout=client.timeout)


def item_ids(page: dict[str, Any]) -> list[str]:
    return [str(item["id"]) for item in page["items"]]


# --- users -----------------------------------------------------------------------------


def test_admin_creates_a_user_whose_password_is_hashed(
    admin: UserClient, database: Database, control_plane: ControlPlane
) -> None:
    name = unique("alice")
    password = f"pw-{unique('secret')}"
    created = expect(
        admin.post(
            "/users",
            json={
                "name": name,
                "password": password,
                "display_name": "Alice Liddell",
                "email": "alice@example.org",
            },
        ),
        201,
    )
    assert created["name"] == name
    assert created["display_name"] == "Alice Liddell"
    assert created["email"] == "alice@example.org"
    assert created["is_platform_admin"] is False
    assert created["disabled"] is False
    assert created["groups"] == []
    assert not {"password", "password_hash"} & created.keys()
    assert password not in admin.get(f"/users/{created['id']}").text

    with database.session(write=False) as db:
        stored = db.scalar(select(User.password_hash).where(User.name == name))
    assert stored is not None
    assert stored.startswith("$argon2")
    assert password not in stored

    # The user is listed, found by name, and can log in.
    assert item_ids(expect(admin.get("/users", params={"name": name}), 200)) == [created["id"]]
    with login(control_plane.api_url, name, password) as alice:
        me = expect(alice.get("/me"), 200)
        assert me["user"]["id"] == created["id"]
        assert me["token_kind"] == "SESSION"
        assert me["studios"] == []


def test_user_names_follow_their_rule(admin: UserClient) -> None:
    for bad in ("Alice", "1alice", "", "a" * 65, "al ice", "al/ice"):
        error = expect_error(admin.post("/users", json={"name": bad}), 422, "ValidationError")
        assert error["fields"] == [{"field": "name", "message": f"must be {USER_NAME_RULE}"}]
        assert USER_NAME_RULE in error["message"]


def test_user_passwords_and_fields_are_validated(admin: UserClient) -> None:
    error = expect_error(admin.post("/users", json={"name": unique("u"), "password": "short"}), 422)
    assert field_names(error) == ["password"]
    assert "short" not in error["message"]
    error = expect_error(admin.post("/users", json={"name": unique("u"), "email": "nope"}), 422)
    assert field_names(error) == ["email"]
    error = expect_error(
        admin.post("/users", json={"name": unique("u"), "display_name": "bell\x07"}), 422
    )
    assert field_names(error) == ["display_name"]


def test_a_user_name_is_unique(admin: UserClient) -> None:
    user = create_user(admin, password=None)
    error = expect_error(admin.post("/users", json={"name": user["name"]}), 409, "AlreadyExists")
    assert user["name"] in error["message"]


def test_login_with_a_wrong_password_or_unknown_user_is_refused_alike(
    new_user: NewUser, anon: httpx.Client
) -> None:
    user = new_user()
    wrong = expect_error(
        anon.post("/auth/login", json={"username": user.name, "password": "wrong-password"}),
        401,
        "LoginFailed",
    )
    unknown = expect_error(
        anon.post("/auth/login", json={"username": unique("ghost"), "password": PASSWORD}),
        401,
        "LoginFailed",
    )
    assert wrong == unknown  # nothing tells which users exist
    assert "password" in wrong["message"]


def test_a_user_without_a_password_cannot_log_in(admin: UserClient, anon: httpx.Client) -> None:
    user = create_user(admin, password=None)
    response = anon.post("/auth/login", json={"username": user["name"], "password": "anything!"})
    expect_error(response, 401, "LoginFailed")
    response = anon.post("/auth/login", json={"username": user["name"], "password": ""})
    assert field_names(expect_error(response, 422)) == ["password"]


def test_a_disabled_users_tokens_stop_working(admin: UserClient, new_user: NewUser) -> None:
    user = new_user()
    api_token = expect(user.post("/tokens", json={"name": "cli"}), 201)["token"]
    expect(user.get("/me"), 200)

    expect(admin.patch(f"/users/{user.user_id}", json={"disabled": True}), 200)
    expect_error(user.get("/me"), 401, "Unauthenticated")
    expect_error(user.get("/me", headers={"Authorization": f"Bearer {api_token}"}), 401)
    expect_error(
        user.post("/auth/login", json={"username": user.name, "password": user.password}),
        401,
        "LoginFailed",
    )

    # Disabling revoked them: enabling the user again does not bring them back.
    expect(admin.patch(f"/users/{user.user_id}", json={"disabled": False}), 200)
    expect_error(user.get("/me", headers={"Authorization": f"Bearer {api_token}"}), 401)


def test_platform_admin_is_granted_and_revoked_at_once(
    admin: UserClient, new_user: NewUser
) -> None:
    user = new_user()
    expect_error(user.get("/users"), 403, "AccessDenied")
    granted = expect(admin.patch(f"/users/{user.user_id}", json={"is_platform_admin": True}), 200)
    assert granted["is_platform_admin"] is True
    expect(user.get("/users"), 200)
    expect(admin.patch(f"/users/{user.user_id}", json={"is_platform_admin": False}), 200)
    expect_error(user.get("/users"), 403)


def test_the_admin_cannot_lock_themselves_out(admin: UserClient) -> None:
    for body in ({"disabled": True}, {"is_platform_admin": False}):
        expect_error(admin.patch(f"/users/{admin.user_id}", json=body), 409, "SelfLockout")
    expect_error(admin.delete(f"/users/{admin.user_id}"), 409, "SelfLockout")
    me = expect(admin.get("/me"), 200)["user"]
    assert me["is_platform_admin"] is True
    assert me["disabled"] is False


def test_a_user_changes_their_own_password(new_user: NewUser, control_plane: ControlPlane) -> None:
    user = new_user()
    error = expect_error(
        user.post(
            "/me/password",
            json={"current_password": "not-my-password", "new_password": "a-new-password"},
        ),
        422,
    )
    assert field_names(error) == ["current_password"]
    expect(
        user.post(
            "/me/password",
            json={"current_password": user.password, "new_password": "a-new-password"},
        ),
        204,
    )
    expect(user.get("/me"), 200)  # this session stays valid
    with login(control_plane.api_url, user.name, "a-new-password"):
        pass
    response = user.post("/auth/login", json={"username": user.name, "password": user.password})
    expect_error(response, 401, "LoginFailed")


def test_deleting_a_user(admin: UserClient, new_user: NewUser, studio: dict[str, Any]) -> None:
    user = new_user()
    add_member(admin, studio["id"], user=user.name)
    workspace = create_workspace(user, studio["id"])
    expect_error(admin.delete(f"/users/{user.user_id}"), 409, "InUse")

    expect(user.delete(f"/studios/{studio['id']}/workspaces/{workspace['id']}"), 204)
    expect(admin.delete(f"/users/{user.user_id}"), 204)
    expect_error(admin.get(f"/users/{user.user_id}"), 404, "NotFound")
    expect_error(user.get("/me"), 401)
    members = expect(admin.get(f"/studios/{studio['id']}/members"), 200)["items"]
    assert user.user_id not in [m["principal_id"] for m in members]


# --- groups ----------------------------------------------------------------------------


def test_groups_and_their_members(admin: UserClient) -> None:
    first = create_user(admin, unique("a-user"), password=None)
    second = create_user(admin, unique("b-user"), password=None)
    name = unique("analysts")
    group = expect(admin.post("/groups", json={"name": name, "description": "Analysts"}), 201)
    assert (group["name"], group["description"], group["members"]) == (name, "Analysts", [])
    expect_error(admin.post("/groups", json={"name": name}), 409, "AlreadyExists")

    url = f"/groups/{group['id']}"
    expect(admin.put(f"{url}/members/{second['id']}"), 200)
    group = expect(admin.put(f"{url}/members/{first['id']}"), 200)
    assert sorted(group["members"]) == [first["name"], second["name"]]  # by name
    again = expect(admin.put(f"{url}/members/{first['id']}"), 200)  # idempotent
    assert sorted(again["members"]) == [first["name"], second["name"]]
    assert expect(admin.get(f"/users/{first['id']}"), 200)["groups"] == [name]

    group = expect(admin.delete(f"{url}/members/{first['id']}"), 200)
    assert group["members"] == [second["name"]]
    expect_error(admin.delete(f"{url}/members/{first['id']}"), 404, "NotFound")
    expect_error(admin.put(f"{url}/members/usr-0000000000000000"), 404)

    updated = expect(admin.patch(url, json={"description": "Renamed"}), 200)
    assert updated["description"] == "Renamed"
    assert item_ids(expect(admin.get("/groups", params={"name": name}), 200)) == [group["id"]]

    expect(admin.delete(url), 204)
    expect_error(admin.get(url), 404)
    assert expect(admin.get(f"/users/{second['id']}"), 200)["groups"] == []


def test_a_group_membership_grants_its_users_the_studio(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    user = new_user()
    group = create_group(admin, members=(user.user_id,))
    expect_error(user.get(f"/studios/{studio['id']}"), 404)

    member = add_member(admin, studio["id"], group=group["name"], role="DEVELOPER")
    assert (member["principal_type"], member["principal_name"]) == ("GROUP", group["name"])
    expect(user.get(f"/studios/{studio['id']}"), 200)
    assert studio["id"] in item_ids(expect(user.get("/studios"), 200))
    me = expect(user.get("/me"), 200)
    assert {"studio_id": studio["id"], "studio_name": studio["name"], "roles": ["DEVELOPER"]} in me[
        "studios"
    ]

    expect(admin.delete(f"/groups/{group['id']}/members/{user.user_id}"), 200)
    expect_error(user.get(f"/studios/{studio['id']}"), 404)


# --- studios and members ---------------------------------------------------------------


def test_creating_a_studio_with_storage_and_networks(admin: UserClient) -> None:
    name = unique("analytics")
    studio = create_studio(
        admin,
        name,
        description="Team analytics",
        storage_location="s3://team-bucket/studios/analytics/",
        networks=["net-a", "net-b"],
    )
    assert studio["name"] == name
    assert studio["description"] == "Team analytics"
    assert studio["storage_location"] == "s3://team-bucket/studios/analytics"
    assert studio["networks"] == ["net-a", "net-b"]
    assert expect(admin.get(f"/studios/{studio['id']}"), 200) == studio

    local = create_studio(admin, storage_location="file:///srv/sparkstudio/data")
    assert local["storage_location"] == "file:///srv/sparkstudio/data"
    expect_error(admin.post("/studios", json={"name": name}), 409, "AlreadyExists")


def test_a_studio_gets_default_storage_and_network(
    admin: UserClient, control_plane: ControlPlane
) -> None:
    studio = create_studio(admin)
    assert studio["networks"] == ["default"]
    expected = (control_plane.settings.store_root / "studios" / studio["id"]).as_uri()
    assert studio["storage_location"] == expected


@pytest.mark.parametrize(
    "location",
    [
        "http://bucket/x",
        "file://relative/path",
        "s3://ab",
        "s3://bad_bucket!",
        "file:///a/../b",
        "/abs",
    ],
)
def test_storage_locations_follow_their_rule(admin: UserClient, location: str) -> None:
    error = expect_error(
        admin.post("/studios", json={"name": unique("s"), "storage_location": location}), 422
    )
    assert field_names(error) == ["storage_location"]
    assert STORAGE_RULE in error["message"]


def test_studio_networks_are_validated(admin: UserClient) -> None:
    for networks, words in (
        ([], "at least 1"),
        (["a", "a"], "must not repeat"),
        (["bad net"], NAME_RULE),
    ):
        error = expect_error(
            admin.post("/studios", json={"name": unique("s"), "networks": networks}), 422
        )
        assert field_names(error)[0].startswith("networks")
        assert words in error["message"]


def test_updating_a_studio(admin: UserClient) -> None:
    studio = create_studio(admin, networks=["net-a", "net-b"])
    url = f"/studios/{studio['id']}"
    updated = expect(
        admin.patch(url, json={"description": "new", "storage_location": "s3://other-bucket"}), 200
    )
    assert (updated["description"], updated["storage_location"]) == ("new", "s3://other-bucket")
    assert updated["networks"] == ["net-a", "net-b"]

    create_workspace(admin, studio["id"], network="net-b")
    error = expect_error(admin.patch(url, json={"networks": ["net-a"]}), 409, "InUse")
    assert "net-b" in error["message"]
    assert expect(admin.patch(url, json={"networks": ["net-b", "net-c"]}), 200)["networks"] == [
        "net-b",
        "net-c",
    ]
    expect_error(admin.patch(url, json={"name": "renamed"}), 422)  # names are fixed


def test_deleting_a_studio_with_workspaces_is_refused(
    admin: UserClient, studio: dict[str, Any]
) -> None:
    url = f"/studios/{studio['id']}"
    workspace = create_workspace(admin, studio["id"])
    member = add_member(admin, studio["id"], user=create_user(admin, password=None)["name"])
    error = expect_error(admin.delete(url), 409, "InUse")
    assert studio["name"] in error["message"]
    expect(admin.get(url), 200)

    expect(admin.delete(f"{url}/workspaces/{workspace['id']}"), 204)
    expect(admin.delete(url), 204)
    expect_error(admin.get(url), 404)
    expect_error(admin.get(f"{url}/members/{member['id']}"), 404)


def test_listing_studios_shows_only_the_callers(admin: UserClient, new_user: NewUser) -> None:
    mine, theirs = create_studio(admin), create_studio(admin)
    user = new_user()
    add_member(admin, mine["id"], user=user.name)
    listed = item_ids(expect(user.get("/studios"), 200))
    assert listed == [mine["id"]]
    assert expect(user.get("/studios", params={"name": theirs["name"]}), 200)["items"] == []
    for studio in (mine, theirs):  # platform admins see every studio
        found = expect(admin.get("/studios", params={"name": studio["name"]}), 200)
        assert item_ids(found) == [studio["id"]]


def test_members_lifecycle(admin: UserClient, studio: dict[str, Any]) -> None:
    user = create_user(admin, password=None)
    base = f"/studios/{studio['id']}/members"
    member = add_member(admin, studio["id"], user=user["name"], role="DEVELOPER")
    assert member["studio_id"] == studio["id"]
    assert (member["principal_type"], member["principal_id"], member["principal_name"]) == (
        "USER",
        user["id"],
        user["name"],
    )
    assert (member["role"], member["session_policy"]) == ("DEVELOPER", None)
    expect_error(
        admin.post(base, json={"user": user["name"], "role": "ADMIN"}), 409, "AlreadyExists"
    )

    assert expect(admin.get(f"{base}/{member['id']}"), 200) == member
    assert item_ids(expect(admin.get(base), 200)) == [member["id"]]
    promoted = expect(admin.patch(f"{base}/{member['id']}", json={"role": "ADMIN"}), 200)
    assert promoted["role"] == "ADMIN"
    expect(admin.delete(f"{base}/{member['id']}"), 204)
    expect_error(admin.get(f"{base}/{member['id']}"), 404)
    assert expect(admin.get(base), 200)["items"] == []


def test_member_requests_are_validated(admin: UserClient, studio: dict[str, Any]) -> None:
    base = f"/studios/{studio['id']}/members"
    ghost = unique("ghost")
    error = expect_error(admin.post(base, json={"user": ghost, "role": "ADMIN"}), 422)
    assert error["fields"] == [{"field": "user", "message": f"no user named '{ghost}'"}]
    error = expect_error(admin.post(base, json={"group": unique("ghosts"), "role": "ADMIN"}), 422)
    assert field_names(error) == ["group"]
    user = create_user(admin, password=None)
    group = create_group(admin)
    for body in (
        {"role": "ADMIN"},
        {"user": user["name"], "group": group["name"], "role": "ADMIN"},
    ):
        error = expect_error(admin.post(base, json=body), 422)
        assert "exactly one of 'user' or 'group'" in error["message"]
    error = expect_error(admin.post(base, json={"user": user["name"], "role": "OWNER"}), 422)
    assert field_names(error) == ["role"]


def test_a_studio_admin_manages_members_but_not_the_studio(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    studio_admin = new_user()
    add_member(admin, studio["id"], user=studio_admin.name, role="ADMIN")
    other = create_user(admin, password=None)
    member = add_member(studio_admin, studio["id"], user=other["name"])
    expect(studio_admin.patch(f"/studios/{studio['id']}", json={"description": "ours"}), 200)
    expect_error(studio_admin.delete(f"/studios/{studio['id']}"), 403)
    expect(studio_admin.delete(f"/studios/{studio['id']}/members/{member['id']}"), 204)


# --- tokens ----------------------------------------------------------------------------


def test_personal_api_tokens(new_user: NewUser) -> None:
    user = new_user()
    created = expect(user.post("/tokens", json={"name": "laptop", "expires_in_days": 30}), 201)
    value = created["token"]
    assert value.startswith("sst.")
    assert (created["name"], created["kind"], created["revoked_at"]) == ("laptop", "API", None)
    lifetime = _parse(created["expires_at"]) - _parse(created["created_at"])
    assert abs(lifetime - timedelta(days=30)) < timedelta(minutes=1)

    listing = user.get("/tokens")
    page = expect(listing, 200)
    assert item_ids(page) == [created["id"]]  # session tokens are not listed
    assert "token" not in page["items"][0]
    assert value not in listing.text and value.split(".")[2] not in listing.text

    with httpx.Client(base_url=user.base_url, headers={"Authorization": f"Bearer {value}"}) as api:
        me = expect(api.get("/me"), 200)
        assert (me["user"]["id"], me["token_kind"]) == (user.user_id, "API")
        used = expect(user.get("/tokens"), 200)["items"][0]
        assert used["last_used_at"] is not None

        expect(user.delete(f"/tokens/{created['id']}"), 204)
        expect_error(api.get("/me"), 401, "Unauthenticated")
    assert expect(user.get("/tokens"), 200)["items"] == []
    inactive = expect(user.get("/tokens", params={"include_inactive": True}), 200)["items"]
    assert [t["id"] for t in inactive] == [created["id"]]
    assert inactive[0]["revoked_at"] is not None


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def test_token_lifetimes_are_bounded(new_user: NewUser) -> None:
    user = new_user()
    for days, words in ((0, "greater than or equal to 1"), (366, "at most 365 on this platform")):
        error = expect_error(user.post("/tokens", json={"name": "t", "expires_in_days": days}), 422)
        assert field_names(error) == ["expires_in_days"]
        assert words in error["message"]
    error = expect_error(user.post("/tokens", json={"name": "has space"}), 422)
    assert NAME_RULE in error["message"]


def test_an_expired_token_is_refused(new_user: NewUser, database: Database) -> None:
    user = new_user()
    created = expect(user.post("/tokens", json={"name": "short", "expires_in_days": 1}), 201)
    headers = {"Authorization": f"Bearer {created['token']}"}
    expect(user.get("/me", headers=headers), 200)

    with database.transaction() as db:
        db.execute(
            update(ApiToken)
            .where(ApiToken.id == created["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expect_error(user.get("/me", headers=headers), 401, "Unauthenticated")
    assert expect(user.get("/tokens"), 200)["items"] == []
    assert item_ids(expect(user.get("/tokens", params={"include_inactive": True}), 200)) == [
        created["id"]
    ]


def test_tokens_of_others_cannot_be_revoked(new_user: NewUser) -> None:
    owner, other = new_user(), new_user()
    created = expect(owner.post("/tokens", json={"name": "mine"}), 201)
    expect_error(other.delete(f"/tokens/{created['id']}"), 404, "NotFound")
    expect(owner.get("/me", headers={"Authorization": f"Bearer {created['token']}"}), 200)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer nonsense",
        "Bearer sst.tok-0000000000000000.secret",
        "Bearer sst..",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer",
    ],
)
def test_malformed_or_unknown_tokens_are_refused(anon: httpx.Client, header: str) -> None:
    response = anon.get("/me", headers={"Authorization": header})
    expect_error(response, 401, "Unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_tampered_token_is_refused(new_user: NewUser, anon: httpx.Client) -> None:
    user = new_user()
    prefix, token_id, secret = user.token.split(".")
    tampered = f"{prefix}.{token_id}.{secret[:-2]}{'AA' if secret[-2:] != 'AA' else 'BB'}"
    expect_error(anon.get("/me", headers={"Authorization": f"Bearer {tampered}"}), 401)


def test_logout_revokes_the_session_token_only(new_user: NewUser) -> None:
    user = new_user()
    api_token = expect(user.post("/tokens", json={"name": "kept"}), 201)["token"]
    expect(user.post("/auth/logout"), 204)
    expect_error(user.get("/me"), 401, "Unauthenticated")
    expect(user.get("/me", headers={"Authorization": f"Bearer {api_token}"}), 200)


# --- workspaces ------------------------------------------------------------------------


def test_workspace_crud(admin: UserClient, new_user: NewUser) -> None:
    studio = create_studio(admin, networks=["net-a", "net-b"])
    owner = new_user()
    add_member(admin, studio["id"], user=owner.name)
    base = f"/studios/{studio['id']}/workspaces"
    name = unique("etl")

    created = expect(
        owner.post(base, json={"name": name, "description": "ETL", "tags": {"team": "data"}}), 201
    )
    assert created["studio_id"] == studio["id"]
    assert (created["name"], created["description"], created["tags"]) == (
        name,
        "ETL",
        {"team": "data"},
    )
    assert (created["owner_id"], created["owner"]) == (owner.user_id, owner.name)
    assert created["network"] == "net-a"  # the studio's first network
    assert (created["status"], created["target"], created["cluster_id"]) == (
        "STOPPED",
        "STOPPED",
        None,
    )
    assert created["status_reason"]["code"] == "CREATED"
    url = f"{base}/{created['id']}"
    assert expect(owner.get(url), 200) == created

    other = expect(owner.post(base, json={"name": unique("etl"), "network": "net-b"}), 201)
    assert other["network"] == "net-b"

    renamed = expect(
        owner.patch(url, json={"name": f"{name}-v2", "tags": {"env": "prod", "tier": "1"}}), 200
    )
    assert (renamed["name"], renamed["description"]) == (f"{name}-v2", "ETL")
    assert renamed["tags"] == {"env": "prod", "tier": "1"}  # replaced, not merged
    assert expect(owner.patch(url, json={"description": ""}), 200)["description"] == ""

    expect(owner.delete(url), 204)
    expect_error(owner.get(url), 404, "NotFound")
    expect_error(owner.delete(url), 404)
    assert item_ids(expect(owner.get(base), 200)) == [other["id"]]


def test_a_workspace_network_must_be_the_studios(admin: UserClient, studio: dict[str, Any]) -> None:
    base = f"/studios/{studio['id']}/workspaces"
    error = expect_error(admin.post(base, json={"name": unique("ws"), "network": "elsewhere"}), 422)
    assert error["fields"][0]["field"] == "network"
    assert field_names(error) == ["network"]
    assert "default" in error["message"]
    assert expect(admin.get(base), 200)["items"] == []


def test_workspace_names_are_unique_in_a_studio(admin: UserClient, studio: dict[str, Any]) -> None:
    base = f"/studios/{studio['id']}/workspaces"
    first, second = create_workspace(admin, studio["id"]), create_workspace(admin, studio["id"])
    error = expect_error(admin.post(base, json={"name": first["name"]}), 409, "AlreadyExists")
    assert first["name"] in error["message"]
    expect_error(
        admin.patch(f"{base}/{second['id']}", json={"name": first["name"]}), 409, "AlreadyExists"
    )
    assert expect(admin.get(f"{base}/{second['id']}"), 200)["name"] == second["name"]
    # Renaming to its own name is no conflict; the same name in another studio is fine.
    expect(admin.patch(f"{base}/{first['id']}", json={"name": first["name"]}), 200)
    create_workspace(admin, create_studio(admin)["id"], first["name"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "-starts-with-dash"}, "name"),
        ({"name": "has space"}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "ok", "tags": {"bad key!": "v"}}, "tags.bad key!.[key]"),
        ({"name": "ok", "tags": {"k": "bad\nvalue"}}, "tags.k"),
        ({"name": "ok", "tags": {f"k{i}": "v" for i in range(51)}}, "tags"),
        ({"name": "ok", "description": "bell\x07"}, "description"),
        ({"name": "ok", "colour": "red"}, "colour"),
        ({}, "name"),
    ],
)
def test_workspace_bodies_are_validated(
    admin: UserClient, studio: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    error = expect_error(admin.post(f"/studios/{studio['id']}/workspaces", json=body), 422)
    assert field_names(error) == [field]
    if field == "name" and body:
        assert error["fields"][0]["message"] == f"must be {NAME_RULE}"
    if field == "colour":
        assert error["fields"][0]["message"] == "is not a known field"


def test_workspace_pages_walk_every_item_once(admin: UserClient, studio: dict[str, Any]) -> None:
    created = [create_workspace(admin, studio["id"])["id"] for _ in range(7)]
    base = f"/studios/{studio['id']}/workspaces"
    seen: list[str] = []
    pages = 0
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = expect(admin.get(base, params=params), 200)
        pages += 1
        assert len(page["items"]) <= 3
        seen += item_ids(page)
        if page["next_token"] is None:
            break
        params["next_token"] = page["next_token"]
        assert pages < 10
    assert seen == created  # in creation order, each exactly once
    assert pages == 3
    assert item_ids(expect(admin.get(base, params={"limit": 7}), 200)) == created
    assert expect(admin.get(base, params={"limit": 7}), 200)["next_token"] is None


@pytest.mark.parametrize("token", ["garbage!", "bm90IGFuIGlk", "A" * 201, "////"])
def test_a_foreign_page_token_is_refused(
    admin: UserClient, studio: dict[str, Any], token: str
) -> None:
    error = expect_error(
        admin.get(f"/studios/{studio['id']}/workspaces", params={"next_token": token}), 422
    )
    assert field_names(error)[0].endswith("next_token")


@pytest.mark.parametrize("limit", [0, 1001, -1, "many"])
def test_page_sizes_are_bounded(admin: UserClient, limit: int | str) -> None:
    error = expect_error(admin.get("/studios", params={"limit": limit}), 422)
    assert field_names(error) == ["query.limit"]


def test_workspace_filters(admin: UserClient, new_user: NewUser, studio: dict[str, Any]) -> None:
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    base = f"/studios/{studio['id']}/workspaces"
    mine = create_workspace(developer, studio["id"])
    theirs = create_workspace(admin, studio["id"])

    assert item_ids(expect(admin.get(base, params={"name": mine["name"]}), 200)) == [mine["id"]]
    assert expect(admin.get(base, params={"name": unique("none")}), 200)["items"] == []
    by_owner = expect(admin.get(base, params={"owner_id": developer.user_id}), 200)
    assert item_ids(by_owner) == [mine["id"]]
    by_admin = expect(admin.get(base, params={"owner_id": admin.user_id}), 200)
    assert item_ids(by_admin) == [theirs["id"]]
    stopped = expect(admin.get(base, params={"status": "STOPPED"}), 200)
    assert item_ids(stopped) == [mine["id"], theirs["id"]]
    assert expect(admin.get(base, params={"status": "READY"}), 200)["items"] == []
    both = {"owner_id": developer.user_id, "name": theirs["name"]}
    assert expect(admin.get(base, params=both), 200)["items"] == []
    error = expect_error(admin.get(base, params={"status": "RUNNING"}), 422)
    assert field_names(error) == ["query.status"]
    error = expect_error(admin.get(base, params={"name": "bad name"}), 422)
    assert NAME_RULE in error["message"]


def test_workspace_events_outlive_the_workspace(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any], database: Database
) -> None:
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    workspace = create_workspace(developer, studio["id"])
    url = f"/studios/{studio['id']}/workspaces/{workspace['id']}"

    events = expect(developer.get(f"{url}/events"), 200)
    assert events["next_token"] is None
    [created] = events["items"]
    assert (created["resource_kind"], created["resource_id"]) == ("workspace", workspace["id"])
    assert (created["from_status"], created["to_status"]) == (None, "STOPPED")
    assert created["reason"]["code"] == "CREATED"
    assert created["actor"] == developer.name

    expect(developer.delete(url), 204)
    expect_error(developer.get(f"{url}/events"), 404)
    with database.session(write=False) as db:
        rows = db.scalars(
            select(Event).where(Event.resource_id == workspace["id"]).order_by(Event.id)
        ).all()
    assert [(e.from_status, e.to_status, e.reason_code, e.actor) for e in rows] == [
        (None, "STOPPED", "CREATED", developer.name),
        ("STOPPED", "DELETING", "USER_REQUEST", developer.name),
    ]
    assert {e.studio_id for e in rows} == {studio["id"]}


def test_workspace_event_pages(
    admin: UserClient, studio: dict[str, Any], database: Database
) -> None:
    workspace = create_workspace(admin, studio["id"])
    with database.transaction() as db:
        for status in ("STARTING", "READY", "STOPPING", "STOPPED"):
            db.add(
                Event(
                    resource_kind="workspace",
                    resource_id=workspace["id"],
                    studio_id=studio["id"],
                    from_status=None,
                    to_status=status,
                    reason_code="TEST",
                    actor="test",
                )
            )
    url = f"/studios/{studio['id']}/workspaces/{workspace['id']}/events"
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    for _ in range(5):
        page = expect(admin.get(url, params=params), 200)
        seen += [event["to_status"] for event in page["items"]]
        if page["next_token"] is None:
            break
        params["next_token"] = page["next_token"]
    assert seen == ["STOPPED", "STARTING", "READY", "STOPPING", "STOPPED"]
    error = expect_error(admin.get(url, params={"next_token": "not-a-number"}), 422)
    assert field_names(error) == ["next_token"]


def test_an_out_of_range_event_page_token_is_refused(
    admin: UserClient, studio: dict[str, Any]
) -> None:
    workspace = create_workspace(admin, studio["id"])
    url = f"/studios/{studio['id']}/workspaces/{workspace['id']}/events"
    with own_connection(admin) as client:  # a 500 makes the server drop the connection
        response = client.get(url, params={"next_token": "9" * 40})
    assert_no_internals(response)
    error = expect_error(response, 422)
    assert field_names(error) == ["next_token"]


# --- studio isolation ------------------------------------------------------------------

_HIJACK_BODIES: dict[str, dict[str, Any]] = {
    "studio:Update": {"description": "hijacked"},
    "member:Create": {"user": ADMIN_NAME, "role": "ADMIN"},
    "member:Update": {"role": "ADMIN"},
    "workspace:Create": {"name": "hijacked"},
    "workspace:Update": {"name": "hijacked", "description": "hijacked"},
    "studio:SetQuotas": {"max_clusters": 0},
    "cluster:Create": {"name": "hijacked", "template": "single-node"},
    "cluster:CreateFromSpec": {
        "name": "hijacked",
        "spec": {
            "workers_min": 1,
            "workers_max": 1,
            "worker_cores": 1,
            "worker_memory_mib": 1024,
            "executor_cores": 1,
            "executor_memory_mib": 512,
        },
    },
    "cluster:Register": {"name": "hijacked", "connect_url": "sc://127.0.0.1:1"},
    "application:Create": {
        "name": "hijacked",
        "release_label": next(iter(supported_release_labels())),
    },
    "application:Update": {"tags": {"hijacked": "yes"}},
    "job-run:Start": {"job_driver": {"spark_submit": {"entry_point": "/hijacked.py"}}},
    "cluster:Scale": {"workers_min": 0, "workers_max": 1},
    "workspace:Attach": {"cluster_id": "cl-0000000000000000"},
    "workspace:Share": {"user": ADMIN_NAME},
    "workspace:ManageRepos": {"name": "hijacked", "url": "file:///tmp/hijacked.git"},
}
# Routes inside a studio (sharing a template names a studio too, but is a platform action).
STUDIO_ROUTES = [route for route in ROUTES if route.spec.scope is Scope.STUDIO]


def test_a_member_of_one_studio_sees_nothing_of_another(
    admin: UserClient, new_user: NewUser
) -> None:
    studio_a, studio_b = create_studio(admin), create_studio(admin)
    intruder = new_user()
    add_member(admin, studio_a["id"], user=intruder.name, role="ADMIN")
    own_workspace = create_workspace(intruder, studio_a["id"])
    b_workspace = create_workspace(admin, studio_b["id"], description="B's")
    b_member = add_member(admin, studio_b["id"], user=create_user(admin, password=None)["name"])
    port = admin.base_url.port  # an endpoint that answers: the control plane itself
    b_cluster = expect(
        admin.post(
            f"/studios/{studio_b['id']}/clusters/external",
            json={"name": unique("ext"), "connect_url": f"sc://127.0.0.1:{port}"},
        ),
        201,
    )
    expect(admin.put(f"/templates/single-node/shares/{studio_b['id']}"), 204)
    b_application = expect(
        admin.post(
            f"/studios/{studio_b['id']}/applications",
            json={"name": unique("app"), "release_label": next(iter(supported_release_labels()))},
        ),
        201,
    )
    b_ids = {
        "studio_id": studio_b["id"],
        "workspace_id": b_workspace["id"],
        "member_id": b_member["id"],
        "cluster_id": b_cluster["id"],
        "application_id": b_application["id"],
        # Well-formed ids that name nothing anywhere: the studio or the application
        # in the path already hides everything of B.
        "job_run_id": "jr-0000000000000000",
        "notebook_execution_id": "ne-0000000000000000",
        "notebook_schedule_id": "ns-0000000000000000",
        "template_name": "single-node",
        "path": "jobs/",
        "user_name": ADMIN_NAME,
        "repo_name": "hijacked",
        "operation": "pull",
    }

    # Every studio route of B, B's ids throughout: B does not exist for the intruder.
    for route in STUDIO_ROUTES:
        body = _HIJACK_BODIES.get(route.action.value) if route.has_body else None
        response = intruder.request(route.method, route.url(b_ids), json=body)
        error = expect_error(response, 404, "NotFound")
        assert error["message"] == f"no studio {studio_b['id']}", route.id

    # A's id in the path with B's item ids: still nothing of B.
    mixed = dict(b_ids, studio_id=studio_a["id"])
    for route in STUDIO_ROUTES:
        if not {"workspace_id", "member_id", "cluster_id", "application_id"} & set(route.params):
            continue
        body = _HIJACK_BODIES.get(route.action.value) if route.has_body else None
        response = intruder.request(route.method, route.url(mixed), json=body)
        expect_error(response, 404, "NotFound")

    # B is untouched, and A's own listing never shows B's things.
    assert expect(admin.get(f"/studios/{studio_b['id']}"), 200)["description"] == ""
    assert (
        expect(admin.get(f"/studios/{studio_b['id']}/workspaces/{b_workspace['id']}"), 200)
        == b_workspace
    )
    assert expect(admin.get(f"/studios/{studio_b['id']}/members/{b_member['id']}"), 200) == b_member
    b_application_path = f"/studios/{studio_b['id']}/applications/{b_application['id']}"
    assert expect(admin.get(b_application_path), 200)["tags"] == {}
    assert item_ids(expect(intruder.get(f"/studios/{studio_a['id']}/workspaces"), 200)) == [
        own_workspace["id"]
    ]
    assert item_ids(expect(intruder.get("/studios"), 200)) == [studio_a["id"]]
    assert [s["studio_id"] for s in expect(intruder.get("/me"), 200)["studios"]] == [studio_a["id"]]


def test_an_unknown_studio_looks_like_a_foreign_one(admin: UserClient, new_user: NewUser) -> None:
    foreign = create_studio(admin)
    user = new_user()
    unknown = expect_error(user.get("/studios/st-0000000000000000"), 404)
    hidden = expect_error(user.get(f"/studios/{foreign['id']}"), 404)
    assert unknown["message"].replace("st-0000000000000000", foreign["id"]) == hidden["message"]


# --- the error format ------------------------------------------------------------------


def test_every_error_has_the_documented_shape(
    admin: UserClient, new_user: NewUser, anon: httpx.Client, studio: dict[str, Any]
) -> None:
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    workspace = create_workspace(admin, studio["id"])
    base = f"/studios/{studio['id']}"
    cases: list[tuple[httpx.Response, int, str]] = [
        (anon.get("/me"), 401, "Unauthenticated"),
        (anon.get(f"{base}/workspaces"), 401, "Unauthenticated"),
        (anon.post("/auth/login", json={"username": "x", "password": "y"}), 401, "LoginFailed"),
        (developer.get("/users"), 403, "AccessDenied"),
        (developer.delete(base), 403, "AccessDenied"),
        (admin.get("/studios/st-0000000000000000"), 404, "NotFound"),
        (admin.get(f"{base}/workspaces/ws-0000000000000000"), 404, "NotFound"),
        (admin.get("/no/such/route"), 404, "NotFound"),
        (admin.put("/health"), 405, "MethodNotAllowed"),
        (admin.post(f"{base}/workspaces", json={"name": workspace["name"]}), 409, "AlreadyExists"),
        (admin.delete(base), 409, "InUse"),
        (admin.post(f"{base}/workspaces", json={"name": "a b"}), 422, "ValidationError"),
        (admin.post(f"{base}/workspaces", json={"name": "ok", "x": 1}), 422, "ValidationError"),
        (admin.post(f"{base}/workspaces", json=["not", "an", "object"]), 422, "ValidationError"),
        (admin.post(f"{base}/workspaces", json={"name": 5}), 422, "ValidationError"),
        (
            admin.post(
                f"{base}/workspaces",
                content=b'{"name": ',
                headers={"content-type": "application/json"},
            ),
            422,
            "ValidationError",
        ),
        (admin.get("/studios", params={"limit": "x"}), 422, "ValidationError"),
    ]
    for response, status, reason in cases:
        expect_error(response, status, reason)
        assert_no_internals(response)


def test_validation_errors_list_every_bad_field(admin: UserClient) -> None:
    error = expect_error(
        admin.post(
            "/studios",
            json={"name": "bad name", "storage_location": "ftp://x", "networks": [], "x": 1},
        ),
        422,
    )
    assert sorted(field_names(error)) == ["name", "networks", "storage_location", "x"]
    for field in error["fields"]:
        assert set(field) == {"field", "message"}
        assert f"{field['field']}: {field['message']}" in error["message"]


# --- bugs found by these tests (fixed; kept as regression tests) ----------------------


def test_nul_bytes_never_reach_the_database(admin: UserClient, studio: dict[str, Any]) -> None:
    """PostgreSQL refuses NUL in text: malformed ids and names must stop before the query."""
    workspaces = f"/studios/{studio['id']}/workspaces"
    requests: list[tuple[str, str, dict[str, str] | None, dict[str, str] | None]] = [
        ("GET", "/studios/st-%00", None, None),
        ("GET", "/users/usr-%00", None, None),
        ("GET", "/groups/grp-%00", None, None),
        ("DELETE", "/tokens/tok-%00", None, None),
        ("GET", f"{workspaces}/ws-%00", None, None),
        ("GET", f"/studios/{studio['id']}/members/mb-%00", None, None),
        ("GET", workspaces, {"owner_id": "usr-\x00"}, None),
        ("POST", "/auth/login", None, {"username": "admin\x00", "password": "whatever!"}),
    ]
    statuses = []
    for method, url, params, body in requests:
        with own_connection(admin) as client:  # a 500 makes the server drop the connection
            statuses.append(client.request(method, url, params=params, json=body).status_code)
    assert statuses == [404, 404, 404, 404, 404, 404, 422, 401], statuses


def test_method_not_allowed_lists_every_allowed_method(admin: UserClient) -> None:
    for path, methods in (
        ("/users", {"GET", "POST"}),
        ("/studios/st-0000000000000000", {"GET", "PATCH", "DELETE"}),
        ("/groups/grp-0000000000000000/members/usr-0000000000000000", {"PUT", "DELETE"}),
    ):
        response = admin.request("OPTIONS", path)
        expect_error(response, 405, "MethodNotAllowed")
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed == methods, (path, response.headers["allow"])


def test_undecodable_body_is_a_documented_bad_request(
    admin: UserClient, anon: httpx.Client, studio: dict[str, Any]
) -> None:
    response = admin.post(
        f"/studios/{studio['id']}/workspaces",
        content=b"\xff\xfe{",
        headers={"content-type": "application/json"},
    )
    error = expect_error(response, 400, "BadRequest")
    assert "body" in error["message"]
    document = expect(anon.get("/openapi.json"), 200)
    operation = document["paths"]["/api/v1/studios/{studio_id}/workspaces"]["post"]
    assert "400" in operation["responses"]


def test_request_bodies_do_not_coerce_types(admin: UserClient) -> None:
    for value in ("yes", 1, "true"):
        response = admin.post(
            "/users", json={"name": unique("coerced"), "is_platform_admin": value}
        )
        error = expect_error(response, 422)
        assert field_names(error) == ["is_platform_admin"]
    error = expect_error(admin.post("/tokens", json={"name": "t", "expires_in_days": "5"}), 422)
    assert field_names(error) == ["expires_in_days"]


def test_schema_states_the_storage_and_network_rules(anon: httpx.Client) -> None:
    document = expect(anon.get("/openapi.json"), 200)
    create = document["components"]["schemas"]["StudioCreate"]["properties"]
    storage = create["storage_location"]["anyOf"][0]
    assert "file:///" in storage["pattern"] and "s3://" in storage["pattern"]
    networks = create["networks"]["anyOf"][0]
    assert networks.get("uniqueItems") is True


def test_email_rule_means_the_same_everywhere(admin: UserClient) -> None:
    user = create_user(admin, password=None)
    # Valid by the published (ECMA-262) pattern: U+0085 is not whitespace there.
    response = admin.patch(f"/users/{user['id']}", json={"email": "a\u0085b@example.org"})
    assert response.status_code in (200, 422)
    if response.status_code == 422:
        # Then the published pattern must exclude it too, and say why in words.
        document = expect(admin.get("/openapi.json"), 200)
        email = document["components"]["schemas"]["UserUpdate"]["properties"]["email"]
        assert "\\s" not in email["anyOf"][0]["pattern"]
    error = expect_error(admin.patch(f"/users/{user['id']}", json={"email": "nope"}), 422)
    assert "should match pattern" not in error["message"]


def test_every_operation_documents_its_errors(anon: httpx.Client) -> None:
    document = expect(anon.get("/openapi.json"), 200)
    for route in ROUTES:
        operation = document["paths"]["/api/v1" + route.openapi_path][route.method.lower()]
        responses = operation["responses"]
        assert {"401", "403", "404", "422"} <= responses.keys(), route.id
        error = responses["401"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorBody"}
