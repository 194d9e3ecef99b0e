"""Log in and out, who am I, the action table."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import select

from sparkstudio.api.audit_note import note_login
from sparkstudio.api.cookies import (
    clear_session_cookie,
    presented_session_cookie,
    set_session_cookie,
)
from sparkstudio.api.deps import (
    AppDatabase,
    AppSettings,
    Authorized,
    Db,
    requires,
)
from sparkstudio.api.errors import ERROR_RESPONSES, ErrorBody
from sparkstudio.auth.actions import ACTIONS, Action, Role
from sparkstudio.auth.identity import is_member
from sparkstudio.auth.passwords import hash_password, verify_password
from sparkstudio.auth.throttle import LoginThrottle
from sparkstudio.db.models import Membership, Studio
from sparkstudio.errors import Invalid
from sparkstudio.schemas.session import ActionInfo, StudioRole, WhoAmI
from sparkstudio.schemas.tokens import LoginRequest, LoginResponse
from sparkstudio.schemas.users import PasswordChange
from sparkstudio.services import sso as sso_service
from sparkstudio.services import tokens as token_service
from sparkstudio.services.users import get_user_or_404, user_public

router = APIRouter(tags=["session"], responses=ERROR_RESPONSES)
_THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorBody,
        "description": "Too many failed logins for this user name or from this address; "
        "the Retry-After header says when to try again",
    }
}


def _login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


@router.post("/auth/login", status_code=status.HTTP_200_OK, responses=_THROTTLED)
def login(
    body: LoginRequest,
    database: AppDatabase,
    settings: AppSettings,
    request: Request,
    response: Response,
) -> LoginResponse:
    """Exchange a user name and password for a session token (no token needed).

    With ``session_cookie`` the token also comes as an HttpOnly cookie, which pages opened
    in a browser (the proxied Spark UIs) send; the cookie is honoured on reads only.
    """
    note_login(request, body.username)  # the audit trail keeps the name, never the password
    # Refused during a delay before the password is looked at (see auth/throttle.py).
    attempt = _login_throttle(request).admit(
        body.username, request.client.host if request.client else ""
    )
    # The password check (argon2) runs on a read session: a login must not hold the
    # write lock that every other writer waits on.
    with database.session(write=False) as reader:
        user_id = token_service.check_password_login(
            reader, body.username, body.password.get_secret_value()
        ).id
    _login_throttle(request).succeeded(attempt)
    note_login(request, body.username, user_id)
    with database.transaction() as writer:
        user = get_user_or_404(writer, user_id)
        sso_service.refuse_password_login(writer, user)  # studios whose auth mode is SSO_ONLY
        token, value = token_service.issue_session(writer, user, settings)
        # Every login is a new session: the one this browser held before stops working.
        previous = presented_session_cookie(request)
        if previous is not None:
            token_service.revoke_presented_session(writer, previous)
        if body.session_cookie:
            set_session_cookie(request, response, value, settings.session_ttl_hours * 3600)
        elif previous is not None:
            clear_session_cookie(request, response)
        return LoginResponse(token=value, expires_at=token.expires_at, user=user_public(user))


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.SESSION_DELETE),
)
def logout(access: Authorized, db: Db, request: Request, response: Response) -> None:
    """Revoke the token this request was made with, and the browser's login cookie."""
    token_service.revoke_token(db, access.principal.user_id, access.principal.token_id)
    cookie = presented_session_cookie(request)
    if cookie is not None:
        token_service.revoke_presented_session(db, cookie)
    db.commit()
    clear_session_cookie(request, response)


@router.get("/me", openapi_extra=requires(Action.SESSION_DESCRIBE))
def whoami(access: Authorized, db: Db) -> WhoAmI:
    principal = access.principal
    user = get_user_or_404(db, principal.user_id)
    rows = db.execute(
        select(Studio.id, Studio.name, Membership.role)
        .join(Membership, Membership.studio_id == Studio.id)
        .where(is_member(principal))
        .order_by(Studio.name)
    ).all()
    studios: dict[str, StudioRole] = {}
    for studio_id, name, role in rows:
        entry = studios.setdefault(
            studio_id, StudioRole(studio_id=studio_id, studio_name=name, roles=[])
        )
        if Role(role) not in entry.roles:
            entry.roles.append(Role(role))
    return WhoAmI(
        user=user_public(user), studios=list(studios.values()), token_kind=principal.token_kind
    )


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=requires(Action.PASSWORD_CHANGE),
)
def change_password(body: PasswordChange, access: Authorized, db: Db) -> None:
    """Change your own password; your other login sessions stay valid until they expire."""
    user = get_user_or_404(db, access.principal.user_id)
    if not verify_password(user.password_hash, body.current_password.get_secret_value()):
        raise Invalid.field("current_password", "is not your current password")
    user.password_hash = hash_password(body.new_password.get_secret_value())
    db.commit()


@router.get("/actions", openapi_extra=requires(Action.ACTION_LIST))
def list_actions(access: Authorized) -> list[ActionInfo]:
    """The action table: every action, its scope, and the studio roles granted it."""
    return [
        ActionInfo(
            action=spec.action.value,
            scope=spec.scope.value,
            description=spec.description,
            roles=sorted(role.value for role in spec.roles),
        )
        for spec in ACTIONS.values()
    ]
