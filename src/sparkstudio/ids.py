"""Resource identifiers: a kind prefix and 16 base32 characters that sort by creation time."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """``<prefix>-`` + 8 chars of milliseconds (40 bits) + 8 random chars (40 bits).

    Time-ordered ids let list pages use the id as a keyset cursor.
    """
    millis = int(time.time() * 1000) & ((1 << 40) - 1)
    return f"{prefix}-{_encode(millis, 8)}{_encode(secrets.randbits(40), 8)}"


ID_PATTERN = r"^[a-z]{1,4}-[0-9a-hjkmnp-tv-z]{16}$"
