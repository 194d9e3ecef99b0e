"""Small server-rendered pages for signing in: plain HTML, no script, nothing fetched."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from html import escape
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from sparkstudio.api.errors import validation_fields
from sparkstudio.errors import StudioError

# Nothing may load, run or frame these pages; they are never cached and send no Referer
# (a callback's address carries a code and a state).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


def page(
    title: str, body: str, *, status: int = 200, refresh_to: str | None = None
) -> HTMLResponse:
    """A page; ``body`` is HTML the caller built with :func:`escape`d values."""
    refresh = (
        f'<meta http-equiv="refresh" content="0; url={escape(refresh_to)}">' if refresh_to else ""
    )
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"{refresh}<title>{escape(title)} · sparkstudio</title></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def error_page(error: StudioError) -> HTMLResponse:
    return page(
        "Cannot sign you in",
        f"<p>{escape(error.message)}</p><p><small>{escape(error.reason)}</small></p>"
        '<p><a href="/login">Back to the sign-in page</a></p>',
        status=error.status,
    )


def wants_html(request: Request) -> bool:
    """A browser navigating here (its Accept names HTML); API clients get JSON."""
    return "text/html" in request.headers.get("accept", "")


class BrowserRoute(APIRoute):
    """A route browsers navigate to: its errors are a page when the browser asked for HTML."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except StudioError as error:
                if wants_html(request):
                    return error_page(error)
                raise
            except RequestValidationError as error:
                if wants_html(request):
                    fields = validation_fields(list(error.errors()))
                    message = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
                    return error_page(StudioError(message, reason="ValidationError", status=422))
                raise

        return route
