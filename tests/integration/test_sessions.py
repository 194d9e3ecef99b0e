"""Login sessions: the cookie's flags, rotation at login, logout, disabled users, and the
throttling of failed logins, over real HTTP.

Cookie, rotation, logout and disable tests run on the shared control plane (SQLite and
PostgreSQL). Throttling keeps its counts in the process, so it runs on a control plane of
its own (SQLite) with small limits and a long first delay, which trusts 127.0.0.2 as its
reverse proxy: a client bound to 127.0.0.2 speaks for other addresses through
X-Forwarded-For, and clients bound to other loopback addresses are not believed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sparkstudio.api.cookies import SESSION_COOKIE
from sparkstudio.server import ControlPlane
from sparkstudio.settings import Settings
from tests.support import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    BOTH_DATABASES,
    PASSWORD,
    TIMEOUT,
    NewUser,
    UserClient,
    create_user,
    expect,
    expect_error,
    login,
    unique,
)

pytestmark = BOTH_DATABASES  # it exercises the database layer: on both

# --- helpers ----------------------------------------------------------------------------


def browser_login(
    api_url: str,
    name: str,
    password: str,
    *,
    cookie: str | None = None,
    session_cookie: bool = True,
    headers: dict[str, str] | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    """A login as a browser makes it: asking for the cookie, sending the one it holds.

    Each call uses a fresh client (no cookie jar carries over) unless ``client`` is given.
    """
    sent = dict(headers or {})
    if cookie is not None:
        sent["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    body = {"username": name, "password": password, "session_cookie": session_cookie}
    if client is not None:
        return client.post(f"{api_url}/auth/login", json=body, headers=sent)
    with httpx.Client(timeout=TIMEOUT) as fresh:
        return fresh.post(f"{api_url}/auth/login", json=body, headers=sent)


def with_cookie(value: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={value}"}


def with_bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def status_of_me(api_url: str, headers: dict[str, str]) -> int:
    with httpx.Client(timeout=TIMEOUT) as fresh:
        return fresh.get(f"{api_url}/me", headers=headers).status_code


def set_session_cookie(response: httpx.Response) -> dict[str, str]:
    """The session cookie a response sets: ``value`` and each attribute (lower-case name,
    '' for a flag such as HttpOnly)."""
    for header in response.headers.get_list("set-cookie"):
        name_value, *attributes = (part.strip() for part in header.split(";"))
        name, _, value = name_value.partition("=")
        if name == SESSION_COOKIE:
            cookie = {"value": value.strip('"')}
            for attribute in attributes:
                key, _, attribute_value = attribute.partition("=")
                cookie[key.lower()] = attribute_value
            return cookie
    raise AssertionError(f"no {SESSION_COOKIE} cookie in {response.headers.get_list('set-cookie')}")


def assert_cleared(cookie: dict[str, str]) -> None:
    assert cookie["value"] == ""
    assert cookie["max-age"] == "0"


# --- the cookie's flags -----------------------------------------------------------------


def test_the_login_cookie_over_plain_http_is_httponly_and_strict_but_not_secure(
    control_plane: ControlPlane, new_user: NewUser
) -> None:
    user = new_user()
    response = browser_login(control_plane.api_url, user.name, user.password)
    body = expect(response, 200)
    cookie = set_session_cookie(response)
    assert cookie["value"] == body["token"]
    assert "httponly" in cookie
    assert cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == str(control_plane.settings.session_ttl_hours * 3600)
    assert "secure" not in cookie  # a browser would never send it back over http


def test_the_login_cookie_behind_a_tls_proxy_is_secure(
    control_plane: ControlPlane, new_user: NewUser
) -> None:
    # The control plane trusts a proxy on its own host (the default trusted_proxies).
    user = new_user()
    https = {"X-Forwarded-Proto": "https"}
    response = browser_login(control_plane.api_url, user.name, user.password, headers=https)
    cookie = set_session_cookie(response)
    assert "secure" in cookie and "httponly" in cookie
    assert cookie["samesite"].lower() == "strict"

    headers = {**https, **with_cookie(cookie["value"]), **with_bearer(cookie["value"])}
    logout = httpx.post(f"{control_plane.api_url}/auth/logout", headers=headers, timeout=TIMEOUT)
    expect(logout, 204)
    cleared = set_session_cookie(logout)
    assert_cleared(cleared)
    # Clearing uses the same flags, or a browser would keep the Secure cookie.
    assert {"secure", "httponly"} <= cleared.keys()


def test_scripts_get_no_cookie_unless_they_ask(
    control_plane: ControlPlane, new_user: NewUser
) -> None:
    user = new_user()
    response = browser_login(control_plane.api_url, user.name, user.password, session_cookie=False)
    expect(response, 200)
    assert response.headers.get_list("set-cookie") == []


# --- rotation at login ------------------------------------------------------------------


def test_every_login_is_a_new_session_and_ends_the_one_the_browser_held(
    control_plane: ControlPlane, new_user: NewUser
) -> None:
    api = control_plane.api_url
    user = new_user()
    first = set_session_cookie(browser_login(api, user.name, user.password))["value"]
    assert status_of_me(api, with_cookie(first)) == 200  # now in the auth cache

    second_response = browser_login(api, user.name, user.password, cookie=first)
    second = set_session_cookie(second_response)["value"]
    assert second not in (first, user.token)
    assert status_of_me(api, with_cookie(first)) == 401
    assert status_of_me(api, with_bearer(first)) == 401
    assert status_of_me(api, with_cookie(second)) == 200
    assert status_of_me(api, with_bearer(user.token)) == 200  # other sessions go on

    # A login that asks for no cookie still ends the browser's old one, and clears it.
    third = browser_login(api, user.name, user.password, cookie=second, session_cookie=False)
    expect(third, 200)
    assert_cleared(set_session_cookie(third))
    assert status_of_me(api, with_cookie(second)) == 401


def test_a_login_ends_no_session_the_browser_cannot_prove_it_holds(
    control_plane: ControlPlane, new_user: NewUser
) -> None:
    api = control_plane.api_url
    victim = new_user()
    prefix, token_id, secret = victim.token.split(".")
    forged = f"{prefix}.{token_id}.{'A' * len(secret)}"  # the id is no secret
    attacker = new_user()
    expect(browser_login(api, attacker.name, attacker.password, cookie=forged), 200)
    assert status_of_me(api, with_bearer(victim.token)) == 200

    # An API token put in the cookie is not a login session: a login leaves it alone.
    api_token = expect(victim.post("/tokens", json={"name": "in-a-cookie"}), 201)["token"]
    expect(browser_login(api, victim.name, victim.password, cookie=api_token), 200)
    assert status_of_me(api, with_bearer(api_token)) == 200


# --- logout -----------------------------------------------------------------------------


def test_logout_revokes_the_session_and_clears_the_cookie_at_once(
    control_plane: ControlPlane, new_user: NewUser
) -> None:
    api = control_plane.api_url
    user = new_user()
    value = set_session_cookie(browser_login(api, user.name, user.password))["value"]
    assert status_of_me(api, with_cookie(value)) == 200  # cached: the logout must drop it

    headers = {**with_bearer(value), **with_cookie(value)}
    logout = httpx.post(f"{api}/auth/logout", headers=headers, timeout=TIMEOUT)
    expect(logout, 204)
    assert_cleared(set_session_cookie(logout))
    assert status_of_me(api, with_cookie(value)) == 401
    assert status_of_me(api, with_bearer(value)) == 401


def test_logout_also_ends_the_session_in_the_browsers_cookie(
    control_plane: ControlPlane, new_user: NewUser
) -> None:
    api = control_plane.api_url
    user = new_user()
    cookie = set_session_cookie(browser_login(api, user.name, user.password))["value"]
    assert status_of_me(api, with_cookie(cookie)) == 200
    # A page that signs out with its bearer token while the browser holds another session.
    headers = {**with_bearer(user.token), **with_cookie(cookie)}
    expect(httpx.post(f"{api}/auth/logout", headers=headers, timeout=TIMEOUT), 204)
    assert status_of_me(api, with_cookie(cookie)) == 401
    assert status_of_me(api, with_bearer(user.token)) == 401


# --- disabled users ---------------------------------------------------------------------


def test_disabling_a_user_ends_every_session_and_token_for_good(
    control_plane: ControlPlane, admin: UserClient, new_user: NewUser
) -> None:
    api = control_plane.api_url
    user = new_user()
    cookie = set_session_cookie(browser_login(api, user.name, user.password))["value"]
    api_token = expect(user.post("/tokens", json={"name": "cli"}), 201)["token"]
    credentials = [with_bearer(user.token), with_cookie(cookie), with_bearer(api_token)]
    for headers in credentials:  # each one resolved and cached
        assert status_of_me(api, headers) == 200

    expect(admin.patch(f"/users/{user.user_id}", json={"disabled": True}), 200)
    assert [status_of_me(api, headers) for headers in credentials] == [401, 401, 401]

    expect(admin.patch(f"/users/{user.user_id}", json={"disabled": False}), 200)
    assert [status_of_me(api, headers) for headers in credentials] == [401, 401, 401]
    assert expect(admin.get("/me"), 200)["user"]["name"] == ADMIN_NAME  # others go on
    with login(api, user.name, user.password) as again:  # a new login works
        listed = expect(again.get("/tokens", params={"include_inactive": True}), 200)["items"]
        assert [t["revoked_at"] is not None for t in listed] == [True]


# --- throttling failed logins -----------------------------------------------------------

PROXY = "127.0.0.2"  # the only peer whose X-Forwarded-* headers the guarded plane believes
STRANGER = "127.0.0.3"  # a direct client that claims to be others
PER_USER = 3
PER_ADDRESS = 6
FIRST_DELAY = 300  # long enough that no test outlives a delay by accident


@pytest.fixture(scope="module")
def guarded_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    settings = Settings(
        home=tmp_path_factory.mktemp("guarded"),
        port=0,
        admin_password=ADMIN_PASSWORD,
        history_server=False,
        trusted_proxies=PROXY,
        login_failures_before_delay=PER_USER,
        login_failures_per_address_before_delay=PER_ADDRESS,
        login_delay_seconds=FIRST_DELAY,
    )
    plane = ControlPlane(settings).start()
    try:
        yield plane
    finally:
        plane.stop()


def client_from(local_address: str) -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, transport=httpx.HTTPTransport(local_address=local_address))


@pytest.fixture(scope="module")
def proxy() -> Iterator[httpx.Client]:
    """The trusted reverse proxy: X-Forwarded-For names the client it speaks for."""
    with client_from(PROXY) as client:
        yield client


@pytest.fixture(scope="module")
def guarded_user(guarded_plane: ControlPlane) -> Iterator[Any]:
    """Factory: a new user with the usual password on the guarded plane."""
    with login(guarded_plane.api_url, ADMIN_NAME, ADMIN_PASSWORD) as admin:

        def make() -> str:
            return str(create_user(admin, unique("guarded"))["name"])

        yield make


def attempt(
    plane: ControlPlane, client: httpx.Client, name: str, password: str, address: str
) -> httpx.Response:
    return client.post(
        f"{plane.api_url}/auth/login",
        json={"username": name, "password": password},
        headers={"X-Forwarded-For": address},
    )


def assert_throttled(response: httpx.Response) -> int:
    body = expect_error(response, 429, "TooManyLogins")
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= FIRST_DELAY
    assert f"try again in {retry_after} s" in body["message"]
    assert "too many failed logins" in body["message"]
    return retry_after


def test_repeated_failures_for_one_user_are_refused_with_retry_after(
    guarded_plane: ControlPlane, proxy: httpx.Client, guarded_user: Any
) -> None:
    victim, bystander = guarded_user(), guarded_user()
    for _ in range(PER_USER):
        expect_error(attempt(guarded_plane, proxy, victim, "wrong-guess", "198.51.100.1"), 401)
    # The right password does not help during the delay, nor does another address.
    assert_throttled(attempt(guarded_plane, proxy, victim, PASSWORD, "198.51.100.1"))
    assert_throttled(attempt(guarded_plane, proxy, victim, PASSWORD, "198.51.100.2"))
    # Another user, from another address, is not affected.
    expect(attempt(guarded_plane, proxy, bystander, PASSWORD, "198.51.100.2"), 200)
    # The trail has every refused attempt, the guesses and the held-back ones.
    with login(guarded_plane.api_url, ADMIN_NAME, ADMIN_PASSWORD) as admin:
        trail = expect(admin.get("/audit", params={"actor": victim}), 200)["items"]
    assert [(r["outcome"], r["status_code"], r["source_address"]) for r in trail] == [
        ("DENIED", 429, "198.51.100.2"),
        ("DENIED", 429, "198.51.100.1"),
        *[("DENIED", 401, "198.51.100.1")] * PER_USER,
    ]


def test_one_address_guessing_at_many_names_is_refused(
    guarded_plane: ControlPlane, proxy: httpx.Client, guarded_user: Any
) -> None:
    user = guarded_user()
    for _ in range(PER_ADDRESS):
        response = attempt(guarded_plane, proxy, unique("ghost"), "a-guess", "198.51.100.3")
        expect_error(response, 401, "LoginFailed")
    assert_throttled(attempt(guarded_plane, proxy, user, PASSWORD, "198.51.100.3"))
    expect(attempt(guarded_plane, proxy, user, PASSWORD, "198.51.100.4"), 200)


def test_a_success_starts_the_users_count_afresh(
    guarded_plane: ControlPlane, proxy: httpx.Client, guarded_user: Any
) -> None:
    user = guarded_user()
    for _ in range(2):
        for _ in range(PER_USER - 1):
            expect_error(attempt(guarded_plane, proxy, user, "wrong-guess", "198.51.100.5"), 401)
        expect(attempt(guarded_plane, proxy, user, PASSWORD, "198.51.100.5"), 200)


def test_a_client_that_is_not_a_trusted_proxy_cannot_choose_its_address(
    guarded_plane: ControlPlane, guarded_user: Any
) -> None:
    user = guarded_user()
    with client_from(STRANGER) as stranger:
        for index in range(PER_ADDRESS):
            claimed = f"192.0.2.{index + 1}"
            expect_error(attempt(guarded_plane, stranger, unique("ghost"), "guess", claimed), 401)
        # Counted against its own address, whatever it claimed.
        assert_throttled(attempt(guarded_plane, stranger, user, PASSWORD, "192.0.2.200"))


def test_only_a_trusted_proxy_makes_the_cookie_secure(
    guarded_plane: ControlPlane, proxy: httpx.Client, guarded_user: Any
) -> None:
    user = guarded_user()
    https = {"X-Forwarded-Proto": "https"}
    api = guarded_plane.api_url
    trusted = browser_login(api, user, PASSWORD, headers=https, client=proxy)
    assert "secure" in set_session_cookie(trusted)
    with client_from("127.0.0.1") as direct:
        untrusted = browser_login(api, user, PASSWORD, headers=https, client=direct)
    assert "secure" not in set_session_cookie(untrusted)


def test_the_login_documents_its_429(guarded_plane: ControlPlane) -> None:
    document = httpx.get(guarded_plane.url + "/api/v1/openapi.json", timeout=TIMEOUT).json()
    responses = document["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert responses["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
