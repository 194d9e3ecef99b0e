"""Short-lived per-user Spark Connect tokens, signed with the control plane's key.

A token reads ``ssc1.<payload>.<signature>``: the payload is compact JSON, the signature
HMAC-SHA256 over ``ssc1.<payload>``, both base64url without padding. Nothing in a token is
secret (anyone holding it can read the claims); it is unforgeable without the key.
Parsing is strict: anything that is not exactly what :func:`mint` writes is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any

PREFIX = "ssc1"
MIN_KEY_BYTES = 16
MAX_TOKEN_CHARS = 4096  # a real token is a few hundred characters; refuse to parse more
_SIGNATURE_BYTES = hashlib.sha256().digest_size
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_CLAIM_NAMES = frozenset({"sub", "uid", "rid", "exp"})


@dataclass(frozen=True)
class ConnectClaims:
    """Who a Spark Connect token speaks for, on which resource, until when."""

    subject: str  # the Spark Connect user_id the session gets (a user or platform principal)
    user_id: str | None  # the platform user's id (None for platform principals)
    resource_id: str  # the cluster or application id the token is good for
    expires_at: int  # unix seconds


class InvalidConnectToken(Exception):
    """A token that is malformed, forged, signed with another key or expired.

    The message says which, and is safe to show to the client.
    """


def mint(key: bytes, claims: ConnectClaims) -> str:
    _check_key(key)
    _check_claims(claims)
    payload = {
        "sub": claims.subject,
        "uid": claims.user_id,
        "rid": claims.resource_id,
        "exp": claims.expires_at,
    }
    encoded = _encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    signed = f"{PREFIX}.{encoded}"
    return f"{signed}.{_encode(_sign(key, signed))}"


def verify(key: bytes, token: str, *, now: float, check_expiry: bool = True) -> ConnectClaims:
    """The token's claims, if ``key`` signed them (and, with ``check_expiry``, not expired)."""
    _check_key(key)
    if not isinstance(token, str) or not token:
        raise InvalidConnectToken("empty Spark Connect token")
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidConnectToken("malformed Spark Connect token (too long)")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise InvalidConnectToken(f"malformed Spark Connect token (expected {PREFIX}.….…)")
    _, encoded_payload, encoded_signature = parts
    signature = _decode(encoded_signature, "signature")
    if len(signature) != _SIGNATURE_BYTES:
        raise InvalidConnectToken("malformed Spark Connect token (signature length)")
    expected = _sign(key, f"{PREFIX}.{encoded_payload}")
    # Compare before looking at the payload: nothing unauthenticated is parsed as JSON.
    if not hmac.compare_digest(signature, expected):
        raise InvalidConnectToken("Spark Connect token signature does not match")
    claims = _parse_claims(_decode(encoded_payload, "payload"))
    if check_expiry:
        ensure_unexpired(claims, now=now)
    return claims


def ensure_unexpired(claims: ConnectClaims, *, now: float) -> None:
    if claims.expires_at <= now:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(claims.expires_at))
        raise InvalidConnectToken(
            f"Spark Connect token expired at {when}; get a new connection URL and reconnect"
        )


def _check_key(key: bytes) -> None:
    # A programming error, not a client's: never reported as an invalid token.
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the signing key must be at least {MIN_KEY_BYTES} bytes")


def _check_claims(claims: ConnectClaims) -> None:
    if not isinstance(claims.subject, str) or not claims.subject:
        raise ValueError("subject must be a non-empty string")
    if not isinstance(claims.resource_id, str) or not claims.resource_id:
        raise ValueError("resource_id must be a non-empty string")
    if claims.user_id is not None and (not isinstance(claims.user_id, str) or not claims.user_id):
        raise ValueError("user_id must be None or a non-empty string")
    if type(claims.expires_at) is not int:
        raise ValueError("expires_at must be an int (unix seconds)")


def _sign(key: bytes, signed: str) -> bytes:
    return hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str, part: str) -> bytes:
    if not _BASE64URL.fullmatch(text):
        raise InvalidConnectToken(f"malformed Spark Connect token ({part} is not base64url)")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidConnectToken(f"malformed Spark Connect token ({part})") from None
    # One spelling per value: trailing bits that do not round-trip are refused.
    if _encode(data) != text:
        raise InvalidConnectToken(f"malformed Spark Connect token ({part} is not canonical)")
    return data


def _parse_claims(payload: bytes) -> ConnectClaims:
    # Reached only with a valid signature: a failure here means a minting bug or a key
    # shared with something that signs other payloads; refuse it all the same.
    try:
        document: Any = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidConnectToken("malformed Spark Connect token (payload)") from None
    if not isinstance(document, dict) or set(document) != _CLAIM_NAMES:
        raise InvalidConnectToken("malformed Spark Connect token (claims)")
    subject, user_id = document["sub"], document["uid"]
    resource_id, expires_at = document["rid"], document["exp"]
    claims = ConnectClaims(subject, user_id, resource_id, expires_at)
    try:
        _check_claims(claims)
    except ValueError as error:
        raise InvalidConnectToken(f"malformed Spark Connect token ({error})") from None
    return claims
