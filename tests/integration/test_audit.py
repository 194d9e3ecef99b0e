"""The audit trail, over real HTTP on SQLite and PostgreSQL.

Changes attempted through the API and every denied attempt are recorded (who, what,
which resource, from where, when, the outcome); platform admins read, filter and export
the trail; nothing can change it. The control plane is shared by the whole session:
each test finds its own records by a unique actor, studio or path.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from sparkstudio.api.app import API_PREFIX
from sparkstudio.client import Client
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import AuditRecord
from sparkstudio.db.session import Database
from sparkstudio.errors import Forbidden
from sparkstudio.schemas.audit import AuditFilter
from sparkstudio.server import ControlPlane
from sparkstudio.services.audit import export_lines, last_record_id
from tests.support import (
    BOTH_DATABASES,
    NewUser,
    UserClient,
    add_member,
    anonymous,
    create_studio,
    create_workspace,
    expect,
    expect_error,
    field_names,
    unique,
)

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both

FIELDS = {
    "id",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "resource",
    "studio_id",
    "method",
    "path",
    "source_address",
    "outcome",
    "status_code",
    "message",
}


def records(admin: httpx.Client, **filters: Any) -> list[dict[str, Any]]:
    """Every record matching ``filters``, newest first (one page of up to 1000)."""
    page = expect(admin.get("/audit", params={**filters, "limit": 1000}), 200)
    assert page["next_token"] is None, "more records than a test expects"
    items: list[dict[str, Any]] = page["items"]
    return items


def changes(admin: httpx.Client, **filters: Any) -> list[dict[str, Any]]:
    """Like :func:`records`, without logins (every ``new_user`` logs in once)."""
    return [r for r in records(admin, **filters) if r["action"] != "session:Login"]


def exported(admin: httpx.Client, **filters: Any) -> list[dict[str, Any]]:
    response = admin.get("/audit/export", params=filters)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.text == "" or response.text.endswith("\n")
    return [json.loads(line) for line in response.text.splitlines()]


def at(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["at"])


# --- what is recorded -------------------------------------------------------------------


def test_a_change_is_recorded_with_who_what_where_when_and_outcome(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    before = utcnow()
    workspace = create_workspace(developer, studio["id"])
    path = f"/studios/{studio['id']}/workspaces/{workspace['id']}"
    expect(developer.patch(path, json={"description": "renamed"}), 200)
    after = utcnow()

    updated, created = changes(admin, actor=developer.name)
    assert set(created) == FIELDS
    assert created == {
        "id": created["id"],
        "at": created["at"],
        "actor_id": developer.user_id,
        "actor_name": developer.name,
        "action": "workspace:Create",
        "resource": f"studio/{studio['id']}/workspace/*",
        "studio_id": studio["id"],
        "method": "POST",
        "path": f"{API_PREFIX}/studios/{studio['id']}/workspaces",
        "source_address": "127.0.0.1",
        "outcome": "SUCCEEDED",
        "status_code": 201,
        "message": "",
    }
    assert updated["action"] == "workspace:Update"
    assert updated["resource"] == f"studio/{studio['id']}/workspace/{workspace['id']}"
    assert (updated["method"], updated["path"]) == ("PATCH", API_PREFIX + path)
    assert updated["id"] > created["id"]
    assert before <= at(created) <= at(updated) <= after


def test_successful_reads_are_not_recorded(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    expect(developer.get(f"/studios/{studio['id']}/workspaces"), 200)
    expect(developer.get("/me"), 200)
    expect(developer.post("/tokens", json={"name": unique("tok")}), 201)
    assert [r["action"] for r in changes(admin, actor=developer.name)] == ["token:Create"]


def test_a_failed_change_is_recorded_with_its_status_and_message(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    workspaces = f"/studios/{studio['id']}/workspaces"
    expect_error(developer.post(workspaces, json={"name": "no spaces allowed"}), 422)
    taken = create_workspace(developer, studio["id"])["name"]
    conflict = expect_error(developer.post(workspaces, json={"name": taken}), 409)

    duplicate, _, invalid = changes(admin, actor=developer.name)
    assert (invalid["outcome"], invalid["status_code"]) == ("FAILED", 422)
    assert invalid["action"] == "workspace:Create"
    assert invalid["message"].startswith("name: must be")
    assert (duplicate["outcome"], duplicate["status_code"]) == ("FAILED", 409)
    assert duplicate["message"] == conflict["message"]


def test_a_forbidden_attempt_is_recorded_as_denied(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    developer = new_user()
    member = add_member(admin, studio["id"], user=developer.name)
    # A read counts too: every denial is recorded, whatever the method.
    refused = expect_error(developer.get("/users"), 403, "AccessDenied")
    expect_error(
        developer.delete(f"/studios/{studio['id']}/members/{member['id']}"), 403, "AccessDenied"
    )

    removal, listing = records(admin, actor=developer.name, outcome="DENIED")
    assert listing["action"] == "user:List"
    assert (listing["method"], listing["status_code"]) == ("GET", 403)
    assert listing["message"] == refused["message"]
    assert listing["actor_id"] == developer.user_id
    assert removal["action"] == "member:Delete"
    assert removal["resource"] == f"studio/{studio['id']}/member/{member['id']}"
    assert removal["studio_id"] == studio["id"]
    assert removal["status_code"] == 403


def test_an_unauthenticated_attempt_is_recorded_as_denied(
    admin: UserClient, anon: httpx.Client, studio: dict[str, Any]
) -> None:
    path = f"/studios/{studio['id']}/workspaces"
    expect_error(anon.get(path), 401)
    with anonymous(str(anon.base_url)) as forged:
        forged.headers["Authorization"] = "Bearer not-a-token-at-all"
        expect_error(forged.post(path, json={"name": unique("ws")}), 401)

    sent, read = records(admin, resource_prefix=API_PREFIX + path)
    for record in (sent, read):
        assert record["actor_id"] is None and record["actor_name"] == ""
        assert (record["outcome"], record["status_code"]) == ("DENIED", 401)
        assert record["resource"] == API_PREFIX + path  # not authorized: the path
        assert "token" in record["message"]
        assert "not-a-token-at-all" not in json.dumps(record)
    assert (read["method"], read["action"]) == ("GET", "workspace:List")
    assert (sent["method"], sent["action"]) == ("POST", "workspace:Create")


def test_a_studio_hidden_by_404_is_recorded_as_denied_but_a_missing_one_is_not(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    outsider = new_user()
    hidden = expect_error(outsider.get(f"/studios/{studio['id']}/workspaces"), 404)
    missing = "st-0000000000000000"
    expect_error(outsider.get(f"/studios/{missing}/workspaces"), 404)

    (record,) = records(admin, actor=outsider.name, outcome="DENIED")
    assert (record["outcome"], record["status_code"]) == ("DENIED", 404)
    assert record["action"] == "workspace:List"
    assert record["studio_id"] == studio["id"]
    assert record["message"] == hidden["message"] == f"no studio {studio['id']}"


def test_a_mutation_of_a_missing_resource_is_recorded_as_failed(
    admin: UserClient, studio: dict[str, Any]
) -> None:
    path = f"/studios/{studio['id']}/workspaces/ws-0000000000000000"
    expect_error(admin.delete(path), 404)
    (record,) = records(admin, resource_prefix=f"studio/{studio['id']}/workspace/ws-0")
    assert (record["outcome"], record["status_code"], record["method"]) == ("FAILED", 404, "DELETE")


def test_password_logins_are_recorded_without_the_password(
    admin: UserClient,
    new_user: NewUser,
    anon: httpx.Client,
    database: Database,
    control_plane: ControlPlane,
) -> None:
    user = new_user()  # logged in once already
    wrong = f"wrong-{unique('secret')}"
    expect_error(anon.post("/auth/login", json={"username": user.name, "password": wrong}), 401)
    stranger = unique("nobody")
    expect_error(anon.post("/auth/login", json={"username": stranger, "password": wrong}), 401)

    failed, succeeded = records(admin, actor=user.name, action="session:Login")
    assert (succeeded["outcome"], succeeded["actor_id"]) == ("SUCCEEDED", user.user_id)
    assert (failed["outcome"], failed["status_code"]) == ("DENIED", 401)
    assert failed["actor_id"] is None
    assert failed["message"] == "wrong user name or password"
    assert failed["path"] == f"{API_PREFIX}/auth/login"
    (unknown,) = records(admin, actor=stranger)
    assert (unknown["action"], unknown["outcome"]) == ("session:Login", "DENIED")

    # Neither password nor the session token issued is anywhere in the table.
    columns = [column.key for column in AuditRecord.__mapper__.columns]
    with database.session(write=False) as db:
        rows = db.scalars(select(AuditRecord)).all()
    stored = "\n".join(repr([getattr(row, column) for column in columns]) for row in rows)
    assert stored.count(stranger) == 1
    for secret in (wrong, user.password, user.token, admin.token):
        assert secret not in stored


def test_the_workspace_proxy_records_its_denials(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any], control_plane: ControlPlane
) -> None:
    owner, colleague, outsider = new_user(), new_user(), new_user()
    for member in (owner, colleague):
        add_member(admin, studio["id"], user=member.name)
    workspace = create_workspace(owner, studio["id"])  # stopped; nobody here opens it
    lab = f"{control_plane.url}/workspaces/{workspace['id']}/lab"

    def bearer(user: UserClient) -> dict[str, str]:
        return {"Authorization": f"Bearer {user.token}"}

    assert httpx.get(lab).status_code == 401
    assert httpx.get(lab, headers=bearer(colleague)).status_code == 403  # not shared
    assert httpx.get(lab, headers=bearer(outsider)).status_code == 404  # hidden studio
    missing = f"{control_plane.url}/workspaces/ws-0000000000000000/lab"
    assert httpx.get(missing, headers=bearer(outsider)).status_code == 404  # really missing
    channels = lab.replace("http", "ws", 1).removesuffix("/lab") + "/api/kernels/k/channels"
    with pytest.raises(InvalidStatus):
        connect(channels, open_timeout=10).close()

    resource = f"studio/{studio['id']}/workspace/{workspace['id']}"
    hidden, forbidden = records(admin, resource_prefix=resource)
    assert (forbidden["actor_name"], forbidden["status_code"]) == (colleague.name, 403)
    assert (hidden["actor_name"], hidden["status_code"]) == (outsider.name, 404)
    for record in (hidden, forbidden):
        assert (record["action"], record["outcome"]) == ("workspace:Open", "DENIED")
        assert record["studio_id"] == studio["id"]
        assert record["path"] == f"/workspaces/{workspace['id']}/lab"
    socket, anonymous_get = records(admin, resource_prefix=f"/workspaces/{workspace['id']}/")
    assert (anonymous_get["method"], anonymous_get["status_code"]) == ("GET", 401)
    assert socket["path"] == f"/workspaces/{workspace['id']}/api/kernels/k/channels"
    assert (socket["status_code"], socket["outcome"]) == (401, "DENIED")
    assert socket["action"] == anonymous_get["action"] == "workspace:Open"
    assert records(admin, actor=outsider.name, outcome="DENIED") == [hidden]


# --- reading it -------------------------------------------------------------------------


def test_filters_combine_and_pages_go_newest_first(admin: UserClient, new_user: NewUser) -> None:
    studio, other = create_studio(admin), create_studio(admin)
    first, second = new_user(), new_user()
    for user in (first, second):
        add_member(admin, studio["id"], user=user.name)
        add_member(admin, other["id"], user=user.name)
    for user in (first, second):
        for target in (studio, other):
            create_workspace(user, target["id"])
    middle = utcnow()
    expect_error(second.delete(f"/studios/{studio['id']}"), 403)
    created = create_workspace(first, studio["id"])

    in_studio = records(admin, studio_id=studio["id"], action="workspace:Create")
    assert [r["actor_name"] for r in in_studio] == [first.name, second.name, first.name]
    assert all(r["studio_id"] == studio["id"] for r in in_studio)
    assert [r["id"] for r in in_studio] == sorted((r["id"] for r in in_studio), reverse=True)

    by_second = records(admin, actor=second.name, studio_id=studio["id"])
    assert [(r["action"], r["outcome"]) for r in by_second] == [
        ("studio:Delete", "DENIED"),
        ("workspace:Create", "SUCCEEDED"),
    ]
    assert records(admin, actor=second.name, outcome="DENIED") == by_second[:1]
    assert records(admin, actor=first.name, outcome="DENIED") == []

    recent = records(admin, studio_id=studio["id"], since=middle.isoformat())
    assert [r["action"] for r in recent] == ["workspace:Create", "studio:Delete"]
    older = records(admin, studio_id=studio["id"], until=middle.isoformat())
    assert {r["id"] for r in older}.isdisjoint({r["id"] for r in recent})
    assert len(older) + len(recent) == len(records(admin, studio_id=studio["id"]))
    # A time without an offset is UTC.
    naive = middle.replace(tzinfo=None).isoformat()
    assert records(admin, studio_id=studio["id"], since=naive) == recent

    one = f"studio/{studio['id']}/workspace/{created['id']}"
    assert records(admin, resource_prefix=one) == []  # created by the collection action
    collection = records(admin, resource_prefix=f"studio/{studio['id']}/workspace/")
    assert len(collection) == 3
    assert records(admin, resource_prefix=f"STUDIO/{studio['id']}/") == []

    # Pages of one, newest first, follow on without gaps or repeats.
    seen, token = [], None
    while True:
        params = {"studio_id": studio["id"], "limit": 1, "next_token": token}
        page = expect(admin.get("/audit", params={k: v for k, v in params.items() if v}), 200)
        seen += page["items"]
        token = page["next_token"]
        if token is None:
            break
    assert seen == records(admin, studio_id=studio["id"])


def test_bad_filters_are_refused_naming_the_field(admin: UserClient) -> None:
    cases = {
        "outcome=MAYBE": ("query.outcome", "'SUCCEEDED', 'FAILED' or 'DENIED'"),
        "action=foo:Bar": ("action", "session:Login"),
        "studio_id=analytics": ("studio_id", "studio id"),
        "since=yesterday": ("query.since", "ISO 8601"),
        "until=1700000000": ("query.until", "ISO 8601"),  # not read as seconds since 1970
        "since=2030-13-01T00:00:00Z": ("query.since", "datetime"),
        "since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z": ("until", "later than since"),
        "next_token=bm90LWEtbnVtYmVy": ("next_token", "not a page token"),
        "limit=0": ("query.limit", "greater than or equal to 1"),
    }
    for query, (field, words) in cases.items():
        for route in ("/audit", "/audit/export"):
            if route == "/audit/export" and ("next_token" in query or "limit" in query):
                continue
            error = expect_error(admin.get(f"{route}?{query}"), 422)
            assert field_names(error) == [field], (query, error)
            assert words in error["fields"][0]["message"], (query, error)


def test_export_streams_json_lines_matching_the_list_oldest_first(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    for _ in range(3):
        create_workspace(developer, studio["id"])
    expect_error(developer.delete(f"/studios/{studio['id']}"), 403)

    lines = exported(admin, studio_id=studio["id"])
    assert lines == list(reversed(records(admin, studio_id=studio["id"])))
    assert len(lines) == 5  # the admin's membership, three workspaces, one denial
    assert exported(admin, actor=developer.name, outcome="DENIED") == records(
        admin, actor=developer.name, outcome="DENIED"
    )
    assert exported(admin, actor=unique("nobody")) == []


def test_export_reads_in_chunks_and_stops_at_what_existed(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any], database: Database
) -> None:
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    for _ in range(5):
        create_workspace(developer, studio["id"])
    where = AuditFilter(studio_id=studio["id"])
    with database.session(write=False) as db:
        up_to = last_record_id(db)
    chunks = list(export_lines(database, where, up_to=up_to, chunk=2))
    assert [chunk.count("\n") for chunk in chunks] == [2, 2, 2]
    expected = list(reversed(records(admin, studio_id=studio["id"])))
    assert [json.loads(line) for line in "".join(chunks).splitlines()] == expected

    create_workspace(developer, studio["id"])  # written after the export began
    later = "".join(export_lines(database, where, up_to=up_to)).splitlines()
    assert [json.loads(line) for line in later] == expected


def test_only_platform_admins_read_the_trail_and_their_refusals_are_recorded(
    admin: UserClient, new_user: NewUser, anon: httpx.Client
) -> None:
    curious = new_user()
    for route in ("/audit", "/audit/export"):
        error = expect_error(curious.get(route), 403, "AccessDenied")
        assert "audit:List" in error["message"]
        expect_error(anon.get(route), 401)
    refused = records(admin, actor=curious.name, outcome="DENIED")
    assert [(r["path"], r["outcome"]) for r in refused] == [
        (f"{API_PREFIX}/audit/export", "DENIED"),
        (f"{API_PREFIX}/audit", "DENIED"),
    ]
    second_admin = new_user(platform_admin=True)
    expect(second_admin.get("/audit", params={"limit": 1}), 200)


def test_records_cannot_be_changed_through_the_api(
    admin: UserClient, new_user: NewUser, studio: dict[str, Any]
) -> None:
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    create_workspace(developer, studio["id"])
    before = exported(admin, studio_id=studio["id"])
    assert before
    target = before[-1]["id"]
    for route in ("/audit", "/audit/export"):
        for method in ("PUT", "PATCH", "DELETE", "POST"):
            response = admin.request(method, route, json={"outcome": "SUCCEEDED", "message": ""})
            expect_error(response, 405)
            assert response.headers["allow"] == "GET"
    # No route names one record either.
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        expect_error(admin.request(method, f"/audit/{target}"), 404)
    assert exported(admin, studio_id=studio["id"]) == before


# --- clients ----------------------------------------------------------------------------


def test_the_python_client_lists_and_exports(
    admin: UserClient, new_user: NewUser, control_plane: ControlPlane, studio: dict[str, Any]
) -> None:
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    for _ in range(3):
        create_workspace(developer, studio["id"])
    with Client(control_plane.url, admin.token) as client:
        listed = client.audit.list(actor=developer.name, action="workspace:Create")
        assert len(listed) == 3 and listed[0].id > listed[-1].id
        assert client.audit.list(actor=developer.name, limit=2) == listed[:2]
        since = listed[-1].at - timedelta(microseconds=1)
        assert client.audit.list(actor=developer.name, since=since) == listed
        exported = client.audit.export(actor=developer.name, action="workspace:Create")
        assert list(exported) == listed[::-1]
    with (
        Client(control_plane.url, developer.token) as client,
        pytest.raises(Forbidden, match="audit:List"),
    ):
        list(client.audit.export_lines())
