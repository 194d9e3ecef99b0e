"""No secret reaches a log: passwords and token values stay out of every logger's output.

A control plane of its own runs with the uvicorn access log on; every logger (the
server's, uvicorn's, SQLAlchemy's statements with their parameters and rows, the clients')
is raised to DEBUG and captured while users log in, change passwords and use tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from sparkstudio.server import ControlPlane
from tests.support import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    BACKENDS,
    UserClient,
    anonymous,
    create_user,
    expect,
    expect_error,
    login,
    running_control_plane,
    unique,
)


@pytest.fixture(scope="module", params=BACKENDS)
def logged_plane(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    backend: str = request.param
    home = tmp_path_factory.mktemp(f"logging-{backend}")
    with running_control_plane(home, backend, access_log=True) as plane:
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

    # Only the token's secret part is secret (the id before it is a public handle).
    secrets += [token.rsplit(".", 1)[1] for token in secrets if token.startswith("sst.")]
    everything = caplog.text + "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''} {r.__dict__!r}" for r in records
    )
    leaked = [secret for secret in secrets if secret in everything]
    assert leaked == [], f"secrets in the log: {leaked}"
