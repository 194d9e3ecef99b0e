"""The console's pages: one HTML shell for every console address, and its assets.

Every page is the same shell; the script reads the address and renders that page from
the API, so plain links, reloads and the back button work. A browser without a valid
session is sent to the sign-in page, which comes back to the address it asked for.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from sparkstudio.api.cookies import presented_session_cookie
from sparkstudio.auth.identity import load_principal
from sparkstudio.console.csrf import csrf_token
from sparkstudio.db.session import Database
from sparkstudio.errors import StudioError

CONSOLE = "/console"
STATIC = Path(__file__).parent / "static"
# Only the console's own assets load; nothing frames it; pages are never cached.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}

router = APIRouter(include_in_schema=False)
assets = StaticFiles(directory=STATIC)


def _shell(title: str, script: str, csrf: str = "", user: str = "") -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="csrf-token" content="{escape(csrf)}">'
        f'<meta name="user" content="{escape(user)}">'
        f"<title>{escape(title)} · sparkstudio</title>"
        f'<link rel="stylesheet" href="{CONSOLE}/static/console.css">'
        f'<link rel="icon" href="{CONSOLE}/static/favicon.svg" type="image/svg+xml">'
        f'<script type="module" src="{CONSOLE}/static/{script}"></script>'
        '</head><body><div id="app"><p class="loading">Loading…</p></div>'
        "<noscript>The console needs JavaScript; the CLI and the API work without it.</noscript>"
        "</body></html>"
    )
    return HTMLResponse(html, headers=HEADERS)


def _signed_in(request: Request) -> tuple[str, str] | None:
    """(session token, user name) of a browser with a valid session, else None."""
    cookie = presented_session_cookie(request)
    if cookie is None:
        return None
    database: Database = request.app.state.database
    with database.session(write=False) as db:
        try:
            principal, _ = load_principal(db, cookie)
        except StudioError:
            return None
    return cookie, principal.name


@router.get(f"{CONSOLE}/login")
def console_login(request: Request) -> Response:
    """Sign in with a password or a single sign-on provider."""
    return _shell("Sign in", "login.js")


@router.get(CONSOLE)
@router.get(CONSOLE + "/{page:path}")
def console_page(request: Request, page: str = "") -> Response:
    signed_in = _signed_in(request)
    if signed_in is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{CONSOLE}/login?next={quote(target, safe='/')}", 303)
    token, user = signed_in
    return _shell("Console", "app.js", csrf_token(token), user)
