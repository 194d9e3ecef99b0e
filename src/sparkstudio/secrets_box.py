"""Secrets kept at rest (Git credentials): encrypted with the home's key.

The key is ``SPARKSTUDIO_HOME/secret.key`` (created on first use, readable by its owner
only); keep it with the database backups: without it the stored secrets are lost.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret.key"


@cache
def _box(home: Path) -> Fernet:
    path = home / KEY_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it a moment ago
            pass
        else:
            with os.fdopen(descriptor, "wb") as out:
                out.write(Fernet.generate_key())
    return Fernet(path.read_bytes().strip())


def encrypt(home: Path, plain: str) -> str:
    return _box(home).encrypt(plain.encode()).decode()


def decrypt(home: Path, token: str) -> str:
    try:
        return _box(home).decrypt(token.encode()).decode()
    except InvalidToken:
        raise RuntimeError(f"stored secret cannot be read with {home / KEY_FILE}") from None


def derived_key(home: Path, purpose: str) -> bytes:
    """A key for one purpose (signing Connect tokens, …), derived from the home's key:
    keys of different purposes are unrelated, and none of them is the key itself."""
    _box(home)  # makes the key file on first use
    secret = (home / KEY_FILE).read_bytes().strip()
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()
