"""A real OpenID Connect provider on loopback (oidc-provider-mock) and a control plane that
signs users in with it.

The provider serves discovery, its keys, a token endpoint and an authorization page: a
form where whoever signs in types a subject. ``PUT /users/<sub>`` sets the claims its
ID tokens then carry for that subject (``preferred_username``, ``groups``, …). Its ID
tokens live for ``access_token_max_age``: the ``stale`` provider's expire five minutes
before they are issued, so every one it issues is expired.

The control plane (``sso_plane``) knows three providers: ``corp`` (the working one),
``stale`` and ``down`` (nothing listens at its issuer). A variant control plane
(:func:`running_variant_plane`) knows those configured otherwise:

- ``custom``: the working provider with other scopes (no ``profile``, ``phone`` added)
  and other claim names (``employee_id`` names the user, ``teams`` lists groups);
- ``token-fails`` and ``token-down``: their discovery is served and their sign-in page is
  the working provider's, but their token endpoint answers HTTP 503 (``token-fails``) or
  nothing listens there (``token-down``): they fail at the callback, not before.
"""

from __future__ import annotations

import json
import socket
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from sparkstudio.api.cookies import SESSION_COOKIE
from sparkstudio.auth.providers import OidcProvider
from sparkstudio.server import ControlPlane
from tests.support import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
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
CUSTOM_SCOPES = ["openid", "email", "phone"]
CUSTOM_USERNAME_CLAIM = "employee_id"
CUSTOM_GROUPS_CLAIM = "teams"
# Providers whose token endpoint fails, each with the issuer path it is served under.
TOKEN_FAILURES = {"token-fails": "/fails", "token-down": "/down"}


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


@contextmanager
def failing_token_endpoints(provider: MockProvider) -> Iterator[dict[str, str]]:
    """Issuers (by provider name, see ``TOKEN_FAILURES``) whose discovery is served here
    and sends the browser to ``provider``'s sign-in page, but whose token endpoint fails:
    ``/fails/token`` answers 503; ``token-down``'s is a port nothing listens on."""
    document = httpx.get(f"{provider.issuer}/.well-known/openid-configuration").json()
    unreachable = f"http://127.0.0.1:{closed_port()}/token"

    class FailingTokenEndpoints(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            prefix = self.path.removesuffix("/.well-known/openid-configuration")
            if prefix not in TOKEN_FAILURES.values() or prefix == self.path:
                self._answer(404, b"{}")
                return
            issuer = f"http://{self.headers['Host']}{prefix}"
            token = unreachable if prefix == TOKEN_FAILURES["token-down"] else f"{issuer}/token"
            body = {**document, "issuer": issuer, "token_endpoint": token}
            self._answer(200, json.dumps(body).encode())

        def do_POST(self) -> None:
            self._answer(503, b"<html><body>Service Unavailable</body></html>", "text/html")

        def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), FailingTokenEndpoints)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        yield {name: base + prefix for name, prefix in TOKEN_FAILURES.items()}
    finally:
        server.shutdown()
        server.server_close()


def corp_provider(provider: MockProvider, *, client_secret: str) -> OidcProvider:
    """``corp``: ``provider`` with the default scopes and claim names."""
    return OidcProvider(
        name="corp",
        display_name="Corp Directory",
        issuer=provider.issuer,
        client_id=CLIENT_ID,
        client_secret=client_secret,
    )


@contextmanager
def running_variant_plane(
    home: Path, backend: str, provider: MockProvider
) -> Iterator[ControlPlane]:
    """A control plane with the providers configured unlike ``corp``: ``custom``,
    ``token-fails`` and ``token-down`` (see the module's docstring)."""
    with failing_token_endpoints(provider) as token_failure_issuers:
        providers = [
            OidcProvider(
                name="custom",
                issuer=provider.issuer,
                client_id=CLIENT_ID,
                client_secret="tests-secret",
                scopes=CUSTOM_SCOPES,
                username_claim=CUSTOM_USERNAME_CLAIM,
                groups_claim=CUSTOM_GROUPS_CLAIM,
            ),
            *(
                OidcProvider(
                    name=name, issuer=issuer, client_id=CLIENT_ID, client_secret="tests-secret"
                )
                for name, issuer in token_failure_issuers.items()
            ),
        ]
        with running_control_plane(home, backend, oidc_providers=providers) as plane:
            yield plane


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

    def come_back(self, callback_url: str) -> httpx.Response:
        """The provider's redirect to the callback as a browser follows it: a cross-site
        navigation, so the SameSite=Strict session cookie stays home (the SameSite=Lax
        state cookie is sent). The cookies the answer sets are kept, as ever."""
        request = self.http.build_request("GET", callback_url)
        sent = [
            cookie
            for cookie in request.headers.get("cookie", "").split("; ")
            if cookie and not cookie.startswith(f"{SESSION_COOKIE}=")
        ]
        if sent:
            request.headers["cookie"] = "; ".join(sent)
        elif "cookie" in request.headers:
            del request.headers["cookie"]
        return self.http.send(request)

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


@pytest.fixture(scope="session")
def sso_plane(
    metadata_db: str,
    tmp_path_factory: pytest.TempPathFactory,
    oidc_provider: MockProvider,
    stale_oidc_provider: MockProvider,
) -> Iterator[ControlPlane]:
    """A control plane whose users sign in with ``corp`` (SQLite or PostgreSQL)."""
    providers = [
        corp_provider(oidc_provider, client_secret="tests-secret"),
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
    home: Path = tmp_path_factory.mktemp(f"sso-{metadata_db}")
    with running_control_plane(home, metadata_db, oidc_providers=providers) as plane:
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
