"""How an OpenID Connect provider is configured (an item of ``SPARKSTUDIO_OIDC_PROVIDERS``)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from sparkstudio.schemas.common import NAME_PATTERN, NAME_RULE, TEXT_PATTERN

_NAME = re.compile(NAME_PATTERN)
# RFC 6749 section 3.3: a scope token is printable ASCII without space, '"' or '\'.
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,128}$")
_CLAIM = re.compile(r"^[\x21-\x7e]{1,128}$")


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OidcProvider(BaseModel):
    """One OpenID Connect provider users may sign in with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        description="Short name: in the provider's URLs and as the source of its directory "
        f"groups; {NAME_RULE}."
    )
    display_name: str = Field(
        default="",
        max_length=128,
        pattern=TEXT_PATTERN,
        description="Shown on the login page ('Sign in with …'); the name when empty.",
    )
    issuer: str = Field(
        max_length=1024,
        description="The issuer URL; discovery is read from "
        "<issuer>/.well-known/openid-configuration. https://, or http:// on a loopback host.",
    )
    client_id: str = Field(min_length=1, max_length=256, description="The client id.")
    client_secret: SecretStr = Field(
        min_length=1, max_length=1024, description="The client secret (sent with HTTP Basic)."
    )
    scopes: list[str] = Field(
        default=["openid", "profile", "email"],
        min_length=1,
        max_length=20,
        description="Scopes asked for; must include 'openid'.",
    )
    username_claim: str = Field(
        default="preferred_username",
        description="Claim whose value (lower-cased) names a user created at first login.",
    )
    groups_claim: str = Field(
        default="groups",
        description="Claim listing the user's groups, synchronised at every login; "
        "empty: groups are not synchronised.",
    )

    @property
    def label(self) -> str:
        return self.display_name or self.name

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"must be {NAME_RULE}")
        return value

    @field_validator("issuer")
    @classmethod
    def _check_issuer(cls, value: str) -> str:
        parts = urlsplit(value)
        secure = parts.scheme == "https" or (
            parts.scheme == "http" and is_loopback_host(parts.hostname or "")
        )
        if not secure or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(
                "must be an https:// URL without query or fragment "
                "(http:// only on a loopback host such as 127.0.0.1)"
            )
        return value

    @field_validator("scopes")
    @classmethod
    def _check_scopes(cls, value: list[str]) -> list[str]:
        for scope in value:
            if not _SCOPE.match(scope):
                raise ValueError(f"'{scope}' is not a scope: printable ASCII without spaces")
        if "openid" not in value:
            raise ValueError("must include 'openid'")
        return list(dict.fromkeys(value))

    @field_validator("username_claim")
    @classmethod
    def _check_username_claim(cls, value: str) -> str:
        if not _CLAIM.match(value):
            raise ValueError("must be a claim name: 1 to 128 printable ASCII characters")
        return value

    @field_validator("groups_claim")
    @classmethod
    def _check_groups_claim(cls, value: str) -> str:
        if value and not _CLAIM.match(value):
            raise ValueError("must be empty or a claim name: 1 to 128 printable ASCII characters")
        return value
