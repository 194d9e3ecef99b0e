"""What a request learned about itself for the audit trail, noted as it goes.

The audit middleware (``sparkstudio.api.audit_trail``) puts one :class:`AuditNote` on
each request it may record; the authorizer, the login route and the workspace proxy
fill it in (who, which action on which resource, in which studio). The middleware
reads it once the outcome is known. Noting is a few attribute writes: it costs the
request nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.requests import HTTPConnection

from sparkstudio.auth.identity import Principal
from sparkstudio.errors import StudioError
from sparkstudio.schemas.audit import LOGIN_ACTION

SCOPE_KEY = "sparkstudio.audit_note"


@dataclass(slots=True)
class AuditNote:
    at: datetime
    actor_id: str | None = None
    actor_name: str = ""
    action: str = ""
    resource: str = ""
    studio_id: str | None = None
    # A 404 answered to hide a resource of a studio the caller does not belong to.
    hidden: bool = False
    # A denial the workspace proxy answered itself (not one from the workspace server).
    refusal: StudioError | None = None


def note_of(conn: HTTPConnection) -> AuditNote | None:
    note = conn.scope.get(SCOPE_KEY)
    return note if isinstance(note, AuditNote) else None


def note_principal(conn: HTTPConnection, principal: Principal) -> None:
    note = note_of(conn)
    if note is not None:
        note.actor_id, note.actor_name = principal.user_id, principal.name


def note_decision(
    conn: HTTPConnection,
    action: str,
    resource: str,
    studio_id: str | None,
    *,
    hidden: bool = False,
) -> None:
    """The authorizer's decision: the action checked, on what, and whether it hid it."""
    note = note_of(conn)
    if note is not None:
        note.action, note.resource, note.studio_id = action, resource, studio_id
        note.hidden = hidden


def note_login(conn: HTTPConnection, user_name: str, user_id: str | None = None) -> None:
    """A login: the name given (never the password), and the user once known.

    A login is recorded whatever its method and outcome (a single sign-on callback is a
    GET); for a single sign-on login, the name is the user name it resolved to.
    """
    note = note_of(conn)
    if note is not None:
        note.action, note.actor_name, note.actor_id = LOGIN_ACTION, user_name, user_id


def note_refusal(conn: HTTPConnection, error: StudioError) -> None:
    """A denial answered outside the API (the workspace proxy): always recorded."""
    note = note_of(conn)
    if note is not None:
        note.refusal = error
