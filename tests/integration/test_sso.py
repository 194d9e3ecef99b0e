"""Single sign-on with a real OpenID Connect provider on loopback, through real redirects.

A test's "browser" is an httpx client that keeps cookies and follows each redirect itself
(see ``tests.oidc.Browser``); the provider is oidc-provider-mock, whose authorization
form the browser submits with the subject a person would type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sparkstudio.api.app import API_PREFIX
from sparkstudio.api.cookies import SESSION_COOKIE
from sparkstudio.api.routers.sso import STATE_COOKIE
from sparkstudio.auth.oidc import s256
from sparkstudio.db.models import PendingLogin, User
from sparkstudio.server import ControlPlane
from tests.oidc import (
    CLIENT_ID,
    CUSTOM_SCOPES,
    TOKEN_FAILURES,
    Browser,
    MockProvider,
    expect_signed_in,
    query_of,
    running_variant_plane,
    signed_in_user,
    with_query,
)
from tests.support import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    PASSWORD,
    UserClient,
    add_member,
    create_group,
    create_studio,
    create_user,
    expect,
    expect_error,
    field_names,
    login,
    unique,
)


@pytest.fixture(scope="module")
def variant_plane(
    metadata_db: str,
    tmp_path_factory: pytest.TempPathFactory,
    oidc_provider: MockProvider,
) -> Iterator[ControlPlane]:
    """A control plane whose providers are configured unlike ``corp``: ``custom`` (other
    scopes and claim names) and two whose token endpoint fails (see ``tests.oidc``)."""
    home = tmp_path_factory.mktemp(f"sso-variants-{metadata_db}")
    with running_variant_plane(home, metadata_db, oidc_provider) as plane:
        yield plane


@pytest.fixture(scope="module")
def variant_admin(variant_plane: ControlPlane) -> Iterator[UserClient]:
    with login(variant_plane.api_url, ADMIN_NAME, ADMIN_PASSWORD) as client:
        yield client


# --- providers and the sign-in page ------------------------------------------------------


def test_the_providers_are_listed_and_offered_on_the_sign_in_page(
    sso_plane: ControlPlane,
) -> None:
    listed = expect(httpx.get(f"{sso_plane.api_url}/auth/providers"), 200)
    corp = next(p for p in listed if p["name"] == "corp")
    assert corp == {
        "name": "corp",
        "display_name": "Corp Directory",
        "login_url": "/api/v1/auth/oidc/corp/login",
    }
    assert {p["name"] for p in listed} == {"corp", "stale", "down"}

    page = httpx.get(f"{sso_plane.url}/login", params={"next": "/workspaces"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="/api/v1/auth/oidc/corp/login?next=/workspaces">Sign in with Corp Directory' in (
        page.text
    )
    assert "<script" not in page.text and "http" not in page.text.split("<body>")[1]
    assert "default-src 'none'" in page.headers["content-security-policy"]


# --- the browser flow --------------------------------------------------------------------


def test_first_sign_in_creates_the_user_and_opens_a_browser_session(
    sso_plane: ControlPlane, sso_admin: UserClient, oidc_provider: MockProvider, browser: Browser
) -> None:
    subject, name = oidc_provider.new_person(name="Ada Lovelace", email="ada@example.com")

    started = browser.start(next="/api/v1/me")
    assert started.status_code == 302
    to_provider = started.headers["location"]
    assert to_provider.startswith(f"{oidc_provider.issuer}/oauth2/authorize?")
    asked = query_of(to_provider)
    assert asked["response_type"] == "code" and asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == f"{sso_plane.api_url}/auth/oidc/corp/callback"
    assert asked["scope"].split() == ["openid", "profile", "email"]
    assert asked["code_challenge_method"] == "S256"
    with sso_plane.prepared.database.session(write=False) as db:
        pending = db.get(PendingLogin, asked["state"])
        assert pending is not None and pending.nonce == asked["nonce"]
        # PKCE: the provider is shown only the challenge of a verifier we keep.
        assert asked["code_challenge"] == s256(pending.code_verifier)
        assert pending.code_verifier not in to_provider
    state_cookie = started.headers["set-cookie"]
    assert "HttpOnly" in state_cookie and "SameSite=lax" in state_cookie
    assert "Path=/api/v1/auth/oidc/corp/callback" in state_cookie

    back = browser.authorize(to_provider, subject)
    assert back.startswith(f"{sso_plane.api_url}/auth/oidc/corp/callback?")
    answer = browser.http.get(back)

    # A page that moves on by itself, since the Strict cookie it sets would not be sent
    # on the next hop of the provider's redirect chain.
    assert answer.status_code == 200, answer.text
    assert '<meta http-equiv="refresh" content="0; url=/api/v1/me">' in answer.text
    session_cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("sparkstudio_session=")
    )
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie
    me = signed_in_user(browser)
    assert me["token_kind"] == "SESSION"
    assert me["user"]["name"] == name and me["user"]["identity_provider"] == "corp"
    assert me["user"]["display_name"] == "Ada Lovelace"
    assert me["user"]["email"] == "ada@example.com"
    # The sign-in is in the audit trail, though it was a GET.
    trail = expect(sso_admin.get("/audit", params={"actor": name, "action": "session:Login"}), 200)
    assert [(r["outcome"], r["method"], r["actor_id"]) for r in trail["items"]] == [
        ("SUCCEEDED", "GET", me["user"]["id"])
    ]

    # The user has no password: a password login cannot be theirs.
    refused = httpx.post(
        f"{sso_plane.api_url}/auth/login", json={"username": name, "password": "anything-at-all"}
    )
    expect_error(refused, 401, "LoginFailed")


def test_a_user_is_found_by_subject_not_by_name(
    sso_plane: ControlPlane, oidc_provider: MockProvider, browser: Browser
) -> None:
    subject, name = oidc_provider.new_person()
    expect_signed_in(browser.sign_in(subject))
    first = signed_in_user(browser)["user"]

    # The directory renames the person: the same user signs in, keeping their name.
    oidc_provider.set_claims(subject, preferred_username=unique("renamed"), name="New Name")
    again = Browser(sso_plane)
    try:
        expect_signed_in(again.sign_in(subject))
        second = signed_in_user(again)["user"]
    finally:
        again.close()
    assert second["id"] == first["id"] and second["name"] == name
    assert second["display_name"] == "New Name"


def test_first_sign_in_never_takes_over_an_existing_account(
    sso_plane: ControlPlane,
    oidc_provider: MockProvider,
    browser: Browser,
    sso_admin: UserClient,
) -> None:
    local = create_user(sso_admin)
    subject = f"subject-{unique('intruder')}"
    oidc_provider.set_claims(subject, preferred_username=local["name"])

    body = expect_error(browser.sign_in(subject), 409, "UserNameTaken")
    assert local["name"] in body["message"] and "never taken over" in body["message"]
    assert browser.api("/me").status_code == 401
    with sso_plane.prepared.database.session(write=False) as db:
        user = db.get(User, local["id"])
        assert user is not None and user.identity_provider is None and user.subject is None
    # The local user still logs in with their password.
    login(sso_plane.api_url, local["name"], PASSWORD).close()


def test_a_user_name_claim_that_is_no_user_name_is_refused_clearly(
    oidc_provider: MockProvider, browser: Browser
) -> None:
    subject = f"subject-{unique('odd')}"
    oidc_provider.set_claims(subject, preferred_username="Ada Lovelace <ada@example.com>")
    body = expect_error(browser.sign_in(subject), 403, "UnusableIdentity")
    assert "'preferred_username' claim" in body["message"] and "username_claim" in body["message"]


def test_a_disabled_user_is_refused(
    oidc_provider: MockProvider, browser: Browser, sso_admin: UserClient, sso_plane: ControlPlane
) -> None:
    subject, _ = oidc_provider.new_person()
    expect_signed_in(browser.sign_in(subject))
    user_id = signed_in_user(browser)["user"]["id"]
    expect(sso_admin.patch(f"/users/{user_id}", json={"disabled": True}), 200)

    again = Browser(sso_plane)
    try:
        body = expect_error(again.sign_in(subject), 403, "UserDisabled")
        assert "disabled" in body["message"]
        assert again.api("/me").status_code == 401
    finally:
        again.close()


def test_the_configured_scopes_and_claim_names_are_the_ones_used(
    variant_plane: ControlPlane, variant_admin: UserClient, oidc_provider: MockProvider
) -> None:
    """``custom`` asks for openid, email and phone, names users from ``employee_id`` and
    reads groups from ``teams``; the default claims carry other values, as decoys."""
    name, team = unique("emp"), unique("team")
    decoy_name, decoy_group = unique("decoy"), unique("decoy-grp")
    subject = f"subject-{name}"
    oidc_provider.set_claims(
        subject,
        employee_id=name.upper(),  # lower-cased into the user name
        teams=[team],
        preferred_username=decoy_name,
        groups=[decoy_group],
        name="Grace Hopper",
        email=f"{name}@example.com",
    )

    browser = Browser(variant_plane)
    try:
        started = browser.start("custom")
        assert started.status_code == 302, started.text
        to_provider = started.headers["location"]
        assert query_of(to_provider)["scope"].split() == CUSTOM_SCOPES
        expect_signed_in(browser.http.get(browser.authorize(to_provider, subject)))
        user = signed_in_user(browser)["user"]
    finally:
        browser.close()
    assert (user["name"], user["identity_provider"]) == (name, "custom")
    assert user["groups"] == [team]
    assert user["email"] == f"{name}@example.com"  # the email scope was asked for
    # 'name' is a profile claim and profile was not asked for: the provider left it out.
    assert user["display_name"] == ""
    (group,) = expect(variant_admin.get("/groups", params={"name": team}), 200)["items"]
    assert group["source"] == "custom" and group["members"] == [name]
    assert expect(variant_admin.get("/groups", params={"name": decoy_group}), 200)["items"] == []
    with variant_plane.prepared.database.session(write=False) as db:
        assert db.scalars(select(User).where(User.name == decoy_name)).first() is None


def test_an_sso_login_ends_the_session_the_browser_held(
    sso_plane: ControlPlane, oidc_provider: MockProvider, browser: Browser
) -> None:
    subject, _ = oidc_provider.new_person()
    expect_signed_in(browser.sign_in(subject))
    first = browser.http.cookies[SESSION_COOKIE]
    assert session_status(sso_plane, cookie=first) == 200  # now in the auth cache

    expect_signed_in(browser.sign_in(subject))  # the browser sends the session it holds
    second = browser.http.cookies[SESSION_COOKIE]
    assert second != first
    assert session_status(sso_plane, cookie=first) == 401
    assert session_status(sso_plane, bearer=first) == 401
    assert session_status(sso_plane, cookie=second) == 200


def test_an_sso_login_ends_the_session_the_browser_held_without_its_cookie_at_the_callback(
    sso_plane: ControlPlane, oidc_provider: MockProvider, browser: Browser
) -> None:
    """As a browser does it: the SameSite=Strict session cookie is sent when the sign-in
    starts (a same-site navigation), not on the provider's cross-site redirect back."""
    subject, _ = oidc_provider.new_person()
    expect_signed_in(browser.sign_in(subject))
    first = browser.http.cookies[SESSION_COOKIE]
    assert session_status(sso_plane, cookie=first) == 200  # now in the auth cache

    started = browser.start()  # sends the session cookie
    assert started.request.headers["cookie"].count(f"{SESSION_COOKIE}=") == 1
    state = query_of(started.headers["location"])["state"]
    with sso_plane.prepared.database.session(write=False) as db:
        pending = db.get(PendingLogin, state)
        assert pending is not None and pending.previous_token_id == first.split(".")[1]
    answer = browser.come_back(browser.authorize(started.headers["location"], subject))
    sent = answer.request.headers["cookie"]
    assert SESSION_COOKIE not in sent and f"{STATE_COOKIE}={state}" in sent
    expect_signed_in(answer)
    second = browser.http.cookies[SESSION_COOKIE]
    assert second != first
    assert session_status(sso_plane, cookie=first) == 401
    assert session_status(sso_plane, bearer=first) == 401
    assert session_status(sso_plane, cookie=second) == 200


def test_an_sso_login_does_not_end_a_session_the_browser_merely_claims(
    sso_plane: ControlPlane, oidc_provider: MockProvider, browser: Browser, sso_admin: UserClient
) -> None:
    """Only a session presented with its secret is remembered at the start; an API token
    in the cookie is left alone; a CLI sign-in leaves the browser's session alone."""
    subject, name = oidc_provider.new_person()
    expect_signed_in(browser.sign_in(subject))
    held = browser.http.cookies[SESSION_COOKIE]
    prefix, token_id, _ = held.split(".")
    api_token = expect(sso_admin.post("/tokens", json={"name": unique("tok")}), 201)["token"]
    for presented in (f"{prefix}.{token_id}.not-its-secret", api_token):
        other = Browser(sso_plane)
        try:
            other.http.cookies.set(SESSION_COOKIE, presented)
            started = other.start()
            state = query_of(started.headers["location"])["state"]
            with sso_plane.prepared.database.session(write=False) as db:
                pending = db.get(PendingLogin, state)
                assert pending is not None and pending.previous_token_id is None
            expect_signed_in(other.come_back(other.authorize(started.headers["location"], subject)))
        finally:
            other.close()
    assert session_status(sso_plane, cookie=held) == 200
    assert session_status(sso_plane, bearer=api_token) == 200

    verifier = "v" * 64
    started = browser.start(cli_port=49999, cli_challenge=s256(verifier))
    state = query_of(started.headers["location"])["state"]
    with sso_plane.prepared.database.session(write=False) as db:
        pending = db.get(PendingLogin, state)
        assert pending is not None and pending.previous_token_id is None
    to_cli = browser.come_back(browser.authorize(started.headers["location"], subject))
    assert to_cli.status_code == 302, to_cli.text
    assert to_cli.headers["location"].startswith("http://127.0.0.1:49999/callback?code=")
    assert session_status(sso_plane, cookie=held) == 200
    assert browser.http.cookies[SESSION_COOKIE] == held
    assert signed_in_user(browser)["user"]["name"] == name


def session_status(
    plane: ControlPlane, *, cookie: str | None = None, bearer: str | None = None
) -> int:
    """The status of ``GET /me`` with a session token in a cookie or as a bearer token."""
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    return httpx.get(f"{plane.api_url}/me", headers=headers).status_code


# --- directory groups --------------------------------------------------------------------


def test_groups_follow_the_groups_claim_at_every_sign_in(
    sso_plane: ControlPlane,
    oidc_provider: MockProvider,
    sso_admin: UserClient,
) -> None:
    engineers, operators, shadow, local = (unique(p) for p in ("eng", "ops", "shadow", "loc"))
    # A directory group created ahead of anyone's sign-in, so a studio can be mapped to it.
    directory = expect(sso_admin.post("/groups", json={"name": engineers, "source": "corp"}), 201)
    assert directory["source"] == "corp" and directory["members"] == []
    studio = create_studio(sso_admin)
    add_member(sso_admin, studio["id"], group=engineers)
    shadow_group = create_group(sso_admin, shadow)  # a local group a claim also names
    subject, name = oidc_provider.new_person(groups=[engineers, operators, shadow])

    first = Browser(sso_plane)
    try:
        expect_signed_in(first.sign_in(subject))
        me = signed_in_user(first)
        assert sorted(me["user"]["groups"]) == sorted([engineers, operators])
        assert [s["studio_id"] for s in me["studios"]] == [studio["id"]]
        assert expect(first.api(f"/studios/{studio['id']}"), 200)["name"] == studio["name"]
    finally:
        first.close()
    created = expect(sso_admin.get("/groups", params={"name": operators}), 200)["items"]
    assert created[0]["source"] == "corp" and created[0]["members"] == [name]
    shadow_now = expect(sso_admin.get(f"/groups/{shadow_group['id']}"), 200)
    assert shadow_now["source"] is None and shadow_now["members"] == []

    # A platform admin adds the user to a local group; the directory drops them from
    # the engineers.
    user_id = me["user"]["id"]
    local_group = create_group(sso_admin, local, members=(user_id,))
    oidc_provider.set_claims(subject, preferred_username=name, groups=[operators])
    second = Browser(sso_plane)
    try:
        expect_signed_in(second.sign_in(subject))
        me = signed_in_user(second)
        assert sorted(me["user"]["groups"]) == sorted([operators, local])
        assert me["studios"] == []
        expect_error(second.api(f"/studios/{studio['id']}"), 404)
    finally:
        second.close()
    assert expect(sso_admin.get(f"/groups/{local_group['id']}"), 200)["members"] == [name]

    # Directory groups are the directory's: their members are not edited by hand.
    refused = sso_admin.put(f"/groups/{directory['id']}/members/{user_id}")
    assert (
        "follow the provider's groups claim"
        in expect_error(refused, 409, "DirectoryGroup")["message"]
    )


def test_a_directory_group_needs_a_configured_provider(sso_admin: UserClient) -> None:
    body = expect_error(
        sso_admin.post("/groups", json={"name": unique("grp"), "source": "elsewhere"}), 422
    )
    assert field_names(body) == ["source"] and "corp" in body["message"]


def test_what_a_sign_in_changes_is_in_the_audit_trail(
    sso_plane: ControlPlane, oidc_provider: MockProvider, sso_admin: UserClient
) -> None:
    kept, dropped, joined = (unique(p) for p in ("kept", "dropped", "joined"))
    subject, name = oidc_provider.new_person(groups=[kept, dropped])
    first = Browser(sso_plane)
    try:
        expect_signed_in(first.sign_in(subject))
        user_id = signed_in_user(first)["user"]["id"]
    finally:
        first.close()
    ids = {g: group_id(sso_admin, g) for g in (kept, dropped)}
    callback = f"{API_PREFIX}/auth/oidc/corp/callback"

    created = changes_by(sso_admin, name)
    for record in created:
        assert (record["actor_id"], record["outcome"], record["status_code"]) == (
            user_id,
            "SUCCEEDED",
            200,
        )
        assert (record["method"], record["path"]) == ("GET", callback)
    assert [(r["action"], r["resource"]) for r in reversed(created)] == [
        ("user:Create", f"{API_PREFIX}/users/{user_id}"),
        *(
            change
            for g in sorted((kept, dropped))
            for change in (
                ("group:Create", f"{API_PREFIX}/groups/{ids[g]}"),
                ("group:Update", f"{API_PREFIX}/groups/{ids[g]}/members/{user_id}"),
            )
        ),
    ]
    assert "first sign-in with 'corp'" in created[-1]["message"]

    # The directory moves the user from one group to another: the next sign-in says so.
    oidc_provider.set_claims(subject, preferred_username=name, groups=[kept, joined])
    second = Browser(sso_plane)
    try:
        expect_signed_in(second.sign_in(subject))
    finally:
        second.close()
    ids[joined] = group_id(sso_admin, joined)
    synced = [r for r in changes_by(sso_admin, name) if r["id"] > created[0]["id"]]
    assert [(r["action"], r["resource"]) for r in reversed(synced)] == [
        ("group:Update", f"{API_PREFIX}/groups/{ids[dropped]}/members/{user_id}"),
        ("group:Create", f"{API_PREFIX}/groups/{ids[joined]}"),
        ("group:Update", f"{API_PREFIX}/groups/{ids[joined]}/members/{user_id}"),
    ]
    left, _, entered = reversed(synced)
    assert f"left directory group '{dropped}'" in left["message"]
    assert f"joined directory group '{joined}'" in entered["message"]
    assert "'groups' claim of 'corp'" in entered["message"]
    # A group's membership changes are found by its resource, as the API's own are.
    history = records_of(sso_admin, resource_prefix=f"{API_PREFIX}/groups/{ids[dropped]}/")
    assert [r["message"].split(":")[0] for r in history] == [
        f"user '{name}' left directory group '{dropped}'",
        f"user '{name}' joined directory group '{dropped}'",
    ]


def group_id(admin: UserClient, name: str) -> str:
    (group,) = expect(admin.get("/groups", params={"name": name}), 200)["items"]
    found: str = group["id"]
    return found


def records_of(admin: UserClient, **filters: Any) -> list[dict[str, Any]]:
    """The audit records matching ``filters``, newest first."""
    page = expect(admin.get("/audit", params={**filters, "limit": 1000}), 200)
    assert page["next_token"] is None
    items: list[dict[str, Any]] = page["items"]
    return items


def changes_by(admin: UserClient, actor: str) -> list[dict[str, Any]]:
    """What ``actor`` changed, newest first (their sign-ins left out)."""
    return [r for r in records_of(admin, actor=actor) if r["action"] != "session:Login"]


# --- refused sign-ins --------------------------------------------------------------------


def test_a_wrong_state_is_rejected(oidc_provider: MockProvider, browser: Browser) -> None:
    subject, _ = oidc_provider.new_person()
    back = browser.callback_url(subject)
    body = expect_error(browser.http.get(with_query(back, state="not-a-state-we-issued")), 400)
    assert body["reason"] == "InvalidState" and "start the sign-in again" in body["message"]
    assert browser.api("/me").status_code == 401
    # The real answer still works: a wrong state uses nothing up.
    expect_signed_in(browser.http.get(back))


def test_a_used_state_is_rejected(oidc_provider: MockProvider, browser: Browser) -> None:
    subject, _ = oidc_provider.new_person()
    back = browser.callback_url(subject)
    expect_signed_in(browser.http.get(back))
    replayed = expect_error(browser.http.get(back), 400, "InvalidState")
    assert "already used" in replayed["message"]


def test_a_sign_in_finished_in_another_browser_is_rejected(
    sso_plane: ControlPlane, oidc_provider: MockProvider, browser: Browser
) -> None:
    """Login CSRF: someone's own callback address, opened in a victim's browser."""
    subject, _ = oidc_provider.new_person()
    theirs = browser.callback_url(subject)
    victim = Browser(sso_plane)
    try:
        body = expect_error(victim.http.get(theirs), 400, "InvalidState")
        assert "not started in this browser" in body["message"]
        assert victim.api("/me").status_code == 401
    finally:
        victim.close()


def test_a_nonce_mismatch_is_rejected(
    sso_plane: ControlPlane, oidc_provider: MockProvider, browser: Browser
) -> None:
    """An ID token minted for another authorization request (its nonce) is refused."""
    subject, _ = oidc_provider.new_person()
    started = browser.start()
    to_provider = with_query(started.headers["location"], nonce="a-nonce-we-never-sent")
    back = browser.authorize(to_provider, subject)
    body = expect_error(browser.http.get(back), 401, "InvalidIdToken")
    assert "'nonce'" in body["message"] and "corp" in body["message"]
    assert browser.api("/me").status_code == 401


def test_an_expired_id_token_is_rejected(
    sso_plane: ControlPlane, stale_oidc_provider: MockProvider, browser: Browser
) -> None:
    subject, name = stale_oidc_provider.new_person()
    body = expect_error(browser.sign_in(subject, provider="stale"), 401, "InvalidIdToken")
    assert "expired" in body["message"] and "stale" in body["message"]
    with sso_plane.prepared.database.session(write=False) as db:
        assert db.scalars(select(User).where(User.name == name)).first() is None


def test_the_provider_refusing_is_reported(browser: Browser) -> None:
    started = browser.start()
    back = browser.deny(started.headers["location"])
    assert query_of(back)["error"] == "access_denied"
    body = expect_error(browser.http.get(back), 401, "SsoDenied")
    assert "access_denied" in body["message"] and "corp" in body["message"]
    # The mock leaves the state out of its error; RFC 6749 (4.1.2.1) has it sent back, and
    # then the refused sign-in's state is used up as well.
    with_state = with_query(back, state=query_of(started.headers["location"])["state"])
    expect_error(browser.http.get(with_state), 401, "SsoDenied")
    assert "already used" in expect_error(browser.http.get(with_state), 400)["message"]


def test_a_provider_that_is_down_gives_a_clear_error(
    sso_plane: ControlPlane, browser: Browser
) -> None:
    body = expect_error(browser.start("down"), 502, "ProviderUnavailable")
    assert "identity provider 'down' is unavailable" in body["message"]
    assert "discovery document" in body["message"] and "connection refused" in body["message"]
    # A browser is shown a page, not JSON, and never a traceback.
    person = Browser(sso_plane, accept="text/html,application/xhtml+xml")
    try:
        page = person.start("down")
        assert page.status_code == 502 and page.headers["content-type"].startswith("text/html")
        assert "identity provider &#x27;down&#x27; is unavailable" in page.text
        assert "Traceback" not in page.text and "<script" not in page.text
    finally:
        person.close()


@pytest.mark.parametrize("provider", sorted(TOKEN_FAILURES))
def test_a_token_endpoint_failing_at_the_callback_signs_nobody_in(
    variant_plane: ControlPlane,
    oidc_provider: MockProvider,
    variant_admin: UserClient,
    provider: str,
) -> None:
    """The provider is up when the sign-in starts; its token endpoint fails (503) or is
    gone by the time the browser comes back."""
    subject, name = oidc_provider.new_person()
    person = Browser(variant_plane, accept="text/html,application/xhtml+xml")
    try:
        started = person.start(provider)
        assert started.status_code == 302, started.text
        answer = person.http.get(person.authorize(started.headers["location"], subject))
        assert answer.status_code == 502 and answer.headers["content-type"].startswith("text/html")
        assert f"identity provider &#x27;{provider}&#x27; is unavailable" in answer.text
        assert "token endpoint" in answer.text
        assert "Traceback" not in answer.text and "sparkstudio_session" not in str(answer.headers)
        assert person.api("/me").status_code == 401
    finally:
        person.close()
    with variant_plane.prepared.database.session(write=False) as db:
        assert db.scalars(select(User).where(User.name == name)).first() is None
    # The failed sign-in is in the audit trail, without a user: none was signed in.
    callback = f"{API_PREFIX}/auth/oidc/{provider}/callback"
    (record,) = records_of(variant_admin, action="session:Login", resource_prefix=callback)
    assert (record["outcome"], record["status_code"], record["method"]) == ("FAILED", 502, "GET")
    assert (record["actor_id"], record["actor_name"]) == (None, "")
    assert f"identity provider '{provider}' is unavailable" in record["message"]
    assert "token endpoint" in record["message"]


def test_next_is_only_ever_a_path_here(browser: Browser) -> None:
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example", "relative"):
        body = expect_error(browser.start(next=elsewhere), 422)
        assert field_names(body) == ["query.next"], elsewhere
    expect_error(browser.start("nobody-by-that-name"), 404)


# --- studios that require single sign-on --------------------------------------------------


def test_an_sso_only_studio_refuses_password_logins_of_its_members(
    sso_plane: ControlPlane, sso_admin: UserClient
) -> None:
    direct = create_user(sso_admin)
    through_group = create_user(sso_admin)
    outsider = create_user(sso_admin)
    member_admin = create_user(sso_admin, is_platform_admin=True)
    group = create_group(sso_admin, members=(through_group["id"],))
    studio = create_studio(sso_admin)
    add_member(sso_admin, studio["id"], user=direct["name"])
    add_member(sso_admin, studio["id"], user=member_admin["name"])
    add_member(sso_admin, studio["id"], group=group["name"])
    # A script's API token, made while passwords were still accepted.
    with login(sso_plane.api_url, direct["name"], PASSWORD) as session:
        api_token = expect(session.post("/tokens", json={"name": "ci"}), 201)["token"]

    changed = expect(
        sso_admin.patch(f"/studios/{studio['id']}", json={"auth_mode": "SSO_ONLY"}), 200
    )
    assert changed["auth_mode"] == "SSO_ONLY"

    for member in (direct, through_group):
        refused = httpx.post(
            f"{sso_plane.api_url}/auth/login",
            json={"username": member["name"], "password": PASSWORD},
        )
        body = expect_error(refused, 403, "SsoRequired")
        assert f"studio '{studio['name']}' requires single sign-on" in body["message"]
        assert "--sso" in body["message"]
    # A wrong password still says only that: the studio is named to its members alone.
    wrong = httpx.post(
        f"{sso_plane.api_url}/auth/login",
        json={"username": direct["name"], "password": "not-the-password"},
    )
    assert studio["name"] not in expect_error(wrong, 401, "LoginFailed")["message"]
    # Others log in as before, and so do platform admins, members or not: the way in
    # when the identity provider is down.
    login(sso_plane.api_url, outsider["name"], PASSWORD).close()
    login(sso_plane.api_url, member_admin["name"], PASSWORD).close()
    assert expect(sso_admin.get("/me"), 200)["user"]["is_platform_admin"]
    # API tokens keep working for scripts.
    script = httpx.get(f"{sso_plane.api_url}/me", headers={"Authorization": f"Bearer {api_token}"})
    assert expect(script, 200)["user"]["name"] == direct["name"]

    # Back to passwords.
    expect(sso_admin.patch(f"/studios/{studio['id']}", json={"auth_mode": "PASSWORD_OR_SSO"}), 200)
    login(sso_plane.api_url, direct["name"], PASSWORD).close()


def test_sso_only_needs_a_configured_provider(admin: UserClient, studio: dict[str, Any]) -> None:
    """On a platform without providers (the shared control plane), SSO_ONLY is refused."""
    body = expect_error(
        admin.post("/studios", json={"name": unique("studio"), "auth_mode": "SSO_ONLY"}), 422
    )
    assert field_names(body) == ["auth_mode"] and "provider" in body["message"]
    body = expect_error(
        admin.patch(f"/studios/{studio['id']}", json={"auth_mode": "SSO_ONLY"}), 422
    )
    assert field_names(body) == ["auth_mode"]
    assert studio["auth_mode"] == "PASSWORD_OR_SSO"
    assert re.fullmatch(r"[A-Z_]+", studio["auth_mode"])
