"""Who is calling the workspace server: whoever the control plane's proxy says.

The proxy authenticates and authorizes the user, then forwards the request with the
server's secret and the user's name. Without the secret, a request is refused: the
server answers nobody else (its loopback port is reachable by other local users).
Browser protections (XSRF, WebSocket origin) are checked by the proxy, so requests
that carry the secret count as token-authenticated and skip jupyter's own checks.
"""

from __future__ import annotations

import contextvars
import hmac
import os
from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web

SECRET_ENV = "SPARKSTUDIO_WORKSPACE_SECRET"  # noqa: S105 (a variable name)
SECRET_HEADER = "X-Sparkstudio-Secret"  # noqa: S105 (a header name)
USER_HEADER = "X-Sparkstudio-User"

# The user of the request being handled: the kernel manager passes it to new kernels.
current_user_name: contextvars.ContextVar[str] = contextvars.ContextVar(
    "sparkstudio_user", default=""
)


class ControlPlaneIdentityProvider(IdentityProvider):
    """Trusts the user named by the proxy, and only when the secret is presented."""

    def get_user(self, handler: web.RequestHandler) -> User | None:
        secret = os.environ.get(SECRET_ENV, "")
        presented = handler.request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(presented.encode(), secret.encode()):
            return None
        name = handler.request.headers.get(USER_HEADER, "") or "unknown"
        handler._token_authenticated = True  # type: ignore[attr-defined]
        current_user_name.set(name)
        return User(username=name, name=name, display_name=name)

    def is_token_authenticated(self, handler: web.RequestHandler) -> bool:
        handler.current_user  # noqa: B018 (authenticates the request first)
        return bool(getattr(handler, "_token_authenticated", False))

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return False  # there is no login page: the control plane is the way in

    def validate_security(self, app: Any, ssl_options: dict[str, Any] | None = None) -> None:
        if not os.environ.get(SECRET_ENV):
            raise SystemExit(f"{SECRET_ENV} must be set: the server would trust nobody")
