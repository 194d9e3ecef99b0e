"""The console's CSRF token: bound to the browser's session, sent back in a header.

The session cookie is HttpOnly and SameSite=Strict; a request authenticated by it that
changes something must also carry ``X-CSRF-Token``, which only a page of the console
(served with the token) can know. The token is a one-way digest of the session token:
it reveals nothing of it, and it changes with every login.
"""

from __future__ import annotations

import hashlib
import hmac

CSRF_HEADER = "X-CSRF-Token"
_PURPOSE = b"sparkstudio console csrf\x00"


def csrf_token(session_token: str) -> str:
    return hashlib.sha256(_PURPOSE + session_token.encode()).hexdigest()


def csrf_matches(session_token: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(session_token), presented)
