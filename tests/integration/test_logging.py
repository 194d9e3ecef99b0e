"""No secret reaches a log: passwords and token values stay out of every logger's output.

A control plane of its own runs with the uvicorn access log on; every logger (the
server's, uvicorn's, SQLAlchemy's statements with their parameters and rows, the clients')
is raised to DEBUG and captured while users log in, change passwords and use tokens, and
while they sign in with single sign-on (the real provider of ``tests.oidc``).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from sparkstudio.api.cookies import SESSION_COOKIE
from sparkstudio.auth.oidc import OidcClient, new_secret, s256
from sparkstudio.server import ControlPlane
from tests.oidc import CLIENT_ID, Browser, MockProvider, corp_provider, expect_signed_in, query_of
from tests.support import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    UserClient,
    anonymous,
    create_user,
    expect,
    expect_error,
    login,
    running_control_plane,
    unique,
)

CLIENT_SECRET = f"client-secret-{unique('oidc')}"


@pytest.fixture(scope="module")
def logged_plane(
    metadata_db: str,
    tmp_path_factory: pytest.TempPathFactory,
    oidc_provider: MockProvider,
) -> Iterator[ControlPlane]:
    home = tmp_path_factory.mktemp(f"logging-{metadata_db}")
    providers = [corp_provider(oidc_provider, client_secret=CLIENT_SECRET)]
    with running_control_plane(
        home, metadata_db, access_log=True, oidc_providers=providers
    ) as plane:
        yield plane


@contextmanager
def every_logger_at_debug(handler: logging.Handler) -> Iterator[None]:
    """Raise every logger to DEBUG and route all records to ``handler``; restore after."""
    manager = logging.root.manager
    loggers = [logging.root] + [
        logger for logger in manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, list(logger.handlers)) for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.DEBUG)
            if (logger is logging.root or not logger.propagate) and handler not in logger.handlers:
                logger.addHandler(handler)
        yield
    finally:
        for logger, level, handlers in saved:
            logger.setLevel(level)
            logger.handlers[:] = handlers


def test_no_password_or_token_is_ever_logged(
    logged_plane: ControlPlane, caplog: pytest.LogCaptureFixture
) -> None:
    password = f"pw-{unique('hunter')}"
    new_password = f"pw-{unique('hunter2')}"
    wrong_password = f"pw-{unique('wrong')}"
    name = unique("logged")
    secrets: list[str] = [password, new_password, wrong_password]

    caplog.handler.setLevel(logging.DEBUG)
    with every_logger_at_debug(caplog.handler):
        with login(logged_plane.api_url, ADMIN_NAME, ADMIN_PASSWORD) as admin:
            secrets.append(admin.token)
            create_user(admin, name, password=password)
        with anonymous(logged_plane.api_url) as anon:
            expect_error(
                anon.post("/auth/login", json={"username": name, "password": wrong_password}),
                401,
            )
        with login(logged_plane.api_url, name, password) as user:
            secrets.append(user.token)
            created = expect(user.post("/tokens", json={"name": "cli"}), 201)
            secrets.append(created["token"])
            with UserClient(
                logged_plane.api_url, user=user.user, password=password, token=created["token"]
            ) as api:
                expect(api.get("/me"), 200)
                expect(api.get("/tokens"), 200)
            expect(
                user.post(
                    "/me/password",
                    json={"current_password": password, "new_password": new_password},
                ),
                204,
            )
            expect(user.post("/auth/logout"), 204)
            expect_error(user.get("/me"), 401)  # a revoked token, presented again

    records = caplog.records
    loggers = {record.name for record in records}
    # The capture saw the server side: the access log and the SQL with its parameters.
    access = [r.getMessage() for r in records if r.name == "uvicorn.access"]
    assert any("/api/v1/auth/login" in line for line in access), sorted(loggers)
    assert any("/api/v1/tokens" in line for line in access)
    assert any(logger.startswith("sqlalchemy.engine") for logger in loggers), sorted(loggers)
    # ... down to the statements' parameters (the user name is one).
    assert any(
        name in f"{r.getMessage()} {r.args!r}" for r in records if r.name != "uvicorn.access"
    )

    assert leaked(secrets, caplog) == []


def with_token_secrets(secrets: list[str]) -> list[str]:
    # Only the token's secret part is secret (the id before it is a public handle).
    return secrets + [token.rsplit(".", 1)[1] for token in secrets if token.startswith("sst.")]


def leaked(
    secrets: list[str],
    caplog: pytest.LogCaptureFixture,
    *,
    besides: str | None = None,
    ignore: Callable[[logging.LogRecord], bool] | None = None,
) -> list[str]:
    """The secrets found anywhere in the captured records (but those of the logger
    ``besides`` and its children, and those ``ignore`` is true of), however rendered."""
    records = [
        r
        for r in caplog.records
        if (besides is None or (r.name != besides and not r.name.startswith(f"{besides}.")))
        and (ignore is None or not ignore(r))
    ]
    everything = (caplog.text if besides is None and ignore is None else "") + "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''} {r.__dict__!r}" for r in records
    )
    return [secret for secret in with_token_secrets(secrets) if secret in everything]


def leaked_to_files(secrets: list[str], home: Path) -> list[str]:
    """The secrets found in any file under the home: logs, run files, the SQLite database."""
    found = []
    for path in home.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            found += [
                f"{s} in {path}" for s in with_token_secrets(secrets) if s.encode() in content
            ]
    return found


def test_no_secret_is_logged_from_cookies_urls_or_refused_logins(
    logged_plane: ControlPlane, caplog: pytest.LogCaptureFixture
) -> None:
    api = logged_plane.api_url
    password = f"pw-{unique('cookie')}"
    wrong_password = f"pw-{unique('throttled')}"
    invalid_password = f"pw-{unique('invalid')}"
    name = unique("browser")
    secrets: list[str] = [password, wrong_password, invalid_password]

    caplog.handler.setLevel(logging.DEBUG)
    with every_logger_at_debug(caplog.handler), anonymous(api) as anon:
        with login(api, ADMIN_NAME, ADMIN_PASSWORD) as admin:
            secrets.append(admin.token)
            create_user(admin, name, password=password)
        body = {"username": name, "password": password, "session_cookie": True}
        cookie = anon.post("/auth/login", json=body).cookies[SESSION_COOKIE]
        secrets.append(cookie)
        cookie_header = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        expect(anon.get("/me", headers=cookie_header), 200)
        expect(anon.get("/tokens", headers=cookie_header), 200)
        bearer = {"Authorization": f"Bearer {cookie}"}
        api_token = expect(anon.post("/tokens", json={"name": "u"}, headers=bearer), 201)["token"]
        secrets.append(api_token)

        # Secrets in a URL, where the API never asks for them: the access log masks them.
        expect(
            anon.get("/me", params={"token": api_token, "password": password}, headers=bearer), 200
        )
        expect_error(anon.get(f"/users/{api_token}", headers=bearer), 404)

        # Refused logins do not echo the password, in the answer or the log.
        refusals = [
            anon.post("/auth/login", json={"username": name, "password": invalid_password * 20}),
            anon.post(
                "/auth/login", json={"username": name, "password": password, "pasword": password}
            ),
            anon.post(
                "/auth/login",
                content=f'{{"username": "{name}", "password": "{invalid_password}'.encode(),
                headers={"content-type": "application/json"},
            ),
        ]
        for response in refusals:
            expect_error(response, 422, "ValidationError")
            assert password not in response.text and invalid_password not in response.text
        wrong = {"username": name, "password": wrong_password}
        for _ in range(logged_plane.settings.login_failures_before_delay):
            expect_error(anon.post("/auth/login", json=wrong), 401, "LoginFailed")
        expect_error(anon.post("/auth/login", json=wrong), 429, "TooManyLogins")

        expect(anon.post("/auth/logout", headers={**bearer, **cookie_header}), 204)
        expect_error(anon.get("/me", headers=cookie_header), 401)

    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    # The request lines were logged, with the secrets masked out of them.
    assert any("/api/v1/me?token=<redacted>&password=<redacted>" in line for line in access)
    assert any("/api/v1/users/sst.tok-" in line for line in access), access
    assert any('/api/v1/auth/login HTTP/1.1" 429' in line for line in access)
    # httpcore traces the response headers the tests' own client receives, the cookie
    # among them; the control plane's HTTP clients (to workspace servers and Spark UIs)
    # make no request here.
    assert leaked(secrets, caplog, besides="httpcore") == []
    assert leaked_to_files(secrets, logged_plane.settings.home) == []


def not_the_control_planes(record: logging.LogRecord) -> bool:
    """Records of the provider (a werkzeug server in this process: its request threads,
    where authlib logs the tokens it issues) and the traces of the tests' own HTTP clients
    (in the main thread; the control plane's run in its worker threads), which see codes
    and cookies as a browser does."""
    provider = record.name == "werkzeug" or (record.threadName or "").endswith(
        "(process_request_thread)"
    )
    tests_client = record.name.startswith("httpcore") and record.threadName == "MainThread"
    return provider or tests_client


def test_no_code_token_or_secret_of_a_single_sign_on_is_logged(
    logged_plane: ControlPlane,
    oidc_provider: MockProvider,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The provider's tokens go to the control plane only: a spy on the exchange sees them.
    issued: list[dict[str, Any]] = []
    exchange = OidcClient._exchange_code

    def exchange_and_keep(client: OidcClient, *args: Any, **kwargs: Any) -> dict[str, Any]:
        tokens = exchange(client, *args, **kwargs)
        issued.append(tokens)
        return tokens

    monkeypatch.setattr(OidcClient, "_exchange_code", exchange_and_keep)
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    secrets: list[str] = [CLIENT_SECRET, basic]
    subject, name = oidc_provider.new_person(groups=[unique("logged-grp")])
    verifier = new_secret()

    caplog.handler.setLevel(logging.DEBUG)
    with every_logger_at_debug(caplog.handler):
        browser = Browser(logged_plane)
        cli = Browser(logged_plane)
        try:
            back = browser.callback_url(subject)
            secrets.append(query_of(back)["code"])
            expect_signed_in(browser.http.get(back))
            secrets.append(browser.http.cookies[SESSION_COOKIE])
            assert expect(browser.api("/me"), 200)["user"]["name"] == name

            # The CLI's sign-in: its browser is sent to its listener with a one-time code
            # (not followed here), which the CLI exchanges with its verifier.
            back = cli.callback_url(subject, cli_port=49999, cli_challenge=s256(verifier))
            secrets.append(query_of(back)["code"])
            to_cli = cli.http.get(back)
            assert to_cli.status_code == 302, to_cli.text
            one_time_code = query_of(to_cli.headers["location"])["code"]
            secrets += [one_time_code, verifier]
            exchanged = httpx.post(
                f"{logged_plane.api_url}/auth/oidc/cli-token",
                json={"code": one_time_code, "code_verifier": verifier},
            )
            token = expect(exchanged, 200)["token"]
            secrets.append(token)
            bearer = {"Authorization": f"Bearer {token}"}
            expect(httpx.get(f"{logged_plane.api_url}/me", headers=bearer), 200)
        finally:
            browser.close()
            cli.close()

    assert len(issued) == 2
    for tokens in issued:
        secrets += [
            tokens[kind] for kind in ("id_token", "access_token", "refresh_token") if kind in tokens
        ]
    assert len(secrets) >= 12
    records = caplog.records
    # The capture saw the sign-ins: the callbacks' request lines, the control plane's own
    # requests to the provider's token endpoint, and the SQL.
    access = [r.getMessage() for r in records if r.name == "uvicorn.access"]
    callbacks = [line for line in access if "/auth/oidc/corp/callback?" in line]
    assert len(callbacks) == 2 and all("code=<redacted>" in line for line in callbacks), access
    assert any(
        "/oauth2/token" in r.getMessage() and r.threadName != "MainThread"
        for r in records
        if r.name == "httpx"
    )
    assert any(r.name.startswith("sqlalchemy.engine") for r in records)

    assert leaked(secrets, caplog, ignore=not_the_control_planes) == []
    assert leaked_to_files(secrets, logged_plane.settings.home) == []
