"""AWS access key pairs: what AWS SDKs sign requests with (SigV4), bound to one studio.

They look like AWS's own, so that SDKs and tools that check the shape accept them:

* the access key id is ``SSAK`` followed by 16 characters of the RFC 4648 base32
  alphabet (``A-Z``, ``2-7``): 20 characters, like AWS's ``AKIA…`` ids. It is no secret
  (it is in every request's ``Authorization`` header);
* the secret access key is 40 characters of the base64 alphabet (``A-Z a-z 0-9 + /``),
  240 random bits.

SigV4 proves knowledge of the secret without sending it, so the server needs the secret
itself: it is kept encrypted with the home's key (:mod:`sparkstudio.secrets_box`).
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from typing import Final

ACCESS_KEY_PREFIX: Final = "SSAK"
_ID_ALPHABET: Final = string.ascii_uppercase + "234567"
_SECRET_ALPHABET: Final = string.ascii_letters + string.digits + "+/"
ACCESS_KEY_ID_LENGTH: Final = 20
SECRET_ACCESS_KEY_LENGTH: Final = 40
ACCESS_KEY_ID: Final = re.compile(rf"{ACCESS_KEY_PREFIX}[A-Z2-7]{{16}}")


@dataclass(frozen=True)
class KeyPair:
    access_key_id: str
    secret_access_key: str  # shown to its owner once; stored only encrypted


def new_key_pair() -> KeyPair:
    suffix = "".join(
        secrets.choice(_ID_ALPHABET) for _ in range(ACCESS_KEY_ID_LENGTH - len(ACCESS_KEY_PREFIX))
    )
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_ACCESS_KEY_LENGTH))
    return KeyPair(ACCESS_KEY_PREFIX + suffix, secret)


def is_access_key_id(value: str) -> bool:
    """Whether ``value`` has the shape of one of our access key ids (saves a lookup)."""
    return ACCESS_KEY_ID.fullmatch(value) is not None
