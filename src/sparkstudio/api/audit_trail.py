"""Recording the audit trail: every change attempted through the API and every denial.

An ASGI middleware around the application. Under the API prefix it records every
request that may change something (POST, PUT, PATCH, DELETE) with its outcome, and
every denied request of any method: 401, 403, and the 404 that hides a studio from a
caller who does not belong to it. Requests to the AWS adapters (under ``aws_prefix``)
are recorded the same way; their refusals (403) are denials. Under the workspace proxy's
prefix it records only the denials the proxy answers itself. Successful reads are not
recorded.

The response of a request to record is held back (these are small: a change's result
or an error); the record is written in its own short transaction after the handler has
finished (so its own database session is closed: SQLite has one writer), then the
response is sent. Holding the status line too matters: a client takes a 204 as complete
as soon as it has the headers. A caller who reads the trail right after a change
therefore finds it. A handler that raised is recorded too; a record that cannot be
written is logged and never fails the request. Every other response passes untouched.
A record's message is the error message of the JSON body, or the one a route noted with
:func:`note_failure` when it answers browsers with a page (the single sign-on callback).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sparkstudio.api.audit_note import SCOPE_KEY, AuditNote
from sparkstudio.api.deps import ACTION_KEY
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import AuditRecord
from sparkstudio.db.session import Database
from sparkstudio.errors import StudioError
from sparkstudio.schemas.audit import LOGIN_ACTION, Outcome
from sparkstudio.services.audit import add_record

log = logging.getLogger("sparkstudio.audit")

# The public message of a failure, noted by a route that may answer it as an HTML page:
# the trail reads an error's message from the API's JSON body, and a page is not that.
FAILURE_KEY = "sparkstudio.audit_failure"

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DENIAL_STATUSES = frozenset({401, 403, 429})  # 429: a login held back by the throttle
_MESSAGE_BYTES = 4096  # of an error body: enough for its message, never a large payload
_UNEXPECTED = "internal error; the server log has the details"


def note_failure(conn: HTTPConnection, error: StudioError) -> None:
    conn.scope[FAILURE_KEY] = error.message


def outcome_of(note: AuditNote, *, api: bool, method: str, status: int) -> Outcome | None:
    """The outcome to record, or None when the request is not recorded."""
    if note.refusal is not None:
        return Outcome.DENIED
    if not api:
        return None
    if status in DENIAL_STATUSES or (status == 404 and note.hidden):
        return Outcome.DENIED
    if method in READ_METHODS and note.action != LOGIN_ACTION:  # an SSO callback is a GET
        return None
    return Outcome.SUCCEEDED if status < 400 else Outcome.FAILED


@dataclass
class _Exchange:
    """Watches the response on its way out; holds it back when the request is recorded."""

    send: Send
    note: AuditNote
    api: bool
    method: str
    status: int | None = None
    outcome: Outcome | None = None
    body: bytearray = field(default_factory=bytearray)
    held: list[Message] = field(default_factory=list)

    async def forward(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.outcome = outcome_of(
                self.note, api=self.api, method=self.method, status=self.status
            )
        if self.outcome is None:
            await self.send(message)
            return
        self.held.append(message)
        room = _MESSAGE_BYTES - len(self.body)
        errored = self.status is not None and self.status >= 400
        if message["type"] == "http.response.body" and errored and room > 0:
            self.body += message.get("body", b"")[:room]

    async def release(self) -> None:
        held, self.held = self.held, []
        for message in held:
            await self.send(message)

    def message(self) -> str:
        if self.note.refusal is not None:
            return self.note.refusal.message
        if self.status is None or self.status < 400:
            return ""
        try:
            parsed: Any = json.loads(bytes(self.body))
        except ValueError:
            return ""
        return str(parsed.get("message", "")) if isinstance(parsed, dict) else ""


class AuditTrail:
    """The middleware; ``api_prefix``, ``proxy_prefix`` and ``aws_prefix`` (the AWS
    adapters, recorded like the API; none when empty) say which paths it watches."""

    def __init__(
        self,
        app: ASGIApp,
        database: Database,
        api_prefix: str,
        proxy_prefix: str,
        aws_prefix: str = "",
    ) -> None:
        self.app = app
        self.database = database
        self.api_prefix = api_prefix.rstrip("/") + "/"
        self.proxy_prefix = proxy_prefix.rstrip("/") + "/"
        self.aws_prefix = aws_prefix.rstrip("/") + "/" if aws_prefix else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        api = path.startswith(self.api_prefix) or (
            bool(self.aws_prefix) and path.startswith(self.aws_prefix)
        )
        if scope["type"] not in ("http", "websocket") or not (
            api or path.startswith(self.proxy_prefix)
        ):
            await self.app(scope, receive, send)
            return
        note = AuditNote(at=utcnow())
        scope[SCOPE_KEY] = note
        if scope["type"] == "websocket":
            # Only the proxy's refusals of the handshake are recorded (no response to hold).
            await self.app(scope, receive, send)
            if note.refusal is not None:
                record = self._record(scope, note, "GET", note.refusal.status, Outcome.DENIED)
                record.message = note.refusal.message[:1024]
                await self._write(record)
            return
        exchange = _Exchange(send, note, api, scope["method"])
        try:
            await self.app(scope, receive, exchange.forward)
        except Exception:
            if exchange.status is None:  # the error middleware answers 500
                exchange.status = 500
                exchange.outcome = outcome_of(note, api=api, method=exchange.method, status=500)
                exchange.body = bytearray(json.dumps({"message": _UNEXPECTED}).encode())
            raise
        finally:
            if exchange.outcome is not None and exchange.status is not None:
                record = self._record(
                    scope, note, exchange.method, exchange.status, exchange.outcome
                )
                noted = scope.get(FAILURE_KEY) if exchange.status >= 400 else None
                record.message = (noted or exchange.message())[:1024]
                await self._write(record)
            await exchange.release()

    def _record(
        self, scope: Scope, note: AuditNote, method: str, status: int, outcome: Outcome
    ) -> AuditRecord:
        path: str = scope["path"]
        client = scope.get("client")
        return AuditRecord(
            at=note.at,
            actor_id=note.actor_id,
            actor_name=note.actor_name[:64],
            action=(note.action or _declared_action(scope, method))[:64],
            resource=(note.resource or path)[:1024],
            studio_id=note.studio_id,
            method=method[:8],
            path=path[:1024],  # never the query string: it may carry a token
            source_address=str(client[0])[:64] if client else "",
            outcome=outcome.value,
            status_code=status,
        )

    async def _write(self, record: AuditRecord) -> None:
        # Shielded: a client that hangs up does not erase what it attempted.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._write_now, record)

    def _write_now(self, record: AuditRecord) -> None:
        try:
            with self.database.append_transaction() as db:
                add_record(db, record)
        except Exception:
            log.exception(
                "could not record %s %s (%s) in the audit trail",
                record.method,
                record.path,
                record.outcome,
            )


def _declared_action(scope: Scope, method: str) -> str:
    """The action the matched route declares (for requests refused before authorization)."""
    route = scope.get("route")
    if method not in (getattr(route, "methods", None) or ()):
        return ""  # no route, or one that does not take this method (405)
    extra = getattr(route, "openapi_extra", None) or {}
    return str(extra.get(ACTION_KEY, ""))
