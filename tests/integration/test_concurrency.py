"""Concurrent writers: uniqueness holds, nothing is lost, nothing answers 500.

Threads released together by a barrier send their requests at the same moment, each on
its own connection, so the server handles them in parallel worker threads.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.support import (
    BOTH_DATABASES,
    NewUser,
    UserClient,
    add_member,
    create_studio,
    create_user,
    expect,
    unique,
)

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both

WRITERS = 8


# One request: method, URL, JSON body.
Call = tuple[str, str, dict[str, Any] | None]


def at_once(client: httpx.Client, calls: list[Call]) -> list[httpx.Response]:
    """Send the calls from as many threads, released together; return the responses."""
    barrier = threading.Barrier(len(calls))

    def send(call: Call) -> httpx.Response:
        method, url, body = call
        with httpx.Client(
            base_url=client.base_url, headers=client.headers, timeout=client.timeout
        ) as own:
            own.get("/health")  # open the connection before the race
            barrier.wait(timeout=30)
            return own.request(method, url, json=body)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(send, calls))


def statuses(responses: list[httpx.Response]) -> list[int]:
    return sorted(response.status_code for response in responses)


def test_one_of_many_same_name_workspaces_wins(admin: UserClient) -> None:
    studio = create_studio(admin)
    name = unique("race")
    url = f"/studios/{studio['id']}/workspaces"
    responses = at_once(admin, [("POST", url, {"name": name})] * WRITERS)

    assert statuses(responses) == [201] + [409] * (WRITERS - 1), [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["reason"] == "AlreadyExists"
    listed = expect(admin.get(url), 200)["items"]
    assert [w["name"] for w in listed] == [name]
    winner = next(r.json() for r in responses if r.status_code == 201)
    assert listed[0]["id"] == winner["id"]


def test_many_distinct_workspaces_are_all_kept(admin: UserClient, new_user: NewUser) -> None:
    studio = create_studio(admin)
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    url = f"/studios/{studio['id']}/workspaces"
    names = [unique("ws") for _ in range(WRITERS)]
    # A fresh token's first uses also record its last use: concurrent writes of one row.
    responses = at_once(developer, [("POST", url, {"name": name}) for name in names])

    assert statuses(responses) == [201] * WRITERS, [r.text for r in responses]
    listed = expect(admin.get(url, params={"limit": 1000}), 200)["items"]
    assert sorted(w["name"] for w in listed) == sorted(names)
    assert len({w["id"] for w in listed}) == WRITERS


def test_concurrent_reads_with_a_fresh_token(admin: UserClient, new_user: NewUser) -> None:
    """Every read of a never-used token wants to record its last use, all at once."""
    studio = create_studio(admin)
    developer = new_user()
    add_member(admin, studio["id"], user=developer.name)
    token = expect(developer.post("/tokens", json={"name": "fresh"}), 201)["token"]
    with httpx.Client(
        base_url=developer.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as fresh:
        url = f"/studios/{studio['id']}/workspaces"
        mixed: list[Call] = [
            ("GET", url, None) if i % 2 else ("POST", url, {"name": unique("ws")})
            for i in range(WRITERS)
        ]
        responses = at_once(fresh, mixed)
    assert statuses(responses) == sorted([200] * (WRITERS // 2) + [201] * (WRITERS // 2)), [
        r.text for r in responses
    ]


def test_one_of_many_same_name_studios_wins(admin: UserClient) -> None:
    name = unique("studio")
    responses = at_once(admin, [("POST", "/studios", {"name": name})] * WRITERS)
    assert statuses(responses) == [201] + [409] * (WRITERS - 1), [r.text for r in responses]
    assert len(expect(admin.get("/studios", params={"name": name}), 200)["items"]) == 1


def test_one_of_many_same_memberships_wins(admin: UserClient) -> None:
    studio = create_studio(admin)
    user = create_user(admin, password=None)
    body: dict[str, Any] = {"user": user["name"], "role": "DEVELOPER"}
    url = f"/studios/{studio['id']}/members"
    responses = at_once(admin, [("POST", url, body)] * WRITERS)
    assert statuses(responses) == [201] + [409] * (WRITERS - 1), [r.text for r in responses]
    assert len(expect(admin.get(url), 200)["items"]) == 1


def test_renames_to_one_name_leave_one_winner(admin: UserClient) -> None:
    studio = create_studio(admin)
    url = f"/studios/{studio['id']}/workspaces"
    ids = [expect(admin.post(url, json={"name": unique("ws")}), 201)["id"] for _ in range(WRITERS)]
    target = unique("target")
    responses = at_once(admin, [("PATCH", f"{url}/{wid}", {"name": target}) for wid in ids])
    assert statuses(responses) == [200] + [409] * (WRITERS - 1), [r.text for r in responses]
    names = [w["name"] for w in expect(admin.get(url), 200)["items"]]
    assert names.count(target) == 1
    assert len(names) == WRITERS
