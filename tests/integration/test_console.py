"""The console's server side: its pages, their headers, and the CSRF rule for cookies."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from sparkstudio.console.csrf import CSRF_HEADER, csrf_token
from sparkstudio.server import ControlPlane
from tests.support import (
    PASSWORD,
    UserClient,
    add_member,
    create_studio,
    create_user,
    expect,
    unique,
)


@pytest.fixture
def browser_session(control_plane: ControlPlane, admin: UserClient) -> Iterator[httpx.Client]:
    """A client holding a console sign-in: the session cookie, as a browser would."""
    name = create_user(admin, unique("web"))["name"]
    with httpx.Client(base_url=control_plane.url, follow_redirects=False) as client:
        body = {"username": name, "password": PASSWORD, "session_cookie": True}
        expect(client.post("/api/v1/auth/login", json=body), 200)
        assert client.cookies.get("sparkstudio_session")
        yield client


def test_pages_need_a_session_and_come_back_after_signing_in(control_plane: ControlPlane) -> None:
    with httpx.Client(base_url=control_plane.url, follow_redirects=False) as client:
        assert client.get("/").headers["location"] == "/console"
        away = client.get("/console/studios/st-0000000000000000/clusters?show=all")
        assert away.status_code == 303
        assert away.headers["location"] == (
            "/console/login?next=/console/studios/st-0000000000000000/clusters%3Fshow%3Dall"
        )
        login = client.get("/console/login")
        assert login.status_code == 200 and "login.js" in login.text


def test_a_page_is_the_shell_with_a_strict_policy_and_the_sessions_csrf_token(
    browser_session: httpx.Client,
) -> None:
    page = browser_session.get("/console/studios/anything/workspaces")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["cache-control"] == "no-store"
    token = re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', page.text)
    assert token is not None
    assert token.group(1) == csrf_token(browser_session.cookies["sparkstudio_session"])
    assert browser_session.cookies["sparkstudio_session"] not in page.text
    assets = browser_session.get("/console/static/app.js")
    assert assets.status_code == 200 and "javascript" in assets.headers["content-type"]


def test_the_cookie_reads_but_changes_only_with_the_csrf_token(
    browser_session: httpx.Client, admin: UserClient
) -> None:
    studio = create_studio(admin)
    me = expect(browser_session.get("/api/v1/me"), 200)  # a read: the cookie is enough
    add_member(admin, studio["id"], user=me["user"]["name"])
    path = f"/api/v1/studios/{studio['id']}/workspaces"
    body = {"name": unique("ws")}
    # A forged cross-site form or script has the cookie sent, not the token.
    assert browser_session.post(path, json=body).status_code == 401
    wrong = {CSRF_HEADER: csrf_token("another session")}
    assert browser_session.post(path, json=body, headers=wrong).status_code == 401
    assert expect(browser_session.get(path), 200)["items"] == []
    right = {CSRF_HEADER: csrf_token(browser_session.cookies["sparkstudio_session"])}
    created = expect(browser_session.post(path, json=body, headers=right), 201)
    assert created["name"] == body["name"]
    # Signing out with the token ends the session: the cookie reads nothing more.
    expect(browser_session.post("/api/v1/auth/logout", headers=right), 204)
    assert browser_session.get("/api/v1/me").status_code == 401
