"""Single sign-on with OpenID Connect: the providers, the login redirect, the callback,
the CLI's code exchange, and the sign-in page. All public: they are how a token is had.

The browser flow: ``…/login`` stores a pending login (state, nonce, PKCE verifier, and
the login session the browser holds, if any), sets a short-lived cookie holding the state
and sends the browser to the provider; the provider sends it back to ``…/callback``,
which checks the state and the cookie, exchanges the code, validates the ID token, maps
the user, ends the browser's previous session and answers with the new session cookie.

The previous session is read at ``…/login``, a same-site navigation: the session cookie
is SameSite=Strict, so a browser does not send it on the provider's cross-site redirect
to ``…/callback``.

The CLI flow (RFC 8252): the CLI listens on 127.0.0.1 and starts ``…/login`` with its port
and the S256 challenge of a verifier it keeps; the callback sends the browser to the
CLI's listener with a one-time code, which the CLI exchanges with its verifier at
``…/cli-token`` for a session token.

The sign-in itself is recorded by the audit middleware (``session:Login``, a GET). What a
sign-in changes (a user or a directory group created, memberships synchronised with the
groups claim) is recorded here, in the transaction that makes the change, as the API's
own changes are: ``user:Create``, ``group:Create``, ``group:Update``.
"""

from __future__ import annotations

import logging
from html import escape
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, status
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sparkstudio.api.audit_note import note_login, note_of
from sparkstudio.api.audit_trail import note_failure
from sparkstudio.api.cookies import (
    presented_session_cookie,
    served_over_https,
    set_session_cookie,
)
from sparkstudio.api.deps import AppDatabase, AppSettings
from sparkstudio.api.errors import ERROR_RESPONSES, ErrorBody
from sparkstudio.api.pages import BrowserRoute, page
from sparkstudio.auth.identity import load_principal
from sparkstudio.auth.oidc import OidcClient, OidcProviders, printable
from sparkstudio.db.base import utcnow
from sparkstudio.db.models import AuditRecord, User
from sparkstudio.db.session import Database
from sparkstudio.errors import BadRequest, Invalid, NotFound, StudioError, Unauthenticated
from sparkstudio.schemas.audit import Outcome
from sparkstudio.schemas.common import Name
from sparkstudio.schemas.sso import (
    CliChallenge,
    CliPort,
    CliTokenRequest,
    NextPath,
    ProviderPublic,
)
from sparkstudio.schemas.tokens import LoginResponse
from sparkstudio.services import sso as sso_service
from sparkstudio.services import tokens as token_service
from sparkstudio.services.audit import add_record
from sparkstudio.services.users import user_public
from sparkstudio.settings import Settings

log = logging.getLogger("sparkstudio.sso")

# Holds the state of the browser's sign-in in progress. SameSite=Lax, not Strict: it must
# come back on the provider's cross-site redirect to the callback.
STATE_COOKIE = "sparkstudio_sso_state"
DEFAULT_NEXT = "/login"  # shows who is signed in

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    502: {
        "model": ErrorBody,
        "description": "The identity provider cannot be reached or answered something unusable",
    },
}
# Routes a browser navigates to answer an error as JSON, or as a page to a browser.
_BROWSER_ERRORS: dict[int | str, dict[str, Any]] = {
    status_code: {
        "description": spec["description"],
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}},
            "text/html": {"schema": {"type": "string"}},
        },
    }
    for status_code, spec in _RESPONSES.items()
}
router = APIRouter(tags=["single sign-on"], responses=_RESPONSES, route_class=BrowserRoute)
pages = APIRouter(include_in_schema=False, route_class=BrowserRoute)


def get_oidc_providers(request: Request) -> OidcProviders:
    providers: OidcProviders = request.app.state.oidc_providers
    return providers


Providers = Annotated[OidcProviders, Depends(get_oidc_providers)]
ProviderName = Annotated[Name, Path(description="The provider's name.")]


def _client(providers: OidcProviders, name: str) -> OidcClient:
    client = providers.get(name)
    if client is None:
        known = ", ".join(providers.names()) or "none is configured"
        raise NotFound(f"no identity provider named '{name}' (providers: {known})")
    return client


def _callback_url(request: Request, settings: AppSettings, name: str) -> str:
    base = settings.public_url or str(request.base_url)
    return base.rstrip("/") + str(request.app.url_path_for("oidc_callback", name=name))


def _record_changes(
    db: Session,
    request: Request,
    user: User,
    changes: list[sso_service.Change],
    status_code: int,
) -> None:
    """Audit records of what a sign-in changed, by the user signing in. Each names its
    resource by its API path, as a change made through the API does, so one
    ``resource_prefix`` finds a group's membership changes however they were made."""
    note = note_of(request)
    at = note.at if note is not None else utcnow()
    api_prefix = str(request.app.url_path_for("list_providers")).removesuffix("/auth/providers")
    client = request.client
    for change in changes:
        add_record(
            db,
            AuditRecord(
                at=at,
                actor_id=user.id,
                actor_name=user.name[:64],
                action=change.action.value,
                resource=(api_prefix + change.path)[:1024],
                method=request.method[:8],
                path=request.url.path[:1024],  # never the query string: it holds the code
                source_address=client.host[:64] if client else "",
                outcome=Outcome.SUCCEEDED.value,
                status_code=status_code,
                message=change.message[:1024],
            ),
        )


def _set_state_cookie(request: Request, response: Response, name: str, state: str) -> None:
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=int(sso_service.LOGIN_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=served_over_https(request),
        path=request.app.url_path_for("oidc_callback", name=name),  # sent there only
    )


def _clear_state_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        STATE_COOKIE,
        httponly=True,
        samesite="lax",
        secure=served_over_https(request),
        path=request.app.url_path_for("oidc_callback", name=name),
    )


@router.get("/auth/providers")
def list_providers(request: Request, providers: Providers) -> list[ProviderPublic]:
    """The identity providers users may sign in with (no token needed)."""
    return [
        ProviderPublic(
            name=client.provider.name,
            display_name=client.provider.label,
            login_url=request.app.url_path_for("oidc_login", name=client.provider.name),
        )
        for client in providers.all()
    ]


@router.get(
    "/auth/oidc/{name}/login",
    name="oidc_login",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses={
        **_BROWSER_ERRORS,
        302: {"description": "To the identity provider's sign-in page"},
    },
)
def start_sign_in(
    name: ProviderName,
    request: Request,
    database: AppDatabase,
    settings: AppSettings,
    providers: Providers,
    next_path: Annotated[
        NextPath | None,
        Query(alias="next", description="Where to go once signed in; the sign-in page if none."),
    ] = None,
    cli_port: Annotated[CliPort | None, Query()] = None,
    cli_challenge: Annotated[CliChallenge | None, Query()] = None,
) -> Response:
    """Start signing in with a provider (no token needed): a redirect to its login page."""
    client = _client(providers, name)
    if (cli_port is None) != (cli_challenge is None):
        missing = "cli_challenge" if cli_challenge is None else "cli_port"
        raise Invalid.field(f"query.{missing}", "cli_port and cli_challenge go together")
    if cli_port is not None and next_path is not None:
        raise Invalid.field("query.next", "a sign-in from the CLI goes back to the CLI")
    client.metadata()  # a provider that is down is named before anything is stored
    with database.transaction() as db:
        # The session this browser holds, ended at the callback: its SameSite=Strict
        # cookie is sent here, not on the provider's cross-site redirect to the callback.
        # A CLI sign-in leaves the browser's session alone.
        held = token_service.presented_session(db, presented_session_cookie(request))
        previous = (
            held.id
            if held is not None and held.expires_at > utcnow() and cli_port is None
            else None
        )
        login = sso_service.start_login(
            db,
            client.provider,
            next_path=next_path or DEFAULT_NEXT,
            cli_port=cli_port,
            cli_challenge=cli_challenge,
            previous_token_id=previous,
        )
        state, nonce, verifier = login.state, login.nonce, login.code_verifier
    url = client.authorization_url(
        redirect_uri=_callback_url(request, settings, name),
        state=state,
        nonce=nonce,
        code_verifier=verifier,
    )
    response = RedirectResponse(url, status_code=status.HTTP_302_FOUND)
    _set_state_cookie(request, response, name, state)
    return response


@router.get(
    "/auth/oidc/{name}/callback",
    name="oidc_callback",
    response_class=HTMLResponse,
    responses={
        **_BROWSER_ERRORS,
        200: {"description": "Signed in: a page that moves on to the next page"},
        302: {"description": "A CLI sign-in: to the CLI's listener, with a one-time code"},
    },
)
def finish_sign_in(
    name: ProviderName,
    request: Request,
    database: AppDatabase,
    settings: AppSettings,
    providers: Providers,
    state: Annotated[str | None, Query(max_length=128)] = None,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    error_description: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    """Where the provider sends the browser back (no token needed): signs the user in."""
    note_login(request, "")  # a refusal is in the audit trail as a failed login
    try:
        return _finish_sign_in(
            name, request, database, settings, providers, state, code, error, error_description
        )
    except StudioError as failure:
        note_failure(request, failure)  # a browser is answered a page the trail cannot read
        raise


def _finish_sign_in(
    name: str,
    request: Request,
    database: Database,
    settings: Settings,
    providers: OidcProviders,
    state: str | None,
    code: str | None,
    error: str | None,
    error_description: str | None,
) -> Response:
    client = _client(providers, name)
    provider = client.provider
    refused = None
    if error:
        detail = f"{error}: {error_description}" if error_description else error
        refused = Unauthenticated(
            f"identity provider '{name}' did not sign you in ({printable(detail, 300)})",
            reason="SsoDenied",
        )
    if not state:
        # Some providers leave the state out of an error: their error is the news.
        raise refused or BadRequest(
            f"the answer of identity provider '{name}' has no state; start the sign-in again",
            reason="InvalidState",
        )
    with database.transaction() as db:
        login = sso_service.complete_login(db, provider, state, request.cookies.get(STATE_COOKIE))
        next_path, cli_port = login.next_path, login.cli_port
        nonce, verifier = login.nonce, login.code_verifier
        previous_token_id = login.previous_token_id
    try:
        if refused is not None:
            raise refused
        if not code:
            raise BadRequest(
                f"the answer of identity provider '{name}' has no code", reason="InvalidState"
            )
        identity = client.verify_sign_in(
            code=code,
            redirect_uri=_callback_url(request, settings, name),
            code_verifier=verifier,
            nonce=nonce,
        )
        with database.transaction() as db:
            signed_in = sso_service.sign_in(db, provider, identity)
            user = signed_in.user
            note_login(request, user.name, user.id)
            # Written with the changes: they are in the trail if and only if they were made.
            status_code = status.HTTP_302_FOUND if cli_port is not None else status.HTTP_200_OK
            _record_changes(db, request, user, signed_in.changes, status_code)
            if cli_port is not None:
                one_time_code = sso_service.issue_cli_code(db, state, user)
                return _to_cli(request, name, cli_port, {"code": one_time_code})
            _, session_token = token_service.issue_session(db, user, settings)
            # Every login is a new session: the one this browser held before stops working.
            # It was read at the start of the sign-in; a cookie sent here too (a browser
            # that does not honour SameSite) is ended as well.
            token_service.revoke_session(db, previous_token_id)
            previous = presented_session_cookie(request)
            if previous is not None:
                token_service.revoke_presented_session(db, previous)
            user_name = user.name
    except StudioError as failure:
        log.warning("sign-in with %s failed: %s", name, failure)
        if cli_port is None:
            raise
        query = {"error": failure.reason, "error_description": failure.message}
        return _to_cli(request, name, cli_port, query)
    # A page, not a redirect: the SameSite=Strict session cookie set here would not be
    # sent on the next hop of a redirect chain that began at the provider's site.
    response = page(
        "Signed in",
        f'<p>Signed in as {escape(user_name)}. <a href="{escape(next_path)}">Continue</a></p>',
        refresh_to=next_path,
    )
    set_session_cookie(request, response, session_token, settings.session_ttl_hours * 3600)
    _clear_state_cookie(request, response, name)
    return response


def _to_cli(request: Request, name: str, port: int, query: dict[str, str]) -> Response:
    response = RedirectResponse(
        f"http://127.0.0.1:{port}/callback?{urlencode(query)}",
        status_code=status.HTTP_302_FOUND,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
    _clear_state_cookie(request, response, name)
    return response


@router.post("/auth/oidc/cli-token")
def exchange_cli_code(
    body: CliTokenRequest, request: Request, database: AppDatabase, settings: AppSettings
) -> LoginResponse:
    """The CLI's one-time code and its verifier for a session token (no token needed)."""
    note_login(request, "")
    with database.transaction() as db:
        user = sso_service.redeem_cli_code(db, body.code, body.code_verifier)
        note_login(request, user.name, user.id)
        token, value = token_service.issue_session(db, user, settings)
        return LoginResponse(token=value, expires_at=token.expires_at, user=user_public(user))


@pages.get("/login")
def sign_in_page(
    request: Request,
    database: AppDatabase,
    providers: Providers,
    next_path: Annotated[NextPath | None, Query(alias="next")] = None,
) -> HTMLResponse:
    """The sign-in page: a link per provider, and who is signed in in this browser."""
    signed_in = ""
    cookie = presented_session_cookie(request)
    if cookie is not None:
        with database.session(write=False) as db:
            try:
                principal, _ = load_principal(db, cookie)
                signed_in = f"<p>You are signed in as {escape(principal.name)}.</p>"
            except StudioError:
                pass
    suffix = f"?next={quote(next_path, safe='/')}" if next_path else ""
    links = "".join(
        f'<li><a href="{escape(request.app.url_path_for("oidc_login", name=c.provider.name))}'
        f'{escape(suffix)}">Sign in with {escape(c.provider.label)}</a></li>'
        for c in providers.all()
    )
    offer = (
        f"<ul>{links}</ul>"
        if links
        else "<p>No single sign-on provider is configured; log in with the CLI or the API.</p>"
    )
    return page("Sign in", signed_in + offer)
