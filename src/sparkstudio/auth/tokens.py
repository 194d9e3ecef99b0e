"""Bearer tokens: ``sst.<token-id>.<secret>``; the store keeps only a SHA-256 of the secret.

The secret carries 256 random bits, so a fast hash is enough (no need for a slow KDF);
the id makes lookup a primary-key read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "sst"


class TokenKind(StrEnum):
    SESSION = "SESSION"  # issued by a password login
    API = "API"  # a personal API token
    AWS_KEY = "AWS_KEY"  # an AWS access key pair for one studio (sparkstudio.auth.aws_keys)


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    secret_hash: str
    value: str  # shown to the user once, never stored


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(token_id: str) -> IssuedToken:
    secret = secrets.token_urlsafe(32)
    return IssuedToken(token_id, hash_secret(secret), f"{PREFIX}.{token_id}.{secret}")


def parse(value: str) -> tuple[str, str] | None:
    """Split a presented token into (token id, secret); None if it is not one of ours."""
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)
