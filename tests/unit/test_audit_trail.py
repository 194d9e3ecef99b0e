"""The audit middleware on a small app: what it records, when, and how it fails safe."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import select, text
from starlette.types import Message

from sparkstudio.api import errors
from sparkstudio.api.audit_note import note_login
from sparkstudio.api.audit_trail import AuditTrail
from sparkstudio.api.deps import requires
from sparkstudio.auth.actions import Action
from sparkstudio.db.base import Base
from sparkstudio.db.models import AuditRecord
from sparkstudio.db.session import Database
from sparkstudio.errors import Forbidden


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'audit.db'}")
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def small_app(database: Database) -> FastAPI:
    app = FastAPI()
    errors.install(app)
    app.add_middleware(AuditTrail, database=database, api_prefix="/api/v1", proxy_prefix="/ws")

    @app.post("/api/v1/things", status_code=201, openapi_extra=requires(Action.GROUP_CREATE))
    def create_thing() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/api/v1/things")
    def list_things() -> list[str]:
        return []

    @app.post("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/api/v1/secret")
    def secret() -> None:
        raise Forbidden("you are not allowed to perform group:List on this platform")

    @app.get("/api/v1/sso/callback")
    def sso_callback(request: Request) -> dict[str, bool]:
        note_login(request, "carol", "usr-0000000000000001")
        return {"ok": True}

    @app.post("/ws/x")
    def proxied() -> None:
        raise Forbidden("the workspace server said no")  # not the proxy's own refusal

    return app


class Caller:
    """Requests to an app in this process, from one client address."""

    def __init__(self, app: FastAPI) -> None:
        self.transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=("testclient", 50000)
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=self.transport, base_url="http://testserver"
            ) as client:
                return await client.request(method, path, **kwargs)

        return anyio.run(send)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


def stored(database: Database) -> list[AuditRecord]:
    with database.session(write=False) as db:
        return list(db.scalars(select(AuditRecord).order_by(AuditRecord.id)))


def test_changes_and_denials_are_recorded_successful_reads_are_not(database: Database) -> None:
    client = Caller(small_app(database))
    assert client.get("/api/v1/things").status_code == 200
    assert (
        client.post("/api/v1/things?token=abc123", json={"password": "hunter2"}).status_code == 201
    )
    assert client.get("/api/v1/secret").status_code == 403
    assert client.post("/ws/x").status_code == 403
    assert client.post("/elsewhere").status_code == 404

    created, denied = stored(database)
    assert (created.method, created.path, created.action) == (
        "POST",
        "/api/v1/things",
        "group:Create",
    )
    assert (created.outcome, created.status_code, created.message) == ("SUCCEEDED", 201, "")
    assert created.resource == "/api/v1/things"  # nothing authorized it: the path
    assert created.source_address == "testclient"
    assert (denied.method, denied.outcome, denied.status_code) == ("GET", "DENIED", 403)
    assert denied.message == "you are not allowed to perform group:List on this platform"
    row = repr([getattr(r, c.key) for r in (created, denied) for c in AuditRecord.__table__.c])
    assert "abc123" not in row and "hunter2" not in row


def test_a_handler_that_raised_is_recorded_as_failed(database: Database) -> None:
    client = Caller(small_app(database))
    response = client.post("/api/v1/boom")
    assert response.status_code == 500
    (record,) = stored(database)
    assert (record.outcome, record.status_code, record.action) == ("FAILED", 500, "")
    assert record.message == "internal error; the server log has the details"
    assert "a bug" not in record.message


def test_a_method_the_route_does_not_take_names_no_action(database: Database) -> None:
    client = Caller(small_app(database))
    assert client.delete("/api/v1/things").status_code == 405
    (record,) = stored(database)
    assert (record.action, record.outcome, record.status_code) == ("", "FAILED", 405)


def test_a_record_that_cannot_be_written_does_not_fail_the_request(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with database.transaction() as db:
        db.execute(text("DROP TABLE audit_records"))
    client = Caller(small_app(database))
    with caplog.at_level(logging.ERROR, logger="sparkstudio.audit"):
        response = client.post("/api/v1/things")
    assert response.status_code == 201 and response.json() == {"ok": True}
    assert "could not record POST /api/v1/things (SUCCEEDED)" in caplog.text


def test_the_record_is_written_before_the_response_completes(database: Database) -> None:
    """A caller who reads the trail right after a change finds it."""
    app = small_app(database)
    seen: list[tuple[str, bool, int]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        count = await anyio.to_thread.run_sync(lambda: len(stored(database)))
        seen.append((message["type"], bool(message.get("more_body", False)), count))

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/things",
        "raw_path": b"/api/v1/things",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("10.1.2.3", 5000),
        "server": ("testserver", 80),
    }

    async def call() -> None:
        await app(scope, receive, send)

    anyio.run(call)
    # Even the status line waits: a client takes a 204 as complete once it has headers.
    assert seen[0] == ("http.response.start", False, 1)
    assert seen[-1] == ("http.response.body", False, 1)
    assert stored(database)[0].source_address == "10.1.2.3"


def test_a_login_is_recorded_even_by_a_read(database: Database) -> None:
    """Single sign-on logins end in a GET callback; the login is recorded all the same."""
    client = Caller(small_app(database))
    assert client.get("/api/v1/sso/callback?code=secret-code").status_code == 200
    (record,) = stored(database)
    assert (record.action, record.actor_name, record.actor_id) == (
        "session:Login",
        "carol",
        "usr-0000000000000001",
    )
    assert (record.method, record.outcome, record.path) == (
        "GET",
        "SUCCEEDED",
        "/api/v1/sso/callback",
    )
