"""A real OpenID Connect provider on loopback (oidc-provider-mock) and a control plane that
signs users in with it.

The provider serves discovery, its keys, a token endpoint and an authorization page: a
form where whoever signs in types a subject. ``PUT /users/<sub>`` sets the claims its
ID tokens then carry for that subject (``preferred_username``, ``groups``, …). Its ID
tokens live for ``access_token_max_age``: the ``stale`` provider's expire five minutes
before they are issued, so every one it issues is expired.

The control plane knows three providers: ``corp`` (the working one), ``stale`` and
``down`` (nothing listens at its issuer).
"""

from __future__ import annotations

import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from sparkstudio.auth.providers import OidcProvider
from sparkstudio.server import ControlPlane
from tests.support import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    BACKENDS,
    TIMEOUT,
    UserClient,
    expect,
    login,
    running_control_plane,
    unique,
)

with warnings.catch_warnings():
    # The provider is built on authlib APIs that authlib has since deprecated.
    warnings.simplefilter("ignore", DeprecationWarning)
    import oidc_provider_mock

CLIENT_ID = "sparkstudio-tests"


@dataclass(frozen=True)
class MockProvider:
    issuer: str

    def set_claims(self, subject: str, **claims: Any) -> None:
        """The claims the provider's tokens carry for ``subject`` from now on."""
        response = httpx.put(f"{self.issuer}/users/{quote(subject, safe='')}", json=claims)
        assert response.status_code == 204, response.text

    def new_person(self, **claims: Any) -> tuple[str, str]:
        """A subject no other test uses, with a user name to match; (subject, name)."""
        name = unique("sso")
        subject = f"subject-{name}"
        self.set_claims(subject, preferred_username=name, **claims)
        return subject, name


@contextmanager
def mock_provider(**options: Any) -> Iterator[MockProvider]:
    with oidc_provider_mock.run_server_in_thread(**options) as server:
        # The provider names itself after the Host it is reached at: use one address.
        yield MockProvider(f"http://127.0.0.1:{server.server_port}")


def closed_port() -> int:
    """A loopback port nothing listens on (taken from the system, then let go)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Browser:
    """What a browser does while signing in: keeps cookies, follows the redirects one at a
    time, and submits the provider's form with the subject a person would type."""

    def __init__(self, plane: ControlPlane, *, accept: str = "*/*") -> None:
        self.plane = plane
        self.http = httpx.Client(timeout=TIMEOUT, headers={"Accept": accept})

    def close(self) -> None:
        self.http.close()

    def start(self, provider: str = "corp", **params: Any) -> httpx.Response:
        """Open the control plane's sign-in route; its answer sends us to the provider."""
        return self.http.get(f"{self.plane.api_url}/auth/oidc/{provider}/login", params=params)

    def authorize(self, authorization_url: str, subject: str) -> str:
        """Sign in at the provider's form; returns where the provider sends us back."""
        response = self.http.post(authorization_url, data={"sub": subject})
        assert response.status_code == 302, response.text
        return response.headers["location"]

    def deny(self, authorization_url: str) -> str:
        response = self.http.post(authorization_url, data={"action": "deny"})
        assert response.status_code == 302, response.text
        return response.headers["location"]

    def callback_url(self, subject: str, provider: str = "corp", **params: Any) -> str:
        """Start and sign in at the provider: the callback address, not yet visited."""
        started = self.start(provider, **params)
        assert started.status_code == 302, started.text
        return self.authorize(started.headers["location"], subject)

    def sign_in(self, subject: str, provider: str = "corp", **params: Any) -> httpx.Response:
        """The whole sign-in; returns the control plane's answer to the callback."""
        return self.http.get(self.callback_url(subject, provider, **params))

    def api(self, path: str) -> httpx.Response:
        """A read of the API with this browser's cookies."""
        return self.http.get(self.plane.api_url + path)


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, **changes: str) -> str:
    """``url`` with some query parameters replaced."""
    parts = urlsplit(url)
    query = {**query_of(url), **changes}
    return parts._replace(query=str(httpx.QueryParams(query))).geturl()


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[MockProvider]:
    """The working provider."""
    with mock_provider() as provider:
        yield provider


@pytest.fixture(scope="session")
def stale_oidc_provider() -> Iterator[MockProvider]:
    """A provider whose ID tokens are all expired."""
    with mock_provider(access_token_max_age=timedelta(minutes=-5)) as provider:
        yield provider


@pytest.fixture(scope="session", params=BACKENDS)
def sso_plane(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    oidc_provider: MockProvider,
    stale_oidc_provider: MockProvider,
) -> Iterator[ControlPlane]:
    """A control plane whose users sign in with ``corp`` (SQLite or PostgreSQL)."""
    backend: str = request.param
    providers = [
        OidcProvider(
            name="corp",
            display_name="Corp Directory",
            issuer=oidc_provider.issuer,
            client_id=CLIENT_ID,
            client_secret="tests-secret",
        ),
        OidcProvider(
            name="stale",
            issuer=stale_oidc_provider.issuer,
            client_id=CLIENT_ID,
            client_secret="tests-secret",
        ),
        OidcProvider(
            name="down",
            issuer=f"http://127.0.0.1:{closed_port()}",
            client_id=CLIENT_ID,
            client_secret="tests-secret",
        ),
    ]
    home: Path = tmp_path_factory.mktemp(f"sso-{backend}")
    with running_control_plane(home, backend, oidc_providers=providers) as plane:
        yield plane


@pytest.fixture(scope="session")
def sso_admin(sso_plane: ControlPlane) -> Iterator[UserClient]:
    """The platform admin of ``sso_plane``, signed in with a password."""
    with login(sso_plane.api_url, ADMIN_NAME, ADMIN_PASSWORD) as client:
        yield client


@pytest.fixture
def browser(sso_plane: ControlPlane) -> Iterator[Browser]:
    """A fresh browser (no cookies)."""
    client = Browser(sso_plane)
    yield client
    client.close()


def expect_signed_in(response: httpx.Response) -> None:
    """The callback's answer to a sign-in that worked: the page that moves on."""
    assert response.status_code == 200, response.text
    assert "<h1>Signed in</h1>" in response.text, response.text


def signed_in_user(browser: Browser) -> dict[str, Any]:
    """Who the browser's session cookie belongs to."""
    me: dict[str, Any] = expect(browser.api("/me"), 200)
    return me
