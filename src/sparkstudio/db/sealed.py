"""JSON columns that hold secrets (a cluster's Connect token, a workspace server's
secret), encrypted at rest with a key derived from the home's ``secret.key``.

A database dump or a stolen file holds no usable secret without the key. Rows written
before sealing existed are read as they are and sealed when next written.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import JSON
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.types import TypeDecorator

SEALED = "sealed"
_keys: dict[int, Fernet] = {}  # by dialect: one per engine, so per control plane
_lock = threading.Lock()


def use_key(engine: Engine, key: bytes) -> None:
    """Seal and open the columns of ``engine``'s database with ``key`` (32 bytes)."""
    with _lock:
        _keys[id(engine.dialect)] = Fernet(base64.urlsafe_b64encode(key))


def forget_key(engine: Engine) -> None:
    with _lock:
        _keys.pop(id(engine.dialect), None)


def _box(dialect: Dialect) -> Fernet:
    box = _keys.get(id(dialect))
    if box is None:
        raise RuntimeError("no key to seal secrets with: the database was opened without one")
    return box


class SealedJSON(TypeDecorator[Any]):
    """A JSON value stored as ``{"sealed": "<Fernet token>"}``."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        plain = json.dumps(value, separators=(",", ":"))
        return {SEALED: _box(dialect).encrypt(plain.encode()).decode()}

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, dict) and set(value) == {SEALED}:
            try:
                return json.loads(_box(dialect).decrypt(str(value[SEALED]).encode()))
            except InvalidToken:
                raise RuntimeError(
                    "a sealed column cannot be opened with this home's key"
                ) from None
        return value  # written before sealing: sealed at its next write
