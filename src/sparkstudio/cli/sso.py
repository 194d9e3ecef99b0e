"""``sparkstudio login --sso``: sign in through the browser, the loopback way of RFC 8252.

The CLI listens on 127.0.0.1 on a free port and opens the browser at the control plane's
sign-in route with that port and the S256 challenge of a verifier it keeps. Once the
provider has signed the user in, the control plane sends the browser to the listener
with a one-time code, which the CLI exchanges, with its verifier, for a session token. A
code caught on the way is useless without the verifier, which never leaves the CLI.
"""

from __future__ import annotations

import secrets
import threading
import webbrowser
from collections.abc import Callable
from html import escape
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlencode, urlsplit

from sparkstudio.auth.oidc import s256
from sparkstudio.client import Client
from sparkstudio.errors import StudioError
from sparkstudio.schemas.sso import ProviderPublic
from sparkstudio.schemas.tokens import LoginResponse

WAIT_SECONDS = 300.0


class _Listener:
    """Answers the one GET /callback the browser is sent to, and keeps its query."""

    def __init__(self) -> None:
        self.answer: dict[str, str] = {}
        self.answered = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/callback" or listener.answered.is_set():
                    self.send_error(404)
                    return
                query = {key: values[0] for key, values in parse_qs(parts.query).items()}
                if "code" in query:
                    text = "You are signed in. You may close this tab and go back to the terminal."
                else:
                    text = f"Not signed in: {query.get('error_description', 'no code came back')}"
                body = f'<!doctype html><meta charset="utf-8"><p>{escape(text)}</p>'.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)
                listener.answer = query
                listener.answered.set()

            def log_message(self, format: str, *args: object) -> None:
                pass  # the terminal is the user's, not a log

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> _Listener:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, timeout: float) -> dict[str, str]:
        if not self.answered.wait(timeout):
            raise StudioError(
                f"the browser did not come back within {int(timeout)} seconds; "
                "run 'sparkstudio login --sso' again",
                reason="Timeout",
                status=0,
            )
        return self.answer


def choose_provider(offered: list[ProviderPublic], wanted: str | None, url: str) -> ProviderPublic:
    names = ", ".join(p.name for p in offered)
    if not offered:
        raise StudioError(
            f"the control plane at {url} has no single sign-on provider; log in with --user",
            reason="NoProvider",
            status=400,
        )
    if wanted is None:
        if len(offered) > 1:
            raise StudioError(
                f"this platform has several providers ({names}); choose one: --sso NAME",
                reason="ProviderRequired",
                status=400,
            )
        return offered[0]
    for provider in offered:
        if provider.name == wanted:
            return provider
    raise StudioError(
        f"no provider named '{wanted}' (providers: {names})", reason="NotFound", status=404
    )


def sign_in_with_browser(
    url: str,
    provider: str | None,
    *,
    say: Callable[[str], None],
    wait_seconds: float = WAIT_SECONDS,
) -> LoginResponse:
    """Sign in with ``provider`` (the only one when None) through the user's browser."""
    with Client(url) as anonymous:
        chosen = choose_provider(anonymous.sso_providers(), provider, url)
        verifier = secrets.token_urlsafe(48)
        with _Listener() as listener:
            query = urlencode({"cli_port": listener.port, "cli_challenge": s256(verifier)})
            login_url = f"{anonymous.url}{chosen.login_url}?{query}"
            say(
                f"Opening your browser to sign in with {chosen.display_name}. "
                f"If no browser opens, visit:\n  {login_url}"
            )
            webbrowser.open(login_url)
            answer = listener.wait(wait_seconds)
        if "code" not in answer:
            raise StudioError(
                answer.get("error_description", "the sign-in did not complete"),
                reason=answer.get("error", "SignInFailed"),
                status=401,
            )
        return anonymous.exchange_sso_code(answer["code"], verifier)
