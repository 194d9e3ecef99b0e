"""The browser's login cookie: set and cleared in one place, with the same flags."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import Response

SESSION_COOKIE = "sparkstudio_session"


def served_over_https(conn: HTTPConnection) -> bool:
    # The scheme the client used: "https" under TLS, or when a trusted proxy says so in
    # X-Forwarded-Proto (see the trusted_proxies setting).
    return conn.url.scheme == "https"


def presented_session_cookie(conn: HTTPConnection) -> str | None:
    return conn.cookies.get(SESSION_COOKIE) or None


def set_session_cookie(conn: HTTPConnection, response: Response, value: str, max_age: int) -> None:
    """HttpOnly (no script reads it), SameSite=Strict, Secure when the page came over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=served_over_https(conn),
        path="/",
    )


def clear_session_cookie(conn: HTTPConnection, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="strict", secure=served_over_https(conn), path="/"
    )
