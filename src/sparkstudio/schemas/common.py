"""Shared field types with their documented rules, and the page envelope."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from sparkstudio.errors import Invalid

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
NAME_RULE = "1 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"
USER_NAME_PATTERN = r"^[a-z][a-z0-9._-]{0,63}$"
USER_NAME_RULE = (
    "1 to 64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter"
)
# Free text: no control characters but tab and newline (they corrupt logs and terminals).
TEXT_PATTERN = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"
TEXT_RULE = "text without control characters"
TAG_KEY_PATTERN = r"^[\w.:/=+@ -]+$"
TAG_KEY_RULE = "1 to 128 letters, digits, spaces or any of _ . : / = + - @"
TAG_VALUE_PATTERN = r"^[\w.:/=+@ -]*$"
TAG_VALUE_RULE = "0 to 256 letters, digits, spaces or any of _ . : / = + - @"
STORAGE_RULE = "a 'file:///absolute/path' or 's3://bucket[/prefix]' URI"
STORAGE_PATTERN = r"^(file:///[\x21-\x7e]*|s3://[A-Za-z0-9.-]{3,63}(/[\x21-\x7e]*)?)$"
ID_RULE = "an id such as 'ws-01hx3k2m9qabcdef'"
ID_PATTERN = r"^[a-z]{1,4}-[0-9a-z]{16}$"
EMAIL_PATTERN = r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+$"
EMAIL_RULE = "an e-mail address: name@domain, without spaces or control characters"
# A path on this server to go to after a login: one leading '/', so never another host.
NEXT_PATH_PATTERN = r"^/([^/\\\x00-\x20\x7f][^\\\x00-\x20\x7f]*)?$"
NEXT_PATH_RULE = (
    "a path on this server starting with a single '/', without spaces, backslashes "
    "or control characters"
)

# Human rules for patterns, used to word validation errors.
PATTERN_RULES: dict[str, str] = {
    NAME_PATTERN: NAME_RULE,
    USER_NAME_PATTERN: USER_NAME_RULE,
    TEXT_PATTERN: TEXT_RULE,
    TAG_KEY_PATTERN: TAG_KEY_RULE,
    TAG_VALUE_PATTERN: TAG_VALUE_RULE,
    EMAIL_PATTERN: EMAIL_RULE,
    STORAGE_PATTERN: STORAGE_RULE,
    NEXT_PATH_PATTERN: NEXT_PATH_RULE,
}

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN), Field(description=NAME_RULE)]
UserName = Annotated[
    str, StringConstraints(pattern=USER_NAME_PATTERN), Field(description=USER_NAME_RULE)
]
Description = Annotated[
    str, StringConstraints(max_length=1024, pattern=TEXT_PATTERN), Field(description=TEXT_RULE)
]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=TAG_KEY_PATTERN)]
TagValue = Annotated[str, StringConstraints(max_length=256, pattern=TAG_VALUE_PATTERN)]
Tags = Annotated[
    dict[TagKey, TagValue],
    Field(max_length=50, description="Up to 50 tags; " + TAG_KEY_RULE + " per key."),
]


# Request booleans and numbers are not coerced: "yes" is not true, "5" is not 5.
Flag = Annotated[bool, Strict()]
Count = Annotated[int, Strict()]


class StrictModel(BaseModel):
    """Base of every request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class PublicModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class StatusReason(BaseModel):
    code: str
    message: str


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_token`` back to get the next one."""

    items: list[T]
    next_token: str | None = None


Limit = Annotated[int, Field(ge=1, le=1000, description="Page size, 1 to 1000.")]
PageToken = Annotated[
    str | None,
    Field(max_length=200, description="The next_token of the previous page."),
]


def encode_page_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_page_token(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        value = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = ""
    if not value or not value.isascii() or not value.replace("-", "").isalnum():
        raise Invalid.field("next_token", "not a page token this API issued")
    return value
